// Training checkpoints in HDF5: bit-exact round trip, atomic writes, clear errors on damaged
// files, and the run directory's keep-last-K / newest-valid logic.
#include "common/error.h"
#include "tests/test_util.h"
#include "train/checkpoint_h5.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <hdf5.h>
#include <limits>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

using namespace slimtune;
using namespace slimtune::train;
namespace fs = std::filesystem;

namespace {

NamedArray array(const std::string& name, std::vector<std::int64_t> shape, std::uint64_t seed) {
    size_t n = 1;
    for (const auto d : shape)
        n *= static_cast<size_t>(d);
    return {name, std::move(shape), test::random_normal(n, seed)};
}

TrainCheckpoint sample_checkpoint(size_t large = 1 << 20) {
    TrainCheckpoint ck;
    ck.step = 1234;
    ck.optimizer_steps = 1230;
    ck.rng_state = {0xffffffffffffffffULL, 42, 0};
    ck.data_cursor = {3, -1, std::numeric_limits<std::int64_t>::min()};
    ck.recipe = "[model]\npath = /models/smol\n# naïve café ✓\n";
    ck.dataset_manifest_sha256 = "";
    ck.slimtune_version = "0.1.0";
    auto q = array("base_model.model.layers.0.self_attn.q_proj.lora_A.weight", {8, 64}, 1);
    // Values whose bits a careless conversion would change: NaN payloads (quiet and
    // signalling), -0, infinities, a denormal.
    const std::uint32_t bits[] = {0x7fc01234u, 0xffa00001u, 0x80000000u,
                                  0x7f800000u, 0xff800000u, 0x00000001u};
    for (size_t i = 0; i < std::size(bits); ++i)
        std::memcpy(&q.values[i], &bits[i], sizeof(float));
    ck.tensors.push_back(std::move(q));
    ck.tensors.push_back(array("a/b/../c.weight", {3, 5, 2}, 2)); // '/' and '.' in a name
    ck.tensors.push_back(array("empty", {0, 16}, 3));
    ck.tensors.push_back(array("scalar", {}, 4));
    ck.tensors.push_back(array("large", {static_cast<std::int64_t>(large)}, 5));
    ck.optimizer_state.push_back(array("exp_avg_sq/z", {4, 2}, 6)); // order is kept, not sorted
    ck.optimizer_state.push_back(array("exp_avg/a", {4, 2}, 7));
    ck.metrics = {{"loss", 2.3456789}, {"tokens_seen", 1e9}, {"lr", 3e-4}};
    return ck;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() &&
           (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void require_equal(const std::vector<NamedArray>& got, const std::vector<NamedArray>& want) {
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
        INFO(want[i].name);
        CHECK(got[i].name == want[i].name);
        CHECK(got[i].shape == want[i].shape);
        CHECK(same_bits(got[i].values, want[i].values));
    }
}

void require_equal(const TrainCheckpoint& got, const TrainCheckpoint& want) {
    CHECK(got.step == want.step);
    CHECK(got.optimizer_steps == want.optimizer_steps);
    CHECK(got.rng_state == want.rng_state);
    CHECK(got.data_cursor == want.data_cursor);
    CHECK(got.recipe == want.recipe);
    CHECK(got.dataset_manifest_sha256 == want.dataset_manifest_sha256);
    CHECK(got.slimtune_version == want.slimtune_version);
    REQUIRE(got.metrics.size() == want.metrics.size());
    for (const auto& [name, value] : want.metrics) {
        REQUIRE(got.metrics.count(name) == 1);
        CHECK(std::bit_cast<std::uint64_t>(got.metrics.at(name)) ==
              std::bit_cast<std::uint64_t>(value));
    }
    require_equal(got.tensors, want.tensors);
    require_equal(got.optimizer_state, want.optimizer_state);
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

bool has_temporaries(const fs::path& dir) {
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos)
            return true;
    return false;
}

// Reading `path` throws FormatError whose message names the file and contains `what`.
void require_format_error(const std::string& path, const std::string& what) {
    try {
        read_train_checkpoint(path);
        FAIL("no error for " + path);
    } catch (const FormatError& e) {
        const std::string msg = e.what();
        INFO(msg);
        CHECK(msg.rfind(path + ": ", 0) == 0);
        CHECK(msg.find(what) != std::string::npos);
    }
    CHECK(check_train_checkpoint(path) != "");
}

// HDF5 files, groups, datasets, attributes and named types open in this process. HDF5 closes
// them at exit, so LeakSanitizer would not see one that an error path left open.
ssize_t open_ids() {
    return H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
}

// Checks at scope exit that the test case left no HDF5 id open.
struct NoIdLeak {
    ssize_t before = open_ids();
    ~NoIdLeak() { CHECK(open_ids() == before); }
};

// Opens a written checkpoint read-write with the HDF5 C API to damage it on purpose.
struct H5Edit {
    hid_t file;
    explicit H5Edit(const std::string& path)
        : file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)) {
        REQUIRE(file >= 0);
    }
    ~H5Edit() { H5Fclose(file); }
    void set_int_attr(const char* name, std::int64_t v) {
        REQUIRE(H5Adelete(file, name) >= 0);
        const hid_t space = H5Screate(H5S_SCALAR);
        const hid_t attr = H5Acreate2(file, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
        REQUIRE(H5Awrite(attr, H5T_NATIVE_INT64, &v) >= 0);
        H5Aclose(attr);
        H5Sclose(space);
    }
};

} // namespace

TEST_CASE("checkpoint round trip is bit exact", "[ckpt]") {
    H5open();
    const NoIdLeak no_id_leak;
    test::TempDir dir("ckpt_rt");
    const TrainCheckpoint ck = sample_checkpoint();
    const std::string path = dir.file("ck.h5");
    write_train_checkpoint(path, ck);
    CHECK_FALSE(has_temporaries(dir.path));
    require_equal(read_train_checkpoint(path), ck);
    CHECK(check_train_checkpoint(path) == "");

    SECTION("empty fields and a recipe larger than an HDF5 object header (64 KiB)") {
        TrainCheckpoint small;
        small.recipe = std::string(200000, 'r') + "\n";
        write_train_checkpoint(path, small); // over the existing file
        require_equal(read_train_checkpoint(path), small);
    }
}

TEST_CASE("checkpoint writes are atomic", "[ckpt]") {
    H5open();
    const NoIdLeak no_id_leak;
    test::TempDir dir("ckpt_atomic");
    const TrainCheckpoint ck = sample_checkpoint(1000);

    SECTION("a directory that does not exist") {
        const std::string path = dir.file("missing/ck.h5");
        CHECK_THROWS_AS(write_train_checkpoint(path, ck), Error);
        CHECK_THROWS_WITH(write_train_checkpoint(path, ck), Catch::StartsWith(path + ": "));
        CHECK_FALSE(fs::exists(path));
    }
    SECTION("an unwritable directory") {
        const fs::path ro = dir.path / "ro";
        fs::create_directories(ro);
        ::chmod(ro.c_str(), 0555);
        if (::access(ro.c_str(), W_OK) == 0) { // root writes anyway: nothing to check
            ::chmod(ro.c_str(), 0755);
            SUCCEED("running as root; permissions are not enforced");
        } else {
            const std::string path = (ro / "ck.h5").string();
            CHECK_THROWS_AS(write_train_checkpoint(path, ck), Error);
            ::chmod(ro.c_str(), 0755);
            CHECK(fs::is_empty(ro));
        }
    }
    SECTION("a failure half way leaves the old file and no temporary") {
        const std::string path = dir.file("ck.h5");
        write_train_checkpoint(path, ck);
        const std::string before = read_bytes(path);
        TrainCheckpoint bad = sample_checkpoint(1000);
        bad.optimizer_state.back().values.pop_back(); // fails after the tensors were written
        CHECK_THROWS_WITH(write_train_checkpoint(path, bad),
                          Catch::Contains("exp_avg/a") && Catch::Contains("expected 8, got 7"));
        bad = sample_checkpoint(1000);
        bad.optimizer_state.push_back(bad.optimizer_state.front());
        CHECK_THROWS_WITH(write_train_checkpoint(path, bad), Catch::Contains("duplicate"));
        bad = sample_checkpoint(1000);
        bad.recipe += std::string(1, '\0');
        CHECK_THROWS_AS(write_train_checkpoint(path, bad), Error);
        CHECK(read_bytes(path) == before);
        CHECK_FALSE(has_temporaries(dir.path));
        require_equal(read_train_checkpoint(path), ck);
    }
}

TEST_CASE("damaged checkpoints give a FormatError naming the file", "[ckpt]") {
    H5open();
    const NoIdLeak no_id_leak;
    test::TempDir dir("ckpt_bad");
    const std::string good = dir.file("good.h5");
    write_train_checkpoint(good, sample_checkpoint(5000));
    const std::string bytes = read_bytes(good);

    SECTION("truncated") {
        for (const size_t keep : {bytes.size() - 1, bytes.size() / 2, size_t{600}, size_t{10}}) {
            const std::string path = dir.file("cut" + std::to_string(keep) + ".h5");
            write_bytes(path, bytes.substr(0, keep));
            require_format_error(path, "not a readable HDF5 file");
        }
        write_bytes(dir.file("zero.h5"), "");
        require_format_error(dir.file("zero.h5"), "not a readable HDF5 file");
    }
    SECTION("random bytes") {
        const auto noise = test::random_uniform(4096, 9, -1e30, 1e30);
        write_bytes(dir.file("noise.h5"),
                    std::string(reinterpret_cast<const char*>(noise.data()), 4096 * 4));
        require_format_error(dir.file("noise.h5"), "not a readable HDF5 file");
    }
    SECTION("missing group") {
        H5Ldelete(H5Edit(good).file, "tensors", H5P_DEFAULT);
        require_format_error(good, "missing group /tensors");
    }
    SECTION("missing array") {
        H5Ldelete(H5Edit(good).file, "optimizer/000001", H5P_DEFAULT);
        require_format_error(good, "/optimizer holds 1 arrays; expected its count 2");
    }
    SECTION("missing attribute") {
        H5Adelete(H5Edit(good).file, "optimizer_steps");
        require_format_error(good, "missing attribute 'optimizer_steps' on /");
    }
    SECTION("wrong format version") {
        H5Edit(good).set_int_attr("version", 2);
        require_format_error(good, "unsupported checkpoint version; expected 1, got 2");
    }
    SECTION("another HDF5 file") {
        H5Adelete(H5Edit(good).file, "format");
        require_format_error(good, "not a slimtune training checkpoint");
    }
    SECTION("a flipped bit in the values fails the checksum") {
        // HDF5 checksums its metadata, not contiguous data: only the checkpoint's own checksum
        // sees this (issue 23: a bit flip inside a checkpoint went undetected on resume).
        const std::vector<float> large = sample_checkpoint(5000).tensors[4].values;
        const std::string needle(reinterpret_cast<const char*>(&large[100]), 4 * sizeof(float));
        const size_t at = bytes.find(needle);
        REQUIRE(at != std::string::npos);
        std::string damaged = bytes;
        damaged[at + 1] = static_cast<char>(damaged[at + 1] ^ 0x10);
        const std::string path = dir.file("flipped.h5");
        write_bytes(path, damaged);
        require_format_error(path, "checksum mismatch");
        CHECK(check_train_checkpoint(path).find("checksum mismatch") != std::string::npos);
    }
    SECTION("a missing file is an Error, not a FormatError") {
        CHECK_THROWS_WITH(read_train_checkpoint(dir.file("nope.h5")),
                          Catch::StartsWith(dir.file("nope.h5")));
    }
}

TEST_CASE("a run directory keeps the last K checkpoints", "[ckpt]") {
    H5open();
    const NoIdLeak no_id_leak;
    test::TempDir dir("ckpt_run");
    const fs::path ckdir = dir.path / "checkpoints";
    CHECK_FALSE(latest_checkpoint(dir.str()));
    TrainCheckpoint ck = sample_checkpoint(100);
    for (const std::int64_t step : {10, 20, 30, 40, 50}) {
        ck.step = step;
        const std::string path = save_checkpoint_in_run(dir.str(), ck, 2);
        CHECK(path == (ckdir / ("step-" + std::to_string(step) + ".h5")).string());
    }
    const auto names = [&] {
        std::set<std::string> s;
        for (const auto& e : fs::directory_iterator(ckdir))
            s.insert(e.path().filename().string());
        return s;
    };
    CHECK(names() == std::set<std::string>{"step-40.h5", "step-50.h5"});
    CHECK(latest_checkpoint(dir.str()) == (ckdir / "step-50.h5").string());
    CHECK(read_train_checkpoint(*latest_checkpoint(dir.str())).step == 50);

    // A crashed write's leftover, files of other names and a corrupt newest file are passed
    // over; the corrupt one's reason is reported.
    write_bytes((ckdir / "step-90.h5.tmp.12345").string(), "partial");
    write_bytes((ckdir / "step-070.h5").string(), "not a step name");
    write_bytes((ckdir / "notes.txt").string(), "x");
    const std::string corrupt = (ckdir / "step-60.h5").string();
    write_bytes(corrupt, read_bytes((ckdir / "step-50.h5").string()).substr(0, 3000));
    std::vector<std::string> skipped;
    CHECK(latest_checkpoint(dir.str(), &skipped) == (ckdir / "step-50.h5").string());
    REQUIRE(skipped.size() == 1);
    CHECK(skipped[0].rfind(corrupt + ": ", 0) == 0);

    // An older step written after newer ones (a resume from an older checkpoint) is kept.
    ck.step = 45;
    save_checkpoint_in_run(dir.str(), ck, 2);
    CHECK(fs::exists(ckdir / "step-45.h5"));
    CHECK(fs::exists(ckdir / "step-60.h5"));
    CHECK_FALSE(fs::exists(ckdir / "step-50.h5"));
    CHECK(fs::exists(ckdir / "step-90.h5.tmp.12345"));

    // keep <= 0 keeps everything.
    ck.step = 100;
    save_checkpoint_in_run(dir.str(), ck, 0);
    CHECK(fs::exists(ckdir / "step-45.h5"));
    CHECK(latest_checkpoint(dir.str()) == (ckdir / "step-100.h5").string());
}
