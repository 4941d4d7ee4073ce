// CheckpointReader: model.safetensors and sharded sets (model.safetensors.index.json) written
// with write_safetensors, and a catalogue of broken indexes, each rejected with a one-line
// FormatError that names the index file.
#include "common/error.h"
#include "model/half.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "tests/test_util.h"

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <unistd.h>

using namespace slimtune;
using namespace slimtune::io;
using Catch::Contains;
namespace fs = std::filesystem;
using test::TempDir;

namespace {

template <class T> std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
    return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

void write_text(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

// The message of the FormatError that open() throws, or "(no error)". Any other exception
// escapes and fails the test.
std::string open_error(const fs::path& dir) {
    try {
        (void)CheckpointReader::open(dir.string());
    } catch (const FormatError& e) {
        return e.what();
    }
    return "(no error)";
}

// The tensors of the sharded set below: names and values chosen so each is recognisable.
const std::vector<float> kEmbed = slimtune::test::random_normal(6 * 4, 1);
const std::vector<float> kNorm = {1.0f, 0.5f, -2.0f, 4.0f};
const std::vector<double> kScale = {0.25, -1.5};
const std::vector<int64_t> kIds = {3, 1, 4, 1, 5};

std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
    std::vector<uint16_t> out;
    for (float x : v)
        out.push_back(f32_to_bf16(x));
    return out;
}

const std::vector<uint16_t> kHeadBf16 = to_bf16(slimtune::test::random_normal(4 * 6, 2));

// Three shards as transformers names them, plus the index:
//   model-00001-of-00003: embed (F32 6x4), norm (F32 4)
//   model-00002-of-00003: scale (F64 2), ids (I64 5)
//   model-00003-of-00003: lm_head (BF16 4x6), empty (F32 0x3)
// Total bytes: 96 + 16 + 16 + 40 + 48 + 0 = 216.
constexpr uint64_t kShardedTotal = 216;

void write_sharded_set(const fs::path& dir) {
    write_safetensors((dir / "model-00001-of-00003.safetensors").string(),
                      {{"model.embed_tokens.weight", DType::F32, {6, 4}, as_bytes(kEmbed)},
                       {"model.norm.weight", DType::F32, {4}, as_bytes(kNorm)}});
    write_safetensors((dir / "model-00002-of-00003.safetensors").string(),
                      {{"model.scale", DType::F64, {2}, as_bytes(kScale)},
                       {"model.ids", DType::I64, {5}, as_bytes(kIds)}});
    write_safetensors((dir / "model-00003-of-00003.safetensors").string(),
                      {{"lm_head.weight", DType::BF16, {4, 6}, as_bytes(kHeadBf16)},
                       {"model.empty", DType::F32, {0, 3}, {}}});
}

const char* kShardedIndex = R"({
  "metadata": {"total_size": 216},
  "weight_map": {
    "lm_head.weight": "model-00003-of-00003.safetensors",
    "model.embed_tokens.weight": "model-00001-of-00003.safetensors",
    "model.empty": "model-00003-of-00003.safetensors",
    "model.ids": "model-00002-of-00003.safetensors",
    "model.norm.weight": "model-00001-of-00003.safetensors",
    "model.scale": "model-00002-of-00003.safetensors"
  }
})";

// Two tiny shards for the rejection catalogue: a (F32 2x2) in s1, b (F32 3) in s2; 28 bytes.
void write_small_shards(const fs::path& dir) {
    const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7};
    write_safetensors((dir / "s1.safetensors").string(), {{"a", DType::F32, {2, 2}, as_bytes(a)}});
    write_safetensors((dir / "s2.safetensors").string(), {{"b", DType::F32, {3}, as_bytes(b)}});
}

std::string small_index(const std::string& weight_map, const std::string& metadata = "") {
    return "{" + (metadata.empty() ? "" : "\"metadata\": " + metadata + ", ") +
           "\"weight_map\": " + weight_map + "}";
}

const std::string kSmallMap = R"({"a": "s1.safetensors", "b": "s2.safetensors"})";

} // namespace

TEST_CASE("checkpoint: single model.safetensors", "[model][format]") {
    TempDir t("single");
    const std::vector<float> w = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
    const std::vector<uint16_t> h = {f32_to_f16(1.0f), f32_to_f16(-0.5f), f32_to_f16(65504.0f)};
    const std::vector<int32_t> ids = {7, 8};
    write_safetensors((t.path / "model.safetensors").string(),
                      {{"w", DType::F32, {2, 3}, as_bytes(w)},
                       {"h", DType::F16, {3}, as_bytes(h)},
                       {"ids", DType::I32, {2}, as_bytes(ids)}});
    const CheckpointReader r = CheckpointReader::open(t.str());

    CHECK(r.dir() == t.str());
    CHECK(r.names() == std::vector<std::string>{"h", "ids", "w"});
    CHECK(r.contains("w"));
    CHECK_FALSE(r.contains("x"));
    CHECK(r.entry("w").shape == std::vector<int64_t>{2, 3});
    CHECK(r.entry("h").dtype == DType::F16);
    CHECK(r.read_f32("w") == w);
    CHECK(r.read_f32("h") == std::vector<float>{1.0f, -0.5f, 65504.0f});
    const auto bytes = r.bytes("ids");
    REQUIRE(bytes.size() == 8);
    CHECK(std::memcmp(bytes.data(), ids.data(), 8) == 0);
    CHECK(r.file_of("w") == (t.path / "model.safetensors").string());
    CHECK(r.total_bytes() == 24 + 6 + 8);

    CHECK_THROWS_WITH(r.entry("x"), t.str() + ": no tensor 'x' in model.safetensors");
    CHECK_THROWS_AS(r.bytes("x"), FormatError);
    CHECK_THROWS_AS(r.file_of("x"), FormatError);
    CHECK_THROWS_AS(r.read_f32("x"), FormatError);
    CHECK_THROWS_AS(r.read_f32("ids"), FormatError); // I32 does not convert to float
    r.release("w");                                  // harmless, and the data is still there
    r.release("x");
    CHECK(r.read_f32("w") == w);
}

TEST_CASE("checkpoint: sharded set written with write_safetensors", "[model][format]") {
    TempDir t("sharded");
    write_sharded_set(t.path);
    write_text(t.path / "model.safetensors.index.json", kShardedIndex);
    CheckpointReader r = CheckpointReader::open(t.str());

    CHECK(r.names() == std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight",
                                                "model.empty", "model.ids", "model.norm.weight",
                                                "model.scale"});
    CHECK(r.total_bytes() == kShardedTotal);
    CHECK(r.read_f32("model.embed_tokens.weight") == kEmbed);
    CHECK(r.read_f32("model.norm.weight") == kNorm);
    CHECK(r.read_f32("model.scale") == std::vector<float>{0.25f, -1.5f});
    std::vector<float> head;
    for (uint16_t b : kHeadBf16)
        head.push_back(bf16_to_f32(b));
    CHECK(r.read_f32("lm_head.weight") == head);
    CHECK(r.read_f32("model.empty").empty());
    CHECK(r.entry("model.empty").shape == std::vector<int64_t>{0, 3});
    CHECK(r.entry("lm_head.weight").dtype == DType::BF16);
    const auto ids = r.bytes("model.ids");
    REQUIRE(ids.size() == kIds.size() * 8);
    CHECK(std::memcmp(ids.data(), kIds.data(), ids.size()) == 0);

    CHECK(r.file_of("model.norm.weight") == (t.path / "model-00001-of-00003.safetensors").string());
    CHECK(r.file_of("model.ids") == (t.path / "model-00002-of-00003.safetensors").string());
    CHECK(r.file_of("lm_head.weight") == (t.path / "model-00003-of-00003.safetensors").string());
    // Each shard is opened once: tensors of one shard share its SafetensorsFile (and its path).
    CHECK(&r.file_of("model.norm.weight") == &r.file_of("model.embed_tokens.weight"));
    CHECK(&r.file_of("model.norm.weight") != &r.file_of("model.ids"));

    CHECK_THROWS_WITH(r.entry("model.missing"),
                      t.str() + ": no tensor 'model.missing' in model.safetensors.index.json");

    SECTION("the reader outlives a move") {
        const CheckpointReader moved = std::move(r);
        CHECK(moved.read_f32("model.norm.weight") == kNorm);
        CHECK(moved.entry("model.ids").shape == std::vector<int64_t>{5});
    }
}

TEST_CASE("checkpoint: index variants that are accepted", "[model][format]") {
    TempDir t("variants");
    write_small_shards(t.path);
    const fs::path index = t.path / "model.safetensors.index.json";
    const std::vector<std::string> ok = {
        small_index(kSmallMap),                            // no metadata (mflux, some tools)
        small_index(kSmallMap, "{}"),                      // metadata without total_size
        small_index(kSmallMap, "null"),                    //
        small_index(kSmallMap, R"({"total_size": null})"), //
        small_index(kSmallMap, R"({"total_size": 28, "total_parameters": 7})"), // transformers
        small_index(R"({"b": "s2.safetensors", "a": "s1.safetensors"})", R"({"total_size": 28})"),
    };
    for (const std::string& text : ok) {
        INFO(text);
        write_text(index, text);
        const CheckpointReader r = CheckpointReader::open(t.str());
        CHECK(r.names() == std::vector<std::string>{"a", "b"});
        CHECK(r.total_bytes() == 28);
    }
}

TEST_CASE("checkpoint: the index wins over model.safetensors", "[model][format]") {
    TempDir t("both");
    write_small_shards(t.path);
    const std::vector<float> other = {9};
    write_safetensors((t.path / "model.safetensors").string(),
                      {{"other", DType::F32, {1}, as_bytes(other)}});
    write_text(t.path / "model.safetensors.index.json", small_index(kSmallMap));
    const CheckpointReader r = CheckpointReader::open(t.str());
    CHECK(r.names() == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(r.contains("other"));
}

TEST_CASE("checkpoint: a directory without weights", "[model][format]") {
    TempDir t("empty");
    CHECK(open_error(t.path) == t.str() + ": no model.safetensors or model.safetensors.index.json");
    CHECK(open_error(t.path / "no_such_dir") ==
          (t.path / "no_such_dir").string() +
              ": no model.safetensors or model.safetensors.index.json");
}

TEST_CASE("checkpoint: broken indexes are rejected naming the index", "[model][format]") {
    struct Case {
        const char* what;
        std::string index;                               // the index text
        std::vector<std::string> expected;               // substrings of the message
        std::function<void(const fs::path&)> tweak = {}; // changes to the shards, if any
    };
    const std::vector<Case> cases = {
        {"bad JSON", R"({"weight_map": {"a": "s1.safetensors",)", {"not valid JSON"}},
        {"NUL byte", small_index(kSmallMap) + std::string(1, '\0') + "junk", {"NUL byte"}},
        {"not an object", "[1, 2]", {"not a JSON object; got array"}},
        {"no weight_map", R"({"metadata": {"total_size": 28}})", {"no weight_map"}},
        {"weight_map an array",
         small_index(R"(["s1.safetensors"])"),
         {"weight_map is not an object; got array"}},
        {"weight_map null", small_index("null"), {"weight_map is not an object; got null"}},
        {"weight_map empty", small_index("{}"), {"weight_map is empty"}},
        {"shard name a number",
         small_index(R"({"a": 1, "b": "s2.safetensors"})"),
         {"weight_map['a'] is not a shard file name; got number"}},
        {"shard name null",
         small_index(R"({"a": "s1.safetensors", "b": null})"),
         {"weight_map['b'] is not a shard file name; got null"}},
        {"shard name with a slash",
         small_index(R"({"a": "sub/s1.safetensors", "b": "s2.safetensors"})"),
         {"'sub/s1.safetensors'", "plain file name"}},
        {"shard name going up",
         small_index(R"({"a": "../s1.safetensors", "b": "s2.safetensors"})"),
         {"'../s1.safetensors'", "plain file name"}},
        {"shard name '..'",
         small_index(R"({"a": "..", "b": "s2.safetensors"})"),
         {"'..'", "plain file name"}},
        {"absolute shard path",
         small_index(R"({"a": "/etc/passwd", "b": "s2.safetensors"})"),
         {"'/etc/passwd'", "plain file name"}},
        {"empty shard name",
         small_index(R"({"a": "", "b": "s2.safetensors"})"),
         {"''", "plain file name"}},
        {"missing shard",
         small_index(R"({"a": "s1.safetensors", "b": "s9.safetensors"})"),
         {"shard 's9.safetensors' (holding 'b') does not exist"}},
        {"tensor listed but not in its shard",
         small_index(R"({"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"})"),
         {"tensor 'c' is listed for shard 's2.safetensors' but the shard does not hold it"}},
        {"tensor in a shard but not listed",
         small_index(R"({"a": "s1.safetensors"})"),
         {"tensor 'b' of shard 's1.safetensors' is not listed in weight_map"},
         [](const fs::path& dir) {
             const std::vector<float> a = {1, 2, 3, 4}, b = {5};
             write_safetensors(
                 (dir / "s1.safetensors").string(),
                 {{"a", DType::F32, {2, 2}, as_bytes(a)}, {"b", DType::F32, {1}, as_bytes(b)}});
         }},
        {"tensor in two shards",
         small_index(kSmallMap),
         {"tensor 'a' is in two shards, 's1.safetensors' and 's2.safetensors'"},
         [](const fs::path& dir) {
             const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6, 7};
             write_safetensors(
                 (dir / "s2.safetensors").string(),
                 {{"a", DType::F32, {2, 2}, as_bytes(a)}, {"b", DType::F32, {3}, as_bytes(b)}});
         }},
        {"tensor listed for the wrong shard",
         small_index(R"({"a": "s2.safetensors", "b": "s2.safetensors", "c": "s1.safetensors"})"),
         {"weight_map puts tensor 'a' in 's2.safetensors' but it is in 's1.safetensors'"},
         [](const fs::path& dir) {
             const std::vector<float> a = {1, 2, 3, 4}, c = {8};
             write_safetensors(
                 (dir / "s1.safetensors").string(),
                 {{"a", DType::F32, {2, 2}, as_bytes(a)}, {"c", DType::F32, {1}, as_bytes(c)}});
         }},
        {"repeated tensor in weight_map",
         R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "a": "s2.safetensors"}})",
         {"duplicate key 'a'"}},
        {"total_size too big",
         small_index(kSmallMap, R"({"total_size": 100})"),
         {"metadata.total_size disagrees with the shards; expected 28", "got 100"}},
        {"total_size too small",
         small_index(kSmallMap, R"({"total_size": 27})"),
         {"expected 28", "got 27"}},
        {"total_size a string",
         small_index(kSmallMap, R"({"total_size": "28"})"),
         {"metadata.total_size is not a byte count; got string"}},
        {"total_size negative",
         small_index(kSmallMap, R"({"total_size": -28})"),
         {"metadata.total_size is not a byte count; got negative integer -28"}},
        {"total_size fractional",
         small_index(kSmallMap, R"({"total_size": 28.5})"),
         {"metadata.total_size is not a byte count; got non-integer number"}},
        {"metadata an array",
         small_index(kSmallMap, "[28]"),
         {"metadata is not an object; got array"}},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        TempDir t("bad");
        write_small_shards(t.path);
        if (c.tweak)
            c.tweak(t.path);
        const fs::path index = t.path / "model.safetensors.index.json";
        write_text(index, c.index);
        const std::string msg = open_error(t.path);
        CHECK_THAT(msg, Contains(index.string() + ": "));
        for (const std::string& part : c.expected)
            CHECK_THAT(msg, Contains(part));
        CHECK(msg.find('\n') == std::string::npos);
    }
}

TEST_CASE("checkpoint: a broken shard is reported by the shard's reader", "[model][format]") {
    TempDir t("badshard");
    write_small_shards(t.path);
    write_text(t.path / "model.safetensors.index.json", small_index(kSmallMap));
    fs::resize_file(t.path / "s2.safetensors", fs::file_size(t.path / "s2.safetensors") - 1);
    const std::string msg = open_error(t.path);
    CHECK_THAT(msg, Contains((t.path / "s2.safetensors").string() + ": "));
    CHECK(msg.find('\n') == std::string::npos);

    // A shard that is a directory cannot be mapped: still an Error, not a crash.
    fs::remove(t.path / "s2.safetensors");
    fs::create_directory(t.path / "s2.safetensors");
    CHECK_THROWS_AS(CheckpointReader::open(t.str()), Error);
}
