// GGUF container: typed values, the exact bytes of small files checked by hand, round trips of
// every value type and several tensor types, writer misuse, and a corruption catalogue (every
// truncation, byte flips, and one hand-made file per malformation). llama.cpp's own gguf API in
// libggml-base.so is the oracle: it reads our files with the same keys, types, values and
// offsets, and its writer's files are byte-identical to ours and read back identically.
#include "common/error.h"
#include "model/io/gguf.h"
#include "tests/ggml_oracle.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <unistd.h>

using namespace slimtune;
using namespace slimtune::io;
using slimtune::test::TempDir;

namespace {

using VT = GgufValueType;

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_all(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string hex_bytes(const std::string& hex) {
    std::string out;
    std::istringstream in(hex);
    for (std::string b; in >> b;)
        out.push_back(static_cast<char>(std::stoi(b, nullptr, 16)));
    return out;
}

// The raw element bytes of a numeric or bool value (what ggml's get_val_data/arr_data return).
std::string element_bytes(const GgufValue& v) {
    return std::visit(
        [](const auto& elems) -> std::string {
            using T = typename std::decay_t<decltype(elems)>::value_type;
            if constexpr (std::is_arithmetic_v<T>)
                return std::string(reinterpret_cast<const char*>(elems.data()),
                                   elems.size() * sizeof(T));
            else
                return "";
        },
        v.storage());
}

// Bytes of a tensor with a recognisable pattern.
std::vector<uint8_t> pattern(uint64_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (uint64_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

struct TensorSpec {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    std::vector<uint8_t> bytes;
};

// Tensors of several types and odd sizes (no trailing 1-dims, so ggml writes the same n_dims).
std::vector<TensorSpec> sample_tensors() {
    std::vector<TensorSpec> t = {
        {"f32.odd", {3}, 0, {}},           {"f16.matrix", {5, 3}, 1, {}},
        {"q8_0.weight", {64, 3}, 8, {}},   {"q4_K.weight", {256, 2}, 12, {}},
        {"bf16.vec", {7}, 30, {}},         {"q6_K.weight", {256}, 14, {}},
        {"q4_0.4d", {32, 2, 1, 2}, 2, {}}, {"q5_0.weight", {32, 5}, 6, {}},
    };
    for (size_t i = 0; i < t.size(); ++i)
        t[i].bytes = pattern(gguf_tensor_nbytes(t[i].type, t[i].ne), static_cast<uint8_t>(i));
    return t;
}

// Every scalar and array type llama.cpp's API can hold (no arrays of arrays).
std::vector<GgufKv> oracle_kvs() {
    return {
        {"general.architecture", GgufValue::str("llama")},
        {"t.u8", GgufValue::u8(250)},
        {"t.i8", GgufValue::i8(-128)},
        {"t.u16", GgufValue::u16(65535)},
        {"t.i16", GgufValue::i16(-32768)},
        {"llama.block_count", GgufValue::u32(4000000000u)},
        {"t.i32", GgufValue::i32(-7)},
        {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f)},
        {"t.f32_neg_zero", GgufValue::f32(-0.0f)},
        {"t.f32_inf", GgufValue::f32(std::numeric_limits<float>::infinity())},
        {"t.f32_denormal", GgufValue::f32(std::numeric_limits<float>::denorm_min())},
        {"tokenizer.ggml.add_bos_token", GgufValue::boolean(true)},
        {"t.false", GgufValue::boolean(false)},
        {"t.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max())},
        {"t.i64", GgufValue::i64(std::numeric_limits<int64_t>::min())},
        {"t.f64", GgufValue::f64(-1.0 / 3.0)},
        {"t.empty_str", GgufValue::str("")},
        {"t.utf8", GgufValue::str("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\xa6\x99")},
        {"t.long_str", GgufValue::str(std::string(1000, 'x'))},
        {"tokenizer.ggml.tokens", GgufValue::array_str({"<s>", "", "\xc4\xa0the", "\xe2\x96\x81"})},
        {"tokenizer.ggml.scores", GgufValue::array_f32({0.0f, -1.5f, 3.25f})},
        {"tokenizer.ggml.token_type", GgufValue::array_i32({1, 3, -2})},
        {"t.arr_u8", GgufValue::array_u8({0, 255, 7})},
        {"t.arr_i8", GgufValue::array_i8({-1, 2})},
        {"t.arr_u16", GgufValue::array_u16({1, 65535})},
        {"t.arr_i16", GgufValue::array_i16({-300})},
        {"t.arr_u32", GgufValue::array_u32({5, 4000000000u})},
        {"t.arr_bool", GgufValue::array_bool({true, false, true})},
        {"t.arr_u64", GgufValue::array_u64({1ull << 40})},
        {"t.arr_i64", GgufValue::array_i64({-(1ll << 40), 3})},
        {"t.arr_f64", GgufValue::array_f64({0.1, -2.5})},
        {"t.arr_empty", GgufValue::array_u32({})},
        {"t.arr_str_empty", GgufValue::array_str({})},
    };
}

void write_ours(const std::string& path,
                const std::vector<GgufKv>& kvs,
                const std::vector<TensorSpec>& tensors,
                uint32_t alignment = 32) {
    GgufWriter w(path, alignment);
    for (const GgufKv& kv : kvs)
        w.set(kv.key, kv.value);
    for (const TensorSpec& t : tensors)
        CHECK(w.add_tensor(t.name, t.ne, t.type) == t.bytes.size());
    for (const TensorSpec& t : tensors)
        w.write_tensor_data(t.name, t.bytes.data(), t.bytes.size());
    w.finish();
}

void check_read_back(const GgufFile& f,
                     const std::vector<GgufKv>& kvs,
                     const std::vector<TensorSpec>& tensors) {
    REQUIRE(f.metadata().size() == kvs.size());
    for (size_t i = 0; i < kvs.size(); ++i) {
        INFO(kvs[i].key);
        CHECK(f.metadata()[i].key == kvs[i].key);
        CHECK(f.metadata()[i].value == kvs[i].value);
    }
    REQUIRE(f.tensors().size() == tensors.size());
    uint64_t offset = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const GgufTensorInfo& t = f.tensors()[i];
        INFO(tensors[i].name);
        CHECK(t.name == tensors[i].name);
        CHECK(t.ne == tensors[i].ne);
        CHECK(t.type == tensors[i].type);
        CHECK(t.offset == offset);
        CHECK(t.nbytes == tensors[i].bytes.size());
        const auto data = f.tensor_data(t);
        CHECK(std::vector<uint8_t>(data.begin(), data.end()) == tensors[i].bytes);
        offset += (t.nbytes + f.alignment() - 1) / f.alignment() * f.alignment();
    }
    CHECK(f.data_offset() % f.alignment() == 0);
    if (!tensors.empty())
        CHECK(f.file_size() == f.data_offset() + offset);
}

void require_format_error(const std::string& path, const std::string& needle) {
    INFO(needle);
    try {
        GgufFile::open(path);
        FAIL("opened without a FormatError");
    } catch (const FormatError& e) {
        const std::string msg = e.what();
        INFO(msg);
        CHECK(msg.rfind(path + ": ", 0) == 0);
        CHECK(msg.find(needle) != std::string::npos);
    }
}

} // namespace

TEST_CASE("gguf: values keep their types and reject mismatches", "[gguf]") {
    CHECK(GgufValue::u32(7).type() == VT::UINT32);
    CHECK(GgufValue::u32(7).as_u32() == 7);
    CHECK_THROWS_AS(GgufValue::u32(7).as_u64(), FormatError);
    CHECK_THROWS_WITH(GgufValue::u64(7).as_u32(), "GGUF value has type UINT64, expected UINT32");
    CHECK(GgufValue::boolean(true).as_bool());
    CHECK_THROWS_AS(GgufValue::boolean(true).as_u8(), FormatError);
    const GgufValue tokens = GgufValue::array_str({"a", "b"});
    CHECK(tokens.type() == VT::ARRAY);
    CHECK(tokens.array_type() == VT::STRING);
    CHECK(tokens.size() == 2);
    CHECK(tokens.as_str_array()[1] == "b");
    CHECK_THROWS_WITH(tokens.as_str(), "GGUF value has type ARRAY of STRING, expected STRING");
    CHECK_THROWS_AS(GgufValue::str("x").array_type(), ConfigError);
    CHECK_THROWS_AS(GgufValue::array_arr({GgufValue::u8(1)}), ConfigError);
    CHECK_THROWS_AS(GgufValue::make(VT::UINT32, false, std::vector<uint64_t>{1}), ConfigError);
    CHECK_THROWS_AS(GgufValue::make(VT::BOOL, false, std::vector<uint8_t>{2}), ConfigError);
    CHECK_THROWS_AS(GgufValue::make(VT::UINT8, false, std::vector<uint8_t>{1, 2}), ConfigError);
    CHECK(GgufValue::u8(1) != GgufValue::boolean(true)); // same storage, different type
    CHECK(GgufValue::array_u8({1}) != GgufValue::u8(1));
    CHECK(gguf_value_type_name(static_cast<VT>(13)) == "type 13");
}

TEST_CASE("gguf: tensor byte sizes", "[gguf]") {
    using V = std::vector<int64_t>;
    CHECK(gguf_tensor_nbytes(0, V{3, 5}) == 60);
    CHECK(gguf_tensor_nbytes(0, V{}) == 4); // a scalar
    CHECK(gguf_tensor_nbytes(12, V{512, 3}) == 2 * 3 * 144);
    CHECK(gguf_tensor_nbytes(8, V{64, 1, 1, 3}) == 2 * 3 * 34);
    CHECK_THROWS_WITH(gguf_tensor_nbytes(8, V{33}),
                      "row length 33 is not a multiple of q8_0's block size 32");
    CHECK_THROWS_WITH(gguf_tensor_nbytes(4, V{32}), "unknown ggml tensor type 4");
    CHECK_THROWS_AS(gguf_tensor_nbytes(0, V{1, 1, 1, 1, 1}), ConfigError);
    CHECK_THROWS_AS(gguf_tensor_nbytes(0, V{4, 0}), ConfigError);
    CHECK_THROWS_AS(gguf_tensor_nbytes(0, V{1ll << 62, 4}), ConfigError);
    CHECK_THROWS_AS(gguf_tensor_nbytes(0, V{1ll << 61, 2}), ConfigError); // bytes overflow
    CHECK(gguf_type_layout(14)->name == "q6_K");
    CHECK(gguf_type_layout(31) == nullptr);
}

TEST_CASE("gguf: the bytes of a tiny file, by hand", "[gguf]") {
    TempDir dir("gguf_bytes");
    const std::string path = dir.file("tiny.gguf");
    {
        GgufWriter w(path);
        w.set("a.b", GgufValue::u32(7));
        CHECK(w.add_tensor("t", {2}, 0) == 8);
        const float data[2] = {1.0f, -2.0f};
        w.write_tensor_data("t", data, sizeof(data));
        w.finish();
    }
    const std::string want = hex_bytes(
        "47 47 55 46 03 00 00 00 01 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 "  // header
        "03 00 00 00 00 00 00 00 61 2e 62 04 00 00 00 07 00 00 00 "                 // a.b = u32 7
        "01 00 00 00 00 00 00 00 74 01 00 00 00 02 00 00 00 00 00 00 00 "           // "t", [2]
        "00 00 00 00 00 00 00 00 00 00 00 00 "                                      // f32, off 0
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "              // pad to 96
        "00 00 80 3f 00 00 00 c0 "                                                  // 1, -2
        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"); // pad to 128
    CHECK(read_all(path) == want);
    CHECK_FALSE(std::filesystem::exists(path + ".tmp." + std::to_string(::getpid())));

    // Metadata only: an array of arrays, a UTF-8 string, an empty string, a bool.
    const std::string meta = dir.file("meta.gguf");
    {
        GgufWriter w(meta);
        w.set("k", GgufValue::array_arr(
                       {GgufValue::array_u16({1, 0x0203}), GgufValue::array_str({"\xc3\xa9"})}));
        w.set("s", GgufValue::str(""));
        w.set("f", GgufValue::boolean(true));
        w.finish();
    }
    const std::string want_meta =
        hex_bytes("47 47 55 46 03 00 00 00 00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 "
                  "01 00 00 00 00 00 00 00 6b 09 00 00 00 09 00 00 00 02 00 00 00 00 00 00 00 "
                  "02 00 00 00 02 00 00 00 00 00 00 00 01 00 03 02 " // [u16 1, 0x0203]
                  "08 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 c3 a9 " // ["é"]
                  "01 00 00 00 00 00 00 00 73 08 00 00 00 00 00 00 00 00 00 00 00 "    // s = ""
                  "01 00 00 00 00 00 00 00 66 07 00 00 00 01 "                         // f = true
                  "00 00 00 00 00 00");                                                // pad to 128
    CHECK(read_all(meta) == want_meta);
    const GgufFile f = GgufFile::open(meta);
    CHECK(f.metadata()[0].value.as_arr_array()[0].as_u16_array()[1] == 0x0203);
    CHECK(f.data_offset() == 128);
}

TEST_CASE("gguf: every value type and several tensor types read back equal", "[gguf]") {
    TempDir dir("gguf_round_trip");
    auto kvs = oracle_kvs();
    kvs.push_back({"t.nul", GgufValue::str(std::string("a\0b", 3))});
    kvs.push_back({"t.nested",
                   GgufValue::array_arr(
                       {GgufValue::array_arr({GgufValue::array_i8({-1}), GgufValue::array_str({})}),
                        GgufValue::array_f32({}), GgufValue::array_bool({false})})});
    kvs.push_back({"t.arr_arr_empty", GgufValue::array_arr({})});
    const auto tensors = sample_tensors();
    for (uint32_t alignment : {32u, 64u, 1u}) {
        INFO("alignment " << alignment);
        const std::string path = dir.file("rt" + std::to_string(alignment) + ".gguf");
        write_ours(path, kvs, tensors, alignment);
        const GgufFile f = GgufFile::open(path);
        CHECK(f.version() == 3);
        CHECK(f.alignment() == alignment);
        auto want = kvs;
        if (alignment != 32) // the writer adds the key the reader needs
            want.push_back({"general.alignment", GgufValue::u32(alignment)});
        check_read_back(f, want, tensors);
        CHECK(f.at("llama.block_count", VT::UINT32).as_u32() == 4000000000u);
        CHECK(f.at_array("tokenizer.ggml.tokens", VT::STRING).as_str_array()[2] == "\xc4\xa0the");
        CHECK_THROWS_WITH(f.at("llama.block_count", VT::UINT64),
                          path + ": key 'llama.block_count' has type UINT32, expected UINT64");
        CHECK_THROWS_WITH(f.at("nope", VT::UINT32), path + ": missing key 'nope'");
        CHECK_THROWS_WITH(f.at_array("tokenizer.ggml.scores", VT::INT32),
                          path + ": key 'tokenizer.ggml.scores' has type ARRAY of FLOAT32, "
                                 "expected ARRAY of INT32");
        CHECK(f.find("t.u8")->as_u8() == 250);
        CHECK(f.find("absent") == nullptr);
        CHECK(f.find_tensor("q4_K.weight")->nbytes == 288);
        // Padding is zeros: the bytes between each tensor's end and the next offset.
        const std::string bytes = read_all(path);
        for (const GgufTensorInfo& t : f.tensors()) {
            const uint64_t end = f.data_offset() + t.offset + t.nbytes;
            const uint64_t padded = (end + alignment - 1) / alignment * alignment;
            CHECK(bytes.substr(end, padded - end) == std::string(padded - end, '\0'));
        }
    }
    // A moved-from file leaves its mapping to the new owner.
    GgufFile a = GgufFile::open(dir.file("rt32.gguf"));
    GgufFile b = std::move(a);
    CHECK(b.tensor_data(b.tensors()[0]).size() == 12);
    GgufTensorInfo foreign = b.tensors()[0];
    foreign.nbytes = 1 << 20;
    CHECK_THROWS_AS(b.tensor_data(foreign), ConfigError);
}

TEST_CASE("gguf: the writer rejects misuse and leaves no file behind", "[gguf]") {
    TempDir dir("gguf_writer");
    const std::string path = dir.file("w.gguf");
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    CHECK_THROWS_AS(GgufWriter(path, 48), ConfigError);
    CHECK_THROWS_AS(GgufWriter(path, 0), ConfigError);
    CHECK_THROWS_AS(GgufWriter(path, 1u << 21), ConfigError);
    CHECK_THROWS_AS(GgufWriter(dir.file("no/such/dir.gguf")), Error);
    {
        GgufWriter w(path, 64);
        CHECK(std::filesystem::exists(tmp));
        for (const std::string bad : {"", "A.b", "a..b", ".a", "a.", "a b", "a-b", "é"})
            CHECK_THROWS_AS(w.set(bad, GgufValue::u8(1)), ConfigError);
        CHECK_THROWS_AS(w.set(std::string(65536, 'a'), GgufValue::u8(1)), ConfigError);
        w.set(std::string(65535, 'a'), GgufValue::u8(1));
        w.set("general.base_model.0.name", GgufValue::str("x"));
        CHECK_THROWS_WITH(w.set("general.base_model.0.name", GgufValue::str("y")),
                          path + ": duplicate GGUF key 'general.base_model.0.name'");
        CHECK_THROWS_AS(w.set("general.alignment", GgufValue::u64(64)), ConfigError);
        CHECK_THROWS_AS(w.set("general.alignment", GgufValue::u32(32)), ConfigError);
        w.set("general.alignment", GgufValue::u32(64));
        CHECK_THROWS_AS(w.add_tensor("", {32}, 0), ConfigError);
        CHECK_THROWS_AS(w.add_tensor(std::string(64, 'n'), {32}, 0), ConfigError);
        CHECK(w.add_tensor(std::string(63, 'n'), {32}, 0) == 128);
        CHECK_THROWS_AS(w.add_tensor(std::string(63, 'n'), {32}, 0), ConfigError);
        CHECK_THROWS_WITH(w.add_tensor("q", {255}, 12),
                          path + ": tensor 'q': row length 255 is not a multiple of q4_K's "
                                 "block size 256");
        CHECK_THROWS_AS(w.add_tensor("q", {0}, 0), ConfigError);
        CHECK_THROWS_AS(w.add_tensor("q", {1, 1, 1, 1, 1}, 0), ConfigError);
        CHECK_THROWS_AS(w.add_tensor("q", {32}, 99), ConfigError);
        CHECK(w.add_tensor("second", {2}, 1) == 4);
        const std::vector<uint8_t> data(128, 1);
        CHECK_THROWS_AS(w.write_tensor_data("second", data.data(), 4), ConfigError); // order
        CHECK_THROWS_AS(w.write_tensor_data(std::string(63, 'n'), data.data(), 127), ConfigError);
        w.write_tensor_data(std::string(63, 'n'), data.data(), 128);
        CHECK_THROWS_AS(w.set("late.key", GgufValue::u8(1)), ConfigError);
        CHECK_THROWS_AS(w.add_tensor("late", {32}, 0), ConfigError);
        CHECK_THROWS_WITH(w.finish(),
                          path + ": tensor 'second' was declared but its data not written");
        w.write_tensor_data("second", data.data(), 4);
        CHECK_THROWS_AS(w.write_tensor_data("third", data.data(), 4), ConfigError);
    } // destroyed without finish()
    CHECK_FALSE(std::filesystem::exists(tmp));
    CHECK_FALSE(std::filesystem::exists(path));
    {
        GgufWriter w(path, 64);
        w.finish();
        CHECK_THROWS_AS(w.finish(), ConfigError);
        CHECK_THROWS_AS(w.set("a", GgufValue::u8(1)), ConfigError);
    }
    const GgufFile f = GgufFile::open(path); // only the alignment key the writer adds
    REQUIRE(f.metadata().size() == 1);
    CHECK(f.metadata()[0].key == "general.alignment");
    CHECK(f.metadata()[0].value == GgufValue::u32(64));
    CHECK(f.file_size() == 64);
}

namespace {

// Hand-made files for the corruption catalogue.
struct Bytes {
    std::string s;
    template <class T> Bytes& put(T v) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        s.append(b, sizeof(T));
        return *this;
    }
    Bytes& u32(uint32_t v) { return put(v); }
    Bytes& u64(uint64_t v) { return put(v); }
    Bytes& str(std::string_view v) {
        u64(v.size());
        s.append(v);
        return *this;
    }
    Bytes& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
    Bytes& tensor(std::string_view name, std::vector<int64_t> ne, uint32_t type, uint64_t off) {
        str(name).u32(static_cast<uint32_t>(ne.size()));
        for (int64_t d : ne)
            put(d);
        return u32(type).u64(off);
    }
};

Bytes header(uint64_t n_tensors, uint64_t n_kv) {
    Bytes b;
    b.s = "GGUF";
    return b.u32(3).u64(n_tensors).u64(n_kv);
}

// `meta` (header, kvs, tensor infos) padded to `alignment`, then `data_bytes` bytes.
std::string with_data(const Bytes& meta, uint64_t data_bytes, uint64_t alignment = 32) {
    std::string s = meta.s;
    s.append((alignment - s.size() % alignment) % alignment, '\0');
    return s + std::string(data_bytes, '\x11');
}

} // namespace

TEST_CASE("gguf: truncation anywhere and flipped bytes never crash", "[gguf]") {
    TempDir dir("gguf_trunc");
    const std::string good = dir.file("good.gguf");
    std::vector<GgufKv> kvs = {
        {"a.str", GgufValue::str("hello")},
        {"a.toks", GgufValue::array_str({"x", "yz"})},
        {"a.nest", GgufValue::array_arr({GgufValue::array_u16({1, 2})})},
        {"a.f", GgufValue::f32(0.5f)},
        {"a.b", GgufValue::boolean(true)},
    };
    std::vector<TensorSpec> tensors = {{"w", {32, 2}, 8, pattern(68, 1)},
                                       {"n", {5}, 0, pattern(20, 2)}};
    write_ours(good, kvs, tensors);
    const std::string bytes = read_all(good);
    const GgufFile f = GgufFile::open(good);
    const uint64_t data_end = f.data_offset() + f.tensors().back().offset + 20;
    REQUIRE(data_end < bytes.size()); // there is trailing padding
    const std::string cut = dir.file("cut.gguf");
    for (size_t n = 0; n < bytes.size(); ++n) {
        INFO("truncated to " << n << " bytes");
        write_all(cut, bytes.substr(0, n));
        if (n < data_end) {
            CHECK_THROWS_AS(GgufFile::open(cut), FormatError);
        } else { // only the last tensor's padding is missing: llama.cpp loads that too
            CHECK(GgufFile::open(cut).tensors().size() == 2);
        }
    }
    // Flipped bits anywhere: the file opens or is a FormatError, nothing else (the sanitizer
    // build checks there is no out-of-bounds read either). Magic and version flips all fail.
    size_t rejected = 0, rejected_magic_version = 0;
    for (size_t i = 0; i < bytes.size(); ++i)
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            std::string b = bytes;
            b[i] = static_cast<char>(b[i] ^ mask);
            write_all(cut, b);
            try {
                GgufFile::open(cut);
            } catch (const FormatError&) {
                ++rejected;
                rejected_magic_version += i < 8;
            }
        }
    CHECK(rejected_magic_version == 8 * 3);
    CHECK(rejected > bytes.size()); // most flips in the metadata are caught too
}

TEST_CASE("gguf: a catalogue of malformed files, each a FormatError naming the problem", "[gguf]") {
    TempDir dir("gguf_bad");
    const std::string path = dir.file("bad.gguf");
    const auto one_tensor = [](std::vector<int64_t> ne, uint32_t type, uint64_t off) {
        return header(1, 0).tensor("t", std::move(ne), type, off);
    };
    Bytes be = header(0, 0);
    be.s[4] = 0, be.s[7] = 3; // version 3 written big-endian
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GGUS" + header(0, 0).s.substr(4), "not a GGUF file: magic bytes 47 47 55 53"},
        {"GG", "truncated: magic"},
        {(Bytes{"GGUF"}.u32(1).u64(0).u64(0)).s, "GGUF version 1 is not supported"},
        {(Bytes{"GGUF"}.u32(2).u64(0).u64(0)).s, "GGUF version 2 is not supported"},
        {(Bytes{"GGUF"}.u32(4).u64(0).u64(0)).s, "GGUF version 4 is not supported"},
        {be.s, "(a big-endian file?)"},
        {header(0, 1ull << 62).s, "cannot hold them"},
        {header(1ull << 62, 0).s, "cannot hold them"},
        {header(0, 1).u64(1ull << 40).s + std::string(64, 'a'), "at most 65535 allowed"},
        {header(0, 1).u64(100).s + std::string(20, 'a'), "truncated: metadata pair 0 key"},
        {header(0, 1).str("").u32(4).u32(1).s, "metadata pair 0 has an empty key"},
        {header(0, 1).str("a").u32(13).u32(1).s, "key 'a' has unknown value type 13"},
        {header(0, 1).str("a").u32(9).u32(13).u64(1).u32(0).s,
         "key 'a': unknown array element type 13"},
        {header(0, 1).str("a").u32(9).u32(4).u64(1ull << 61).u32(0).s,
         "key 'a': array of 2305843009213693952 UINT32 elements cannot fit"},
        {header(0, 1).str("a").u32(9).u32(8).u64(3).str("x").s, "key 'a': array of 3 STRING"},
        {header(0, 1).str("a").u32(8).u64(~0ull).s, "truncated: key 'a' string at byte"},
        {header(0, 1).str("a").u32(7).put<uint8_t>(2).s, "bool at byte 37 is 2"},
        {header(0, 1)
             .str("a")
             .u32(9)
             .u32(7)
             .u64(3)
             .put<uint8_t>(0)
             .put<uint8_t>(1)
             .put<uint8_t>(5)
             .s,
         "expected 0 or 1"},
        {header(0, 2).kv_u32("a", 1).kv_u32("a", 2).s, "duplicate key 'a'"},
        {header(0, 1).str("general.alignment").u32(10).u64(64).s,
         "general.alignment has type UINT64; expected UINT32"},
        {header(0, 1).kv_u32("general.alignment", 48).s, "general.alignment 48 is not a power"},
        {header(0, 1).kv_u32("general.alignment", 0).s, "general.alignment 0 is not a power"},
        {header(0, 1).kv_u32("general.alignment", 1u << 21).s, "up to 1 MiB"},
        {header(1, 0).str(std::string(64, 'n')).s + std::string(32, 0),
         "tensor info 0 name has 64 bytes; at most 63"},
        {with_data(header(2, 0).tensor("t", {8}, 0, 0).tensor("t", {8}, 0, 32), 64),
         "duplicate tensor name 't'"},
        {header(1, 0).str("t").u32(5).s + std::string(48, 0), "tensor 't' has 5 dims"},
        {with_data(one_tensor({4, 0}, 0, 0), 32), "dims must be at least 1"},
        {with_data(one_tensor({-3}, 0, 0), 32), "dim 0 is -3"},
        {with_data(one_tensor({32}, 4, 0), 32), "unknown ggml tensor type 4"},
        {with_data(one_tensor({32}, 99, 0), 32), "unknown ggml tensor type 99"},
        {with_data(one_tensor({33}, 8, 0), 64), "not a multiple of q8_0's block size 32"},
        {with_data(one_tensor({1ll << 62, 4}, 0, 0), 32), "overflows int64"},
        {with_data(one_tensor({4}, 0, 8), 32), "offset 8 is not a multiple of the alignment 32"},
        {with_data(header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32), 96),
         "tensor 'b' at offset 32 overlaps the previous tensor, which ends at 64"},
        {with_data(one_tensor({4}, 0, 32), 64), "tensor 't' at offset 32 leaves a gap"},
        {with_data(one_tensor({16}, 0, 0), 63), "extends beyond the end of the file"},
        // The data section starts at the file's alignment (64), not at the default 32.
        {with_data(header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, 0, 0), 16),
         "16 bytes at file offset 128) extends beyond the end of the file (112 bytes)"},
        {header(1, 0).tensor("t", {16}, 0, 0).s.substr(0, 50), "truncated: tensor 't' offset"},
    };
    for (const auto& [bytes, needle] : cases) {
        write_all(path, bytes);
        require_format_error(path, needle);
    }
    // Arrays may nest 8 deep, not 9.
    for (int depth : {8, 9}) {
        Bytes b = header(0, 1).str("a").u32(9);
        for (int i = 1; i < depth; ++i)
            b.u32(9).u64(1);
        b.u32(0).u64(0);
        write_all(path, b.s);
        if (depth == 8)
            CHECK(GgufFile::open(path).metadata().size() == 1);
        else
            require_format_error(path, "arrays nested deeper than 8 levels");
    }
    CHECK_THROWS_AS(GgufFile::open(dir.file("missing.gguf")), Error);
}

namespace {

// The few llama.cpp C declarations the oracle tests call (ggml/include/gguf.h and ggml.h of
// the package's release; enums are passed as int).
struct GgufInitParams {
    bool no_alloc;
    void** ctx; // struct ggml_context **
};
struct GgmlInitParams {
    size_t mem_size;
    void* mem_buffer;
    bool no_alloc;
};

template <class F> F ggml_fn(const char* name) {
    return slimtune::test::llama_cpp_fn<F>("ggml-base", name);
}

// Function pointers into libggml-base.so; a gguf_context or ggml_context is a void* here.
struct Ggml {
    using C = const void*;
    void* (*init_from_file)(const char*, GgufInitParams) =
        ggml_fn<decltype(init_from_file)>("gguf_init_from_file");
    void (*free)(void*) = ggml_fn<decltype(free)>("gguf_free");
    uint32_t (*version)(C) = ggml_fn<decltype(version)>("gguf_get_version");
    size_t (*alignment)(C) = ggml_fn<decltype(alignment)>("gguf_get_alignment");
    size_t (*data_offset)(C) = ggml_fn<decltype(data_offset)>("gguf_get_data_offset");
    int64_t (*n_kv)(C) = ggml_fn<decltype(n_kv)>("gguf_get_n_kv");
    const char* (*key)(C, int64_t) = ggml_fn<decltype(key)>("gguf_get_key");
    int (*kv_type)(C, int64_t) = ggml_fn<decltype(kv_type)>("gguf_get_kv_type");
    int (*arr_type)(C, int64_t) = ggml_fn<decltype(arr_type)>("gguf_get_arr_type");
    size_t (*arr_n)(C, int64_t) = ggml_fn<decltype(arr_n)>("gguf_get_arr_n");
    const void* (*arr_data)(C, int64_t) = ggml_fn<decltype(arr_data)>("gguf_get_arr_data");
    const char* (*arr_str)(C, int64_t, size_t) = ggml_fn<decltype(arr_str)>("gguf_get_arr_str");
    const void* (*val_data)(C, int64_t) = ggml_fn<decltype(val_data)>("gguf_get_val_data");
    const char* (*val_str)(C, int64_t) = ggml_fn<decltype(val_str)>("gguf_get_val_str");
    uint32_t (*val_u32)(C, int64_t) = ggml_fn<decltype(val_u32)>("gguf_get_val_u32");
    float (*val_f32)(C, int64_t) = ggml_fn<decltype(val_f32)>("gguf_get_val_f32");
    bool (*val_bool)(C, int64_t) = ggml_fn<decltype(val_bool)>("gguf_get_val_bool");
    int64_t (*n_tensors)(C) = ggml_fn<decltype(n_tensors)>("gguf_get_n_tensors");
    const char* (*tensor_name)(C, int64_t) = ggml_fn<decltype(tensor_name)>("gguf_get_tensor_name");
    size_t (*tensor_offset)(C,
                            int64_t) = ggml_fn<decltype(tensor_offset)>("gguf_get_tensor_offset");
    int (*tensor_type)(C, int64_t) = ggml_fn<decltype(tensor_type)>("gguf_get_tensor_type");
    size_t (*tensor_size)(C, int64_t) = ggml_fn<decltype(tensor_size)>("gguf_get_tensor_size");
    const int64_t* (*tensor_ne)(C, int64_t) = ggml_fn<decltype(tensor_ne)>("gguf_get_tensor_ne");
    void* (*init_empty)() = ggml_fn<decltype(init_empty)>("gguf_init_empty");
    void (*set_arr_data)(void*, const char*, int, const void*, size_t) =
        ggml_fn<decltype(set_arr_data)>("gguf_set_arr_data");
    void (*set_arr_str)(void*,
                        const char*,
                        const char**,
                        size_t) = ggml_fn<decltype(set_arr_str)>("gguf_set_arr_str");
    void (*set_str)(void*,
                    const char*,
                    const char*) = ggml_fn<decltype(set_str)>("gguf_set_val_str");
    void (*add_tensor)(void*, C) = ggml_fn<decltype(add_tensor)>("gguf_add_tensor");
    void (*set_tensor_data)(void*,
                            const char*,
                            C) = ggml_fn<decltype(set_tensor_data)>("gguf_set_tensor_data");
    bool (*write_to_file)(C,
                          const char*,
                          bool) = ggml_fn<decltype(write_to_file)>("gguf_write_to_file");
    size_t (*meta_size)(C) = ggml_fn<decltype(meta_size)>("gguf_get_meta_size");
    void* (*ggml_init)(GgmlInitParams) = ggml_fn<decltype(ggml_init)>("ggml_init");
    void (*ggml_free)(void*) = ggml_fn<decltype(ggml_free)>("ggml_free");
    void* (*new_tensor)(void*,
                        int,
                        int,
                        const int64_t*) = ggml_fn<decltype(new_tensor)>("ggml_new_tensor");
    void* (*set_name)(void*, const char*) = ggml_fn<decltype(set_name)>("ggml_set_name");
    void* (*get_tensor)(void*, const char*) = ggml_fn<decltype(get_tensor)>("ggml_get_tensor");
    void* (*get_data)(C) = ggml_fn<decltype(get_data)>("ggml_get_data");
    size_t (*nbytes)(C) = ggml_fn<decltype(nbytes)>("ggml_nbytes");
    const char* (*type_name)(int) = ggml_fn<decltype(type_name)>("ggml_type_name");
    int64_t (*blck_size)(int) = ggml_fn<decltype(blck_size)>("ggml_blck_size");
    size_t (*type_size)(int) = ggml_fn<decltype(type_size)>("ggml_type_size");
};

// gguf_set_val_<T> of ggml's writer.
template <class T> void ggml_set(void* ctx, const char* setter, const std::string& key, T v) {
    ggml_fn<void (*)(void*, const char*, T)>(setter)(ctx, key.c_str(), v);
}

// Sets `kv` in a gguf_context through ggml's own typed setters.
void ggml_set_kv(const Ggml& g, void* ctx, const GgufKv& kv) {
    const GgufValue& v = kv.value;
    const char* key = kv.key.c_str();
    if (v.is_array() && v.array_type() == VT::STRING) {
        std::vector<const char*> ptrs;
        for (const std::string& s : v.as_str_array())
            ptrs.push_back(s.c_str());
        g.set_arr_str(ctx, key, ptrs.data(), ptrs.size());
        return;
    }
    if (v.is_array()) {
        const std::string b = element_bytes(v);
        g.set_arr_data(ctx, key, static_cast<int>(v.array_type()), b.data(), v.size());
        return;
    }
    switch (v.type()) {
    case VT::UINT8:
        return ggml_set(ctx, "gguf_set_val_u8", kv.key, v.as_u8());
    case VT::INT8:
        return ggml_set(ctx, "gguf_set_val_i8", kv.key, v.as_i8());
    case VT::UINT16:
        return ggml_set(ctx, "gguf_set_val_u16", kv.key, v.as_u16());
    case VT::INT16:
        return ggml_set(ctx, "gguf_set_val_i16", kv.key, v.as_i16());
    case VT::UINT32:
        return ggml_set(ctx, "gguf_set_val_u32", kv.key, v.as_u32());
    case VT::INT32:
        return ggml_set(ctx, "gguf_set_val_i32", kv.key, v.as_i32());
    case VT::FLOAT32:
        return ggml_set(ctx, "gguf_set_val_f32", kv.key, v.as_f32());
    case VT::BOOL:
        return ggml_set(ctx, "gguf_set_val_bool", kv.key, v.as_bool());
    case VT::STRING:
        return g.set_str(ctx, key, v.as_str().c_str());
    case VT::UINT64:
        return ggml_set(ctx, "gguf_set_val_u64", kv.key, v.as_u64());
    case VT::INT64:
        return ggml_set(ctx, "gguf_set_val_i64", kv.key, v.as_i64());
    case VT::FLOAT64:
        return ggml_set(ctx, "gguf_set_val_f64", kv.key, v.as_f64());
    case VT::ARRAY:
        break;
    }
    FAIL("unreachable value type");
}

// ggml's view of file `path` agrees with ours on every key, type, value and tensor, and holds
// the same tensor bytes.
void check_ggml_reads(const Ggml& g,
                      const std::string& path,
                      const std::vector<GgufKv>& kvs,
                      const std::vector<TensorSpec>& tensors) {
    const GgufFile ours = GgufFile::open(path);
    void* data_ctx = nullptr;
    void* ctx = g.init_from_file(path.c_str(), GgufInitParams{false, &data_ctx});
    REQUIRE(ctx != nullptr);
    CHECK(g.version(ctx) == 3);
    CHECK(g.alignment(ctx) == ours.alignment());
    CHECK(g.data_offset(ctx) == ours.data_offset());
    REQUIRE(g.n_kv(ctx) == static_cast<int64_t>(kvs.size()));
    for (int64_t i = 0; i < g.n_kv(ctx); ++i) {
        const GgufValue& v = kvs[static_cast<size_t>(i)].value;
        INFO(kvs[static_cast<size_t>(i)].key);
        CHECK(std::string(g.key(ctx, i)) == kvs[static_cast<size_t>(i)].key);
        REQUIRE(g.kv_type(ctx, i) == static_cast<int>(v.type()));
        if (v.is_array()) {
            REQUIRE(g.arr_type(ctx, i) == static_cast<int>(v.array_type()));
            REQUIRE(g.arr_n(ctx, i) == v.size());
            if (v.array_type() == VT::STRING) {
                for (size_t j = 0; j < v.size(); ++j)
                    CHECK(std::string(g.arr_str(ctx, i, j)) == v.as_str_array()[j]);
            } else if (v.size() > 0) {
                const std::string want = element_bytes(v);
                CHECK(std::memcmp(g.arr_data(ctx, i), want.data(), want.size()) == 0);
            }
        } else if (v.type() == VT::STRING) {
            CHECK(std::string(g.val_str(ctx, i)) == v.as_str());
        } else {
            const std::string want = element_bytes(v);
            CHECK(std::memcmp(g.val_data(ctx, i), want.data(), want.size()) == 0);
            if (v.type() == VT::UINT32)
                CHECK(g.val_u32(ctx, i) == v.as_u32());
            if (v.type() == VT::FLOAT32) {
                const float got = g.val_f32(ctx, i), want_f = v.as_f32();
                CHECK(std::memcmp(&got, &want_f, sizeof(float)) == 0);
            }
            if (v.type() == VT::BOOL)
                CHECK(g.val_bool(ctx, i) == v.as_bool());
        }
    }
    REQUIRE(g.n_tensors(ctx) == static_cast<int64_t>(tensors.size()));
    for (int64_t i = 0; i < g.n_tensors(ctx); ++i) {
        const TensorSpec& want = tensors[static_cast<size_t>(i)];
        const GgufTensorInfo& t = ours.tensors()[static_cast<size_t>(i)];
        INFO(want.name);
        CHECK(std::string(g.tensor_name(ctx, i)) == want.name);
        CHECK(g.tensor_type(ctx, i) == static_cast<int>(want.type));
        CHECK(g.tensor_offset(ctx, i) == t.offset);
        CHECK(g.tensor_size(ctx, i) == t.nbytes);
        const int64_t* ne = g.tensor_ne(ctx, i);
        for (size_t d = 0; d < 4; ++d)
            CHECK(ne[d] == (d < want.ne.size() ? want.ne[d] : 1));
        const void* tensor = g.get_tensor(data_ctx, want.name.c_str());
        REQUIRE(tensor != nullptr);
        REQUIRE(g.nbytes(tensor) == want.bytes.size());
        CHECK(std::memcmp(g.get_data(tensor), want.bytes.data(), want.bytes.size()) == 0);
    }
    g.ggml_free(data_ctx);
    g.free(ctx);
}

} // namespace

TEST_CASE("gguf: our type layouts are ggml's", "[gguf][oracle]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const Ggml g;
    int known = 0;
    for (uint32_t id = 0; id < 43; ++id) { // GGML_TYPE_COUNT of the package's release
        INFO("ggml type " << id);
        const GgufTypeLayout* ours = gguf_type_layout(id);
        const int64_t blck = g.blck_size(static_cast<int>(id));
        REQUIRE((ours != nullptr) == (blck != 0)); // removed types have block size 0
        if (!ours)
            continue;
        ++known;
        CHECK(ours->name == g.type_name(static_cast<int>(id)));
        CHECK(ours->block_elems == blck);
        CHECK(ours->block_bytes == g.type_size(static_cast<int>(id)));
    }
    CHECK(known == 35);
}

TEST_CASE("gguf: llama.cpp reads our files and writes the same bytes", "[gguf][oracle]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const Ggml g;
    TempDir dir("gguf_oracle");
    const auto kvs = oracle_kvs();
    const auto tensors = sample_tensors();
    const std::string ours = dir.file("ours.gguf");
    write_ours(ours, kvs, tensors);
    check_ggml_reads(g, ours, kvs, tensors);

    // Alignment 64: ggml finds general.alignment and the offsets it implies.
    const std::string ours64 = dir.file("ours64.gguf");
    write_ours(ours64, kvs, tensors, 64);
    auto kvs64 = kvs;
    kvs64.push_back({"general.alignment", GgufValue::u32(64)});
    check_ggml_reads(g, ours64, kvs64, tensors);

    // ggml's writer, given the same pairs and tensors in the same order.
    void* ctx = g.init_empty();
    for (const GgufKv& kv : kvs)
        ggml_set_kv(g, ctx, kv);
    void* tctx = g.ggml_init(GgmlInitParams{1 << 20, nullptr, true});
    REQUIRE(tctx != nullptr);
    for (const TensorSpec& t : tensors) {
        void* tensor = g.new_tensor(tctx, static_cast<int>(t.type), static_cast<int>(t.ne.size()),
                                    t.ne.data());
        g.set_name(tensor, t.name.c_str());
        g.add_tensor(ctx, tensor);
        g.set_tensor_data(ctx, t.name.c_str(), t.bytes.data());
    }
    const std::string theirs = dir.file("theirs.gguf");
    REQUIRE(g.write_to_file(ctx, theirs.c_str(), false));
    const GgufFile f = GgufFile::open(theirs);
    CHECK(f.data_offset() == g.meta_size(ctx));
    g.ggml_free(tctx);
    g.free(ctx);
    check_read_back(f, kvs, tensors);
    CHECK(read_all(theirs) == read_all(ours));
}
