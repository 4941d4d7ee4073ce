// Sharded checkpoints (model.safetensors.index.json) and .npy files: round trips and the
// rejections, each a one-line error naming the file.
#include "common/error.h"
#include "model/io/checkpoint.h"
#include "model/io/npy.h"
#include "tests/test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace slimtune;
using namespace slimtune::io;
using Catch::Contains;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    explicit TempDir(const std::string& name)
        : path(fs::temp_directory_path() /
               ("slimtune_" + name + "_" + std::to_string(::getpid()))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

// Two shards: a.weight (2x2 F32) in shard 1, b.weight (3 F32) in shard 2.
void write_shards(const fs::path& dir) {
    const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7};
    auto bytes = [](const std::vector<float>& v) {
        return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()),
                                        v.size() * sizeof(float));
    };
    write_safetensors((dir / "s1.safetensors").string(),
                      {{"a.weight", DType::F32, {2, 2}, bytes(a)}});
    write_safetensors((dir / "s2.safetensors").string(), {{"b.weight", DType::F32, {3}, bytes(b)}});
}

void write_index(const fs::path& dir, const std::string& json) {
    std::ofstream(dir / "model.safetensors.index.json") << json;
}

const char* kGoodIndex = R"({"metadata": {"total_size": 28},
  "weight_map": {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors"}})";

} // namespace

TEST_CASE("checkpoint: sharded index round trip", "[model][format]") {
    TempDir t("ckpt_ok");
    write_shards(t.path);
    write_index(t.path, kGoodIndex);
    const CheckpointReader r = CheckpointReader::open(t.path.string());
    CHECK(r.names() == std::vector<std::string>{"a.weight", "b.weight"});
    CHECK(r.read_f32("b.weight") == std::vector<float>{5, 6, 7});
    CHECK(r.entry("a.weight").shape == std::vector<int64_t>{2, 2});
    CHECK(r.total_bytes() == 28);
    CHECK(r.file_of("b.weight").find("s2.safetensors") != std::string::npos);
    CHECK_THROWS_WITH(r.entry("c.weight"), Contains("no tensor 'c.weight'"));
}

TEST_CASE("checkpoint: malformed indexes are rejected naming the index", "[model][format]") {
    TempDir t("ckpt_bad");
    write_shards(t.path);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{", "not valid JSON"},
        {R"({"weights": {}})", "weight_map"},
        {R"({"weight_map": {}})", "empty"},
        {R"({"weight_map": {"a.weight": 3}})", "must be a file name"},
        {R"({"weight_map": {"a.weight": "../s1.safetensors"}})", "plain file name"},
        {R"({"weight_map": {"a.weight": "s1.safetensors", "b.weight": "s9.safetensors"}})",
         "shard 's9.safetensors'"},
        {R"({"weight_map": {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors",
             "c.weight": "s2.safetensors"}})",
         "does not hold it"},
        {R"({"weight_map": {"a.weight": "s2.safetensors", "b.weight": "s2.safetensors"}})",
         "does not hold it"},
        {R"({"weight_map": {"b.weight": "s1.safetensors", "a.weight": "s1.safetensors"}})",
         "does not hold it"},
        {R"({"metadata": {"total_size": 99}, "weight_map": {"a.weight": "s1.safetensors",
             "b.weight": "s2.safetensors"}})",
         "total_size is 99"},
    };
    for (const auto& [json, want] : cases) {
        INFO(json);
        write_index(t.path, json);
        CHECK_THROWS_WITH(CheckpointReader::open(t.path.string()),
                          Contains("model.safetensors.index.json") && Contains(want));
    }
    // A shard file the index does not use is not part of the checkpoint.
    write_index(t.path, R"({"weight_map": {"a.weight": "s1.safetensors"}})");
    CHECK(CheckpointReader::open(t.path.string()).names() == std::vector<std::string>{"a.weight"});
    // A tensor of a used shard must be listed.
    write_shards(t.path);
    write_safetensors((t.path / "s1.safetensors").string(),
                      {{"a.weight",
                        DType::F32,
                        {1},
                        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("abcd"), 4)},
                       {"z.weight",
                        DType::F32,
                        {1},
                        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("abcd"), 4)}});
    CHECK_THROWS_WITH(CheckpointReader::open(t.path.string()),
                      Contains("'z.weight'") && Contains("not listed"));
    fs::remove(t.path / "model.safetensors.index.json");
    CHECK_THROWS_WITH(CheckpointReader::open(t.path.string()),
                      Contains("no model.safetensors or model.safetensors.index.json"));
}

TEST_CASE("npy: round trip, exact header, and numpy agrees", "[model][format]") {
    TempDir t("npy");
    const std::string path = (t.path / "a.npy").string();
    const std::vector<float> v = {1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, -7.0f};
    write_npy_f32(path, {2, 3}, v);
    const NpyArray a = read_npy_f32(path);
    CHECK(a.shape == std::vector<int64_t>{2, 3});
    CHECK(a.values == v);
    std::ifstream in(path, std::ios::binary);
    std::string head(128, '\0');
    in.read(head.data(), 128);
    CHECK(head.substr(0, 6) == "\x93NUMPY");
    CHECK(head[6] == 1);
    const size_t len = static_cast<unsigned char>(head[8]) | static_cast<unsigned char>(head[9])
                                                                 << 8;
    CHECK((10 + len) % 64 == 0);
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(head.substr(10, dict.size()) == dict);
    CHECK(head[10 + len - 1] == '\n');
    write_npy_f32((t.path / "b.npy").string(), {3}, std::vector<float>{1, 2, 3});
    CHECK(read_npy_f32((t.path / "b.npy").string()).shape == std::vector<int64_t>{3});
    CHECK_THROWS_AS(write_npy_f32(path, {4}, v), ShapeError);
    // An independent reader, when the system has NumPy.
    if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        const std::string cmd = "/usr/bin/python3 -c \"import numpy; a = numpy.load('" + path +
                                "'); assert a.shape == (2, 3) and a.dtype == numpy.float32 and "
                                "a[1, 2] == -7.0 and a[0, 2] == 3.25\"";
        CHECK(std::system(cmd.c_str()) == 0);
    } else {
        WARN("numpy not installed: skipped the independent read");
    }
    std::ofstream(t.path / "bad.npy") << "not numpy";
    CHECK_THROWS_WITH(read_npy_f32((t.path / "bad.npy").string()), Contains("bad magic"));
    std::ifstream whole(path, std::ios::binary);
    const std::string full((std::istreambuf_iterator<char>(whole)),
                           std::istreambuf_iterator<char>());
    std::ofstream(t.path / "short.npy", std::ios::binary) << full.substr(0, full.size() - 4);
    CHECK_THROWS_WITH(read_npy_f32((t.path / "short.npy").string()), Contains("expected 24"));
}
