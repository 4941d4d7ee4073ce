// Crash safety of outputs (issue 23): a multi-file output swapped in whole, the temporaries a
// killed writer leaves cleaned up, never a live writer's.
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace slimtune;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p) << text;
}

} // namespace

TEST_CASE("StagedDirectory: the new set appears whole, foreign files stay", "[common]") {
    test::TempDir tmp("staged");
    const fs::path out = tmp.path / "adapter";
    fs::create_directories(out / "sub");
    write(out / "adapter_config.json", "old config");
    write(out / "adapter_model.safetensors", "old weights");
    write(out / "notes.txt", "the user's");
    write(out / "sub" / "x", "kept");
    {
        StagedDirectory stage(out.string());
        write(stage.file("adapter_config.json"), "new config");
        write(stage.file("adapter_model.safetensors"), "new weights");
        // Until publish() the old set is untouched.
        CHECK(read_file(out / "adapter_config.json") == "old config");
        stage.publish();
    }
    CHECK(read_file(out / "adapter_config.json") == "new config");
    CHECK(read_file(out / "adapter_model.safetensors") == "new weights");
    CHECK(read_file(out / "notes.txt") == "the user's");
    CHECK(read_file(out / "sub" / "x") == "kept");
    CHECK_FALSE(fs::exists(out.string() + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("StagedDirectory: a writer that stops before publish() changes nothing", "[common]") {
    test::TempDir tmp("staged");
    const fs::path out = tmp.path / "model";
    fs::create_directories(out);
    write(out / "config.json", "old");
    {
        StagedDirectory stage(out.string());
        write(stage.file("config.json"), "new");
        write(stage.file("model.safetensors"), "new weights");
    } // an error before publish
    CHECK(read_file(out / "config.json") == "old");
    CHECK_FALSE(fs::exists(out / "model.safetensors"));
    // A directory that did not exist is created by publish().
    const fs::path fresh = tmp.path / "fresh";
    StagedDirectory stage(fresh.string());
    write(stage.file("a"), "1");
    stage.publish();
    CHECK(read_file(fresh / "a") == "1");
}

TEST_CASE("remove_stale_temporaries removes a dead writer's files, not a live one's", "[common]") {
    test::TempDir tmp("stale");
    // A pid that is certainly dead: a child that has exited and been reaped.
    const pid_t child = ::fork();
    if (child == 0)
        ::_exit(0);
    ::waitpid(child, nullptr, 0);
    const std::string dead = std::to_string(child), live = std::to_string(::getpid());
    write(tmp.path / ("metrics.jsonl.tmp." + dead), "partial");
    write(tmp.path / ("metrics.jsonl.tmp." + live), "being written");
    fs::create_directories(tmp.path / ("adapter.tmp." + dead));
    write(tmp.path / ("adapter.tmp." + dead) / "adapter_config.json", "partial");
    fs::create_directories(tmp.path / ("export.tmp." + dead) / "user_dir");
    write(tmp.path / "notes.tmp.txt", "not a temporary");
    const auto removed = remove_stale_temporaries(tmp.str());
    CHECK(removed == std::vector<std::string>{"adapter.tmp." + dead, "metrics.jsonl.tmp." + dead});
    CHECK(fs::exists(tmp.path / ("metrics.jsonl.tmp." + live)));
    CHECK(fs::exists(tmp.path / ("export.tmp." + dead))); // holds a directory: left for a person
    CHECK(fs::exists(tmp.path / "notes.tmp.txt"));
}
