// GGUF container: typed values, the exact bytes of small files checked by hand, round trips of
// every value type and several tensor types, writer misuse, and a corruption catalogue (every
// truncation, byte flips, and one hand-made file per malformation). llama.cpp's own gguf API in
// libggml-base.so is the oracle: it reads our files with the same keys, types, values and
// offsets, and its writer's files are byte-identical to ours and read back identically.
#include "common/error.h"
#include "model/io/gguf.h"
#include "tests/model/gguf_test_util.h"
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
using namespace slimtune::gguf_test;

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
