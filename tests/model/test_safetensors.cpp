// safetensors reader/writer: round trips for every dtype, header layout, metadata, the f16/bf16
// conversions (boundary-exhaustive), and a corruption catalogue of hand-made bytes in the
// spirit of llama.cpp's tests/test-gguf.cpp: every malformation must throw FormatError.
#include "common/error.h"
#include "common/rng.h"
#include "model/half.h"
#include "model/io/safetensors.h"

#include <bit>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace slimtune;
using namespace slimtune::io;

namespace {

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
struct TempDir {
    fs::path dir;

    TempDir() {
        static int counter = 0;
        const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
        dir = fs::temp_directory_path() /
              ("slimtune_test_safetensors_" + std::to_string(::getpid()) + "_" +
               std::to_string(ticks) + "_" + std::to_string(counter++));
        fs::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string file(const std::string& name) const { return (dir / name).string(); }
    size_t count() const {
        return static_cast<size_t>(std::distance(fs::directory_iterator(dir), {}));
    }
};

std::string u64le(uint64_t v) {
    std::string s(8, '\0');
    std::memcpy(s.data(), &v, 8);
    return s;
}

// A whole file: header length, header text, data.
std::string file_bytes(const std::string& header, const std::string& data) {
    return u64le(header.size()) + header + data;
}

void write_raw(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string read_raw(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

template <class T> std::string raw_of(const std::vector<T>& values) {
    std::string s(values.size() * sizeof(T), '\0');
    if (!values.empty())
        std::memcpy(s.data(), values.data(), s.size());
    return s;
}

std::span<const uint8_t> span_of(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The FormatError message that opening `path` produces ("" when it opens, so a check fails).
std::string open_error(const std::string& path) {
    try {
        SafetensorsFile::open(path);
    } catch (const FormatError& e) {
        return e.what();
    }
    return "";
}

constexpr DType kAllDTypes[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                                DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};

float f32_of_bits(uint32_t b) {
    return std::bit_cast<float>(b);
}
uint32_t bits_of_f32(float f) {
    return std::bit_cast<uint32_t>(f);
}

} // namespace

// ---------------------------------------------------------------------------------------------
// dtypes

TEST_CASE("safetensors: dtype names, sizes and parsing", "[model][format]") {
    const size_t sizes[] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
    const char* names[] = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"};
    for (size_t i = 0; i < std::size(kAllDTypes); ++i) {
        CHECK(dtype_size(kAllDTypes[i]) == sizes[i]);
        CHECK(std::string(dtype_name(kAllDTypes[i])) == names[i]);
        CHECK(parse_dtype(names[i]) == kAllDTypes[i]);
    }
    REQUIRE_THROWS_AS(parse_dtype("F33"), FormatError);
    REQUIRE_THROWS_AS(parse_dtype("f32"), FormatError);
    REQUIRE_THROWS_AS(parse_dtype("U16"), FormatError);
    REQUIRE_THROWS_AS(parse_dtype(""), FormatError);
}

TEST_CASE("safetensors: entry numel checks its shape", "[model][format]") {
    SafetensorsEntry e;
    CHECK(e.numel() == 1); // scalar
    e.shape = {2, 3, 4};
    CHECK(e.numel() == 24);
    e.shape = {5, 0, 7};
    CHECK(e.numel() == 0);
    e.shape = {2, -1};
    REQUIRE_THROWS_AS(e.numel(), ShapeError);
    e.shape = {0, -1};
    REQUIRE_THROWS_AS(e.numel(), ShapeError);
    e.shape = {int64_t{1} << 32, int64_t{1} << 32};
    REQUIRE_THROWS_AS(e.numel(), ShapeError);
}

// ---------------------------------------------------------------------------------------------
// round trips

TEST_CASE("safetensors: write then read gives identical bytes for every dtype", "[model][format]") {
    const DType dtype = GENERATE(from_range(std::begin(kAllDTypes), std::end(kAllDTypes)));
    CAPTURE(dtype_name(dtype));
    TempDir tmp;
    const std::string path = tmp.file("rt.safetensors");

    // Shapes include a scalar and empty tensors; names are not in sorted order, so the test
    // sees that the given order is kept.
    const std::vector<std::pair<std::string, std::vector<int64_t>>> specs = {
        {"z.weight", {2, 3}}, {"scalar", {}},        {"empty", {0}},
        {"a.bias", {5}},      {"empty2", {3, 0, 2}}, {"m", {2, 1, 3}},
    };
    Rng rng(static_cast<uint64_t>(dtype) + 1);
    std::vector<std::string> payloads;
    for (const auto& [name, shape] : specs) {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        std::string bytes(static_cast<size_t>(n) * dtype_size(dtype), '\0');
        for (char& c : bytes)
            c = static_cast<char>(rng.next_u64() & 0xff);
        if (dtype == DType::BOOL)
            for (char& c : bytes)
                c = static_cast<char>(c & 1);
        payloads.push_back(std::move(bytes));
    }
    std::vector<SafetensorsTensor> tensors;
    for (size_t i = 0; i < specs.size(); ++i)
        tensors.push_back({specs[i].first, dtype, specs[i].second, span_of(payloads[i])});
    write_safetensors(path, tensors);

    // Raw layout: header length, header padded with spaces to make 8 + N a multiple of 8, then
    // the payloads back to back in the given order.
    const std::string raw = read_raw(path);
    REQUIRE(raw.size() >= 8);
    uint64_t n = 0;
    std::memcpy(&n, raw.data(), 8);
    REQUIRE((8 + n) % 8 == 0);
    REQUIRE(8 + n <= raw.size());
    const std::string header = raw.substr(8, n);
    REQUIRE(header.front() == '{');
    const size_t close = header.find_last_of('}');
    REQUIRE(close != std::string::npos);
    CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);
    CHECK(header.size() - close - 1 < 8);
    CHECK(header.rfind(R"({"__metadata__":{"format":"pt"},"z.weight":)", 0) == 0);
    std::string expected_data;
    for (const std::string& p : payloads)
        expected_data += p;
    CHECK(raw.substr(8 + n) == expected_data);

    const SafetensorsFile file = SafetensorsFile::open(path);
    CHECK(file.path() == path);
    REQUIRE(file.entries().size() == specs.size());
    CHECK(file.metadata() == std::map<std::string, std::string>{{"format", "pt"}});
    uint64_t offset = 0;
    for (size_t i = 0; i < specs.size(); ++i) {
        const SafetensorsEntry& e = file.at(specs[i].first);
        CAPTURE(e.name);
        CHECK(e.dtype == dtype);
        CHECK(e.shape == specs[i].second);
        CHECK(e.begin == offset);
        CHECK(e.end == offset + payloads[i].size());
        offset = e.end;
        const auto bytes = file.bytes(e);
        CHECK(std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()) ==
              payloads[i]);
    }
    // entries() is in data-offset order; zero-size tensors at the same offset sort by name.
    for (size_t i = 1; i < file.entries().size(); ++i)
        CHECK(file.entries()[i - 1].begin <= file.entries()[i].begin);

    // Writing what was read reproduces the file byte for byte.
    std::vector<SafetensorsTensor> again;
    for (const auto& [name, shape] : specs) {
        const SafetensorsEntry& e = file.at(name);
        again.push_back({e.name, e.dtype, e.shape, file.bytes(e)});
    }
    const std::string path2 = tmp.file("rt2.safetensors");
    write_safetensors(path2, again, file.metadata());
    CHECK(read_raw(path2) == raw);
}

TEST_CASE("safetensors: writer output matches the expected bytes exactly", "[model][format]") {
    TempDir tmp;
    const std::string path = tmp.file("exact.safetensors");
    const std::vector<float> w = {1.0f, -2.5f};
    const std::string w_raw = raw_of(w);
    write_safetensors(path, {{"w", DType::F32, {2}, span_of(w_raw)}});
    std::string header =
        R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    CHECK(read_raw(path) == file_bytes(header, w_raw));
}

TEST_CASE("safetensors: typed reads convert values", "[model][format]") {
    TempDir tmp;
    const std::string path = tmp.file("typed.safetensors");
    const std::vector<double> f64 = {1.0 / 3.0, -1e300, 0.0};
    const std::vector<float> f32 = {0.1f, -3.0f, std::numeric_limits<float>::infinity()};
    const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x0001};  // 1, -2, 2^-24
    const std::vector<uint16_t> bf16 = {0x3f80, 0x4049, 0xff80}; // 1, 3.140625, -inf
    const std::vector<int64_t> i64 = {std::numeric_limits<int64_t>::min(), 7};
    const std::vector<int32_t> i32 = {-5, 2147483647};
    const std::vector<int16_t> i16 = {-32768, 12};
    const std::vector<int8_t> i8 = {-128, 127};
    const std::vector<uint8_t> u8 = {0, 255};
    const std::vector<uint8_t> boolean = {0, 1, 2}; // a non-zero byte reads as true
    const std::string raws[] = {raw_of(f64), raw_of(f32),    raw_of(f16), raw_of(bf16),
                                raw_of(i64), raw_of(i32),    raw_of(i16), raw_of(i8),
                                raw_of(u8),  raw_of(boolean)};
    write_safetensors(path, {
                                {"f64", DType::F64, {3}, span_of(raws[0])},
                                {"f32", DType::F32, {3}, span_of(raws[1])},
                                {"f16", DType::F16, {3}, span_of(raws[2])},
                                {"bf16", DType::BF16, {3}, span_of(raws[3])},
                                {"i64", DType::I64, {2}, span_of(raws[4])},
                                {"i32", DType::I32, {2}, span_of(raws[5])},
                                {"i16", DType::I16, {1, 2}, span_of(raws[6])},
                                {"i8", DType::I8, {2}, span_of(raws[7])},
                                {"u8", DType::U8, {2, 1}, span_of(raws[8])},
                                {"bool", DType::BOOL, {3}, span_of(raws[9])},
                            });
    const SafetensorsFile file = SafetensorsFile::open(path);

    CHECK(file.read_f64("f64") == f64);
    CHECK(file.read_f32("f64") == std::vector<float>{static_cast<float>(1.0 / 3.0),
                                                     -std::numeric_limits<float>::infinity(),
                                                     0.0f});
    CHECK(file.read_f32("f32") == f32);
    CHECK(file.read_f64("f32") == std::vector<double>{static_cast<double>(0.1f), -3.0,
                                                      std::numeric_limits<double>::infinity()});
    CHECK(file.read_f32("f16") == std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24)});
    CHECK(file.read_f64("f16") == std::vector<double>{1.0, -2.0, std::ldexp(1.0, -24)});
    CHECK(file.read_f32("bf16") ==
          std::vector<float>{1.0f, 3.140625f, -std::numeric_limits<float>::infinity()});
    CHECK(file.read_f64("bf16")[1] == 3.140625);
    CHECK(file.read_i64("i64") == i64);
    CHECK(file.read_i64("i32") == std::vector<int64_t>{-5, 2147483647});
    CHECK(file.read_i64("i16") == std::vector<int64_t>{-32768, 12});
    CHECK(file.read_i64("i8") == std::vector<int64_t>{-128, 127});
    CHECK(file.read_i64("u8") == std::vector<int64_t>{0, 255});
    CHECK(file.read_i64("bool") == std::vector<int64_t>{0, 1, 1});

    // Reads of the wrong kind name the file and the tensor.
    REQUIRE_THROWS_AS(file.read_f32("i32"), FormatError);
    REQUIRE_THROWS_AS(file.read_f32("bool"), FormatError);
    REQUIRE_THROWS_AS(file.read_f64("u8"), FormatError);
    REQUIRE_THROWS_AS(file.read_i64("f32"), FormatError);
    REQUIRE_THROWS_AS(file.read_i64("bf16"), FormatError);
    REQUIRE_THROWS_WITH(file.read_f32("i64"), Catch::Contains(path) && Catch::Contains("'i64'"));

    CHECK(file.find("nope") == nullptr);
    CHECK(file.find("u8") == &file.at("u8"));
    REQUIRE_THROWS_AS(file.at("nope"), FormatError);
    REQUIRE_THROWS_WITH(file.at("nope"), path + ": no tensor 'nope'");
    REQUIRE_THROWS_AS(file.read_f32("nope"), FormatError);
}

TEST_CASE("safetensors: metadata round trip", "[model][format]") {
    TempDir tmp;
    const std::string path = tmp.file("meta.safetensors");
    const std::vector<uint8_t> one = {1};

    SECTION("caller keys are kept and format defaults to pt") {
        const std::map<std::string, std::string> meta = {
            {"generator", "gen_ops.py"},
            {"seed", "42"},
            {"quote\"and\\slash", "line\nbreak"},
            {"unicode", "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93"},
            {"", "empty key"},
        };
        write_safetensors(path, {{"x", DType::U8, {1}, one}}, meta);
        auto expected = meta;
        expected["format"] = "pt";
        CHECK(SafetensorsFile::open(path).metadata() == expected);
    }
    SECTION("a caller-given format is kept") {
        write_safetensors(path, {{"x", DType::U8, {1}, one}}, {{"format", "mlx"}});
        CHECK(SafetensorsFile::open(path).metadata() ==
              std::map<std::string, std::string>{{"format", "mlx"}});
    }
    SECTION("no tensors at all") {
        write_safetensors(path, {});
        const SafetensorsFile file = SafetensorsFile::open(path);
        CHECK(file.entries().empty());
        CHECK(file.metadata().at("format") == "pt");
        CHECK(read_raw(path).size() % 8 == 0);
    }
}

TEST_CASE("safetensors: reads hand-made files the reference implementation accepts",
          "[model][format]") {
    TempDir tmp;
    const std::string path = tmp.file("hand.safetensors");

    SECTION("odd header length, so the data is unaligned; no __metadata__") {
        // 2 x F32 then 1 x F64: with N odd neither tensor starts on its natural alignment.
        const std::string header = R"({ "b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
                                   R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        REQUIRE(header.size() % 2 == 1);
        const std::string data =
            raw_of(std::vector<float>{1.5f, -2.0f}) + raw_of(std::vector<double>{0.25});
        write_raw(path, file_bytes(header, data));
        const SafetensorsFile file = SafetensorsFile::open(path);
        CHECK(file.metadata().empty());
        REQUIRE(file.entries().size() == 2);
        CHECK(file.entries()[0].name == "a"); // data-offset order, not header order
        CHECK(file.entries()[1].name == "b");
        CHECK(file.read_f32("a") == std::vector<float>{1.5f, -2.0f});
        CHECK(file.read_f64("b") == std::vector<double>{0.25});
    }
    SECTION("whitespace inside the JSON, space padding, unknown entry keys ignored") {
        std::string header = "{ \"t\" :\n\t{\"shape\": [ ], \"dtype\": \"I32\", \"data_offsets\""
                             ": [0, 4], \"extra\": {\"x\": [1]}},\r\n \"__metadata__\": {} }";
        header.append(13, ' ');
        write_raw(path, file_bytes(header, raw_of(std::vector<int32_t>{-9})));
        const SafetensorsFile file = SafetensorsFile::open(path);
        CHECK(file.at("t").shape.empty());
        CHECK(file.read_i64("t") == std::vector<int64_t>{-9});
    }
    SECTION("empty tensors and an empty data section") {
        const std::string header = R"({"e":{"dtype":"F16","shape":[0,4],"data_offsets":[0,0]},)"
                                   R"("f":{"dtype":"BF16","shape":[3,0],"data_offsets":[0,0]}})";
        write_raw(path, file_bytes(header, ""));
        const SafetensorsFile file = SafetensorsFile::open(path);
        REQUIRE(file.entries().size() == 2);
        CHECK(file.read_f32("e").empty());
        CHECK(file.bytes(file.at("f")).empty());
    }
    SECTION("a zero-size tensor between two others, and at the end") {
        const std::string header = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                   R"("z":{"dtype":"U8","shape":[0],"data_offsets":[2,2]},)"
                                   R"("b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]},)"
                                   R"("y":{"dtype":"U8","shape":[0],"data_offsets":[3,3]}})";
        write_raw(path, file_bytes(header, "\x01\x02\x03"));
        const SafetensorsFile file = SafetensorsFile::open(path);
        REQUIRE(file.entries().size() == 4);
        CHECK(file.read_i64("b") == std::vector<int64_t>{3});
    }
    SECTION("-0 and an empty object header") {
        write_raw(path,
                  file_bytes(R"({"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,-0]}})", ""));
        CHECK(SafetensorsFile::open(path).at("a").numel() == 0);
        write_raw(path, file_bytes("{}", ""));
        CHECK(SafetensorsFile::open(path).entries().empty());
    }
}

TEST_CASE("safetensors: file objects move", "[model][format]") {
    TempDir tmp;
    const std::string p1 = tmp.file("m1.safetensors");
    const std::string p2 = tmp.file("m2.safetensors");
    const std::string d1 = raw_of(std::vector<float>{1, 2, 3});
    const std::string d2 = raw_of(std::vector<int32_t>{4});
    write_safetensors(p1, {{"x", DType::F32, {3}, span_of(d1)}});
    write_safetensors(p2, {{"y", DType::I32, {1}, span_of(d2)}});

    SafetensorsFile a = SafetensorsFile::open(p1);
    SafetensorsFile b = std::move(a);
    CHECK(b.read_f32("x") == std::vector<float>{1, 2, 3});
    CHECK(b.find("x") == &b.entries()[0]);
    b = SafetensorsFile::open(p2); // unmaps the first file
    CHECK(b.path() == p2);
    CHECK(b.read_i64("y") == std::vector<int64_t>{4});
    CHECK(b.find("x") == nullptr);
    SafetensorsFile c = SafetensorsFile::open(p1);
    c = std::move(b);
    CHECK(c.read_i64("y") == std::vector<int64_t>{4});
}

// ---------------------------------------------------------------------------------------------
// f16 / bf16

TEST_CASE("safetensors: f16 to f32 is exact", "[model][format]") {
    CHECK(bits_of_f32(f16_to_f32(0x0000)) == 0x00000000u);
    CHECK(bits_of_f32(f16_to_f32(0x8000)) == 0x80000000u); // -0
    CHECK(f16_to_f32(0x3c00) == 1.0f);
    CHECK(f16_to_f32(0xc000) == -2.0f);
    CHECK(f16_to_f32(0x3555) == 0.333251953125f);
    CHECK(f16_to_f32(0x7bff) == 65504.0f);                 // largest finite
    CHECK(f16_to_f32(0x0400) == std::ldexp(1.0f, -14));    // smallest normal
    CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));    // smallest subnormal
    CHECK(f16_to_f32(0x03ff) == std::ldexp(1023.0f, -24)); // largest subnormal
    CHECK(f16_to_f32(0x8201) == -std::ldexp(513.0f, -24)); // negative subnormal
    CHECK(f16_to_f32(0x7c00) == std::numeric_limits<float>::infinity());
    CHECK(f16_to_f32(0xfc00) == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(f16_to_f32(0x7e00)));
    CHECK(std::isnan(f16_to_f32(0x7c01))); // signalling NaN stays a NaN, payload kept
    CHECK(bits_of_f32(f16_to_f32(0x7c01)) == 0x7f802000u);
    CHECK(bits_of_f32(f16_to_f32(0xfe00)) == 0xffc00000u);

    // Every f16 value against a double-precision evaluation of the definition.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const uint32_t exp = (h >> 10) & 0x1f;
        const uint32_t mant = h & 0x3ff;
        if (exp == 0x1f)
            continue;
        double v = exp == 0 ? std::ldexp(static_cast<double>(mant), -24)
                            : std::ldexp(1.0 + mant / 1024.0, static_cast<int>(exp) - 15);
        if (h & 0x8000)
            v = -v;
        const float got = f16_to_f32(static_cast<uint16_t>(h));
        if (static_cast<double>(got) != v || std::signbit(got) != ((h & 0x8000) != 0)) {
            CAPTURE(h);
            FAIL("f16_to_f32 mismatch");
        }
    }
}

TEST_CASE("safetensors: f32 to f16 rounds to nearest even", "[model][format]") {
    CHECK(f32_to_f16(0.0f) == 0x0000);
    CHECK(f32_to_f16(-0.0f) == 0x8000);
    CHECK(f32_to_f16(1.0f) == 0x3c00);
    CHECK(f32_to_f16(-2.0f) == 0xc000);
    CHECK(f32_to_f16(65504.0f) == 0x7bff);
    CHECK(f32_to_f16(65519.996f) == 0x7bff);
    CHECK(f32_to_f16(65520.0f) == 0x7c00); // the tie above the largest finite goes to inf
    CHECK(f32_to_f16(1e10f) == 0x7c00);
    CHECK(f32_to_f16(-1e10f) == 0xfc00);
    CHECK(f32_to_f16(std::numeric_limits<float>::infinity()) == 0x7c00);
    CHECK(f32_to_f16(-std::numeric_limits<float>::infinity()) == 0xfc00);
    // Ties: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 and goes to the even mantissa (1);
    // 1 + 3 * 2^-11 lies between odd 0x3c01 and even 0x3c02.
    CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
    CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
    CHECK(f32_to_f16(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)) == 0x3c01);
    // Subnormals: 2^-25 is half the smallest subnormal (ties to zero); anything above rounds up.
    CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);
    CHECK(f32_to_f16(-std::ldexp(1.0f, -25)) == 0x8000);
    CHECK(f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
    CHECK(f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002); // tie between 1 and 2 ulps -> 2
    CHECK(f32_to_f16(std::ldexp(1.0f, -30)) == 0x0000);
    CHECK(f32_to_f16(std::numeric_limits<float>::denorm_min()) == 0x0000);
    CHECK(f32_to_f16(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)) == 0x0400); // up to normal
    // NaN stays NaN with its sign; a payload only in the low bits must not turn into inf.
    CHECK(f32_to_f16(std::numeric_limits<float>::quiet_NaN()) == 0x7e00);
    CHECK(f32_to_f16(f32_of_bits(0x7f800001u)) == 0x7e00);
    CHECK(f32_to_f16(f32_of_bits(0xffc00000u)) == 0xfe00);
    CHECK(f32_to_f16(f32_of_bits(0x7fa00000u)) == 0x7f00); // top payload bit kept, quieted

    // Every finite f16 survives f16 -> f32 -> f16; every NaN stays a NaN.
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const auto h16 = static_cast<uint16_t>(h);
        const uint16_t back = f32_to_f16(f16_to_f32(h16));
        const bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
        const bool ok = is_nan ? ((back & 0x7c00) == 0x7c00 && (back & 0x3ff) != 0 &&
                                  (back & 0x8000) == (h & 0x8000))
                               : back == h16;
        if (!ok) {
            CAPTURE(h, back);
            FAIL("f16 round trip");
        }
    }
    // Boundary-exhaustive: for each pair of adjacent f16 values, the f32 midpoint (exact in
    // f32) goes to the even one, and its f32 neighbours go to the nearer one.
    for (uint32_t h = 0; h < 0x7c00; ++h) {
        const float lo = f16_to_f32(static_cast<uint16_t>(h));
        const float hi = h + 1 == 0x7c00 ? 65536.0f : f16_to_f32(static_cast<uint16_t>(h + 1));
        const float mid = (lo + hi) / 2; // exact: f16 has 11 significant bits, f32 has 24
        REQUIRE(static_cast<double>(mid) ==
                (static_cast<double>(lo) + static_cast<double>(hi)) / 2);
        const uint32_t even = (h & 1) ? h + 1 : h;
        const bool ok = f32_to_f16(mid) == even && f32_to_f16(std::nextafter(mid, 0.0f)) == h &&
                        f32_to_f16(std::nextafter(mid, 1e30f)) == h + 1 &&
                        f32_to_f16(-mid) == (even | 0x8000) &&
                        f32_to_f16(-std::nextafter(mid, 0.0f)) == (h | 0x8000);
        if (!ok) {
            CAPTURE(h);
            FAIL("f32_to_f16 boundary");
        }
    }
}

TEST_CASE("safetensors: bf16 conversions", "[model][format]") {
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
    CHECK(bf16_to_f32(0xc000) == -2.0f);
    CHECK(bf16_to_f32(0x0001) == f32_of_bits(0x00010000u)); // subnormal, exact
    CHECK(bf16_to_f32(0x7f80) == std::numeric_limits<float>::infinity());
    CHECK(bits_of_f32(bf16_to_f32(0x7fc1)) == 0x7fc10000u);
    CHECK(bits_of_f32(bf16_to_f32(0x8000)) == 0x80000000u);

    CHECK(f32_to_bf16(1.0f) == 0x3f80);
    CHECK(f32_to_bf16(-0.0f) == 0x8000);
    CHECK(f32_to_bf16(f32_of_bits(0x3f808000u)) == 0x3f80); // tie, even below
    CHECK(f32_to_bf16(f32_of_bits(0x3f818000u)) == 0x3f82); // tie, even above
    CHECK(f32_to_bf16(f32_of_bits(0x3f808001u)) == 0x3f81);
    CHECK(f32_to_bf16(f32_of_bits(0x3f807fffu)) == 0x3f80);
    CHECK(f32_to_bf16(f32_of_bits(0x00008000u)) == 0x0000); // subnormal tie to even zero
    CHECK(f32_to_bf16(f32_of_bits(0x00018000u)) == 0x0002);
    CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80); // rounds past max: inf
    CHECK(f32_to_bf16(f32_of_bits(0x7f7f7fffu)) == 0x7f7f);
    CHECK(f32_to_bf16(-std::numeric_limits<float>::infinity()) == 0xff80);
    // NaN: payload only in the dropped bits would truncate to inf; it must stay NaN.
    CHECK(f32_to_bf16(f32_of_bits(0x7f800001u)) == 0x7fc0);
    CHECK(f32_to_bf16(f32_of_bits(0xff800001u)) == 0xffc0);
    CHECK(f32_to_bf16(f32_of_bits(0x7fffffffu)) == 0x7fff);
    CHECK(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()) == 0x7fc0);

    // Boundary-exhaustive over every finite bf16: round trip, midpoint to even, neighbours
    // to the nearer value, both signs.
    for (uint32_t b = 0; b < 0x7f80; ++b) {
        const uint32_t mid = (b << 16) | 0x8000u;
        const uint32_t even = (b & 1) ? b + 1 : b;
        const bool ok = f32_to_bf16(bf16_to_f32(static_cast<uint16_t>(b))) == b &&
                        f32_to_bf16(f32_of_bits(mid)) == even &&
                        f32_to_bf16(f32_of_bits(mid - 1)) == b &&
                        f32_to_bf16(f32_of_bits(mid + 1)) == b + 1 &&
                        f32_to_bf16(f32_of_bits(mid | 0x80000000u)) == (even | 0x8000u);
        if (!ok) {
            CAPTURE(b);
            FAIL("bf16 boundary");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// corruption catalogue

namespace {

struct Malformation {
    const char* label;
    std::string bytes;    // the whole file
    const char* fragment; // must appear in the FormatError message
};

// An entry object with the given fields spliced in verbatim.
std::string entry(const std::string& dtype, const std::string& shape, const std::string& offs) {
    return R"({"dtype":)" + dtype + R"(,"shape":)" + shape + R"(,"data_offsets":)" + offs + "}";
}

std::string one_tensor(const std::string& body, const std::string& data = std::string(8, 'x')) {
    return file_bytes(R"({"a":)" + body + "}", data);
}

std::vector<Malformation> catalogue() {
    const std::string good = entry(R"("F32")", "[2]", "[0,8]");
    const std::string d8(8, 'x');
    return {
        // file and header framing
        {"empty file", "", "expected at least 8"},
        {"7-byte file", std::string(7, '\0'), "expected at least 8"},
        {"header length over 100 MB", u64le(100'000'001) + "{}", "exceeds the limit"},
        {"header length 2^64-1", u64le(~uint64_t{0}) + "{}", "exceeds the limit"},
        {"header length past end of file", u64le(64) + "{}", "bytes after it"},
        {"header length one past end", u64le(3) + "{}", "bytes after it"},
        {"empty header", file_bytes("", ""), "does not start with '{'"},
        {"header is an array", file_bytes("[1]", ""), "does not start with '{'"},
        {"header starts with a space", file_bytes(" {}", ""), "does not start with '{'"},
        {"header starts with a UTF-8 BOM", file_bytes("\xef\xbb\xbf{}", ""),
         "does not start with '{'"},
        {"header cut short", file_bytes(R"({"a":{"dtype")", ""), "not valid UTF-8 JSON"},
        {"trailing garbage after the object", file_bytes("{} x", ""), "not valid UTF-8 JSON"},
        {"padded with NUL instead of spaces", file_bytes(std::string("{}\0\0", 4), ""),
         "not valid UTF-8 JSON"},
        {"NUL then more JSON", file_bytes(std::string("{}\0{\"a\":1}", 10), ""),
         "NUL byte at offset 2"},
        {"two objects", file_bytes("{}{}", ""), "not valid UTF-8 JSON"},
        {"invalid UTF-8 in a key", file_bytes("{\"\xff\":1}", ""), "not valid UTF-8 JSON"},
        {"overlong UTF-8 in a string", file_bytes("{\"\xc0\xaf\":1}", ""), "not valid UTF-8 JSON"},
        {"UTF-8 encoded surrogate", file_bytes("{\"\xed\xa0\x80\":1}", ""), "not valid UTF-8 JSON"},
        {"lone surrogate escape", file_bytes(R"({"\ud800":1})", ""), "not valid UTF-8 JSON"},
        {"raw control character in a string", file_bytes("{\"a\nb\":1}", ""),
         "not valid UTF-8 JSON"},
        {"comment", file_bytes("{/* */}", ""), "not valid UTF-8 JSON"},
        {"unclosed deep nesting", file_bytes(R"({"a":)" + std::string(100000, '['), ""),
         "JSON nested deeper than 128 levels"},
        // duplicate keys
        {"duplicate tensor name", file_bytes(R"({"a":)" + good + R"(,"a":)" + good + "}", d8),
         "duplicate key 'a'"},
        {"duplicate key inside an entry",
         one_tensor(R"({"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]})"),
         "duplicate key 'dtype'"},
        {"duplicate __metadata__", file_bytes(R"({"__metadata__":{},"__metadata__":{}})", ""),
         "duplicate key '__metadata__'"},
        {"duplicate key inside __metadata__",
         file_bytes(R"({"__metadata__":{"k":"1","k":"2"}})", ""), "duplicate key 'k'"},
        // __metadata__
        {"__metadata__ is a string", file_bytes(R"({"__metadata__":"pt"})", ""),
         "__metadata__ is not a JSON object"},
        {"__metadata__ is null", file_bytes(R"({"__metadata__":null})", ""),
         "__metadata__ is not a JSON object"},
        {"__metadata__ is an array", file_bytes(R"({"__metadata__":["a"]})", ""),
         "__metadata__ is not a JSON object"},
        {"__metadata__ value is a number", file_bytes(R"({"__metadata__":{"n":1}})", ""),
         "__metadata__ key 'n' is not a string"},
        {"__metadata__ value is null", file_bytes(R"({"__metadata__":{"n":null}})", ""),
         "__metadata__ key 'n' is not a string"},
        {"__metadata__ value is an object", file_bytes(R"({"__metadata__":{"n":{"x":"y"}}})", ""),
         "__metadata__ key 'n' is not a string"},
        // entry structure
        {"entry is a number", file_bytes(R"({"a":1})", ""), "tensor 'a': entry is not a JSON"},
        {"entry is an array", file_bytes(R"({"a":["F32",[2],[0,8]]})", d8),
         "tensor 'a': entry is not a JSON"},
        {"entry is null", file_bytes(R"({"a":null})", ""), "tensor 'a': entry is not a JSON"},
        {"entry is deeply nested arrays",
         file_bytes(R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}", ""),
         "JSON nested deeper than 128 levels"},
        {"missing dtype", one_tensor(R"({"shape":[2],"data_offsets":[0,8]})"),
         "tensor 'a': missing 'dtype'"},
        {"missing shape", one_tensor(R"({"dtype":"F32","data_offsets":[0,8]})"),
         "tensor 'a': missing 'shape'"},
        {"missing data_offsets", one_tensor(R"({"dtype":"F32","shape":[2]})"),
         "tensor 'a': missing 'data_offsets'"},
        {"empty entry", one_tensor("{}"), "tensor 'a': missing 'dtype'"},
        // dtype
        {"dtype is a number", one_tensor(entry("4", "[2]", "[0,8]")),
         "tensor 'a': 'dtype' is not a string"},
        {"dtype is null", one_tensor(entry("null", "[2]", "[0,8]")),
         "tensor 'a': 'dtype' is not a string"},
        {"unknown dtype", one_tensor(entry(R"("F33")", "[2]", "[0,8]")),
         "tensor 'a': unknown dtype 'F33'"},
        {"lower-case dtype", one_tensor(entry(R"("f32")", "[2]", "[0,8]")),
         "tensor 'a': unknown dtype 'f32'"},
        {"empty dtype", one_tensor(entry(R"("")", "[2]", "[0,8]")), "tensor 'a': unknown dtype ''"},
        {"unsupported dtype U32", one_tensor(entry(R"("U32")", "[2]", "[0,8]")),
         "tensor 'a': unsupported dtype 'U32'"},
        {"unsupported dtype F8_E4M3", one_tensor(entry(R"("F8_E4M3")", "[8]", "[0,8]")),
         "tensor 'a': unsupported dtype 'F8_E4M3'"},
        // shape
        {"shape is a number", one_tensor(entry(R"("F32")", "2", "[0,8]")),
         "tensor 'a': 'shape' is not an array"},
        {"shape is an object", one_tensor(entry(R"("F32")", R"({"0":2})", "[0,8]")),
         "tensor 'a': 'shape' is not an array"},
        {"negative dim", one_tensor(entry(R"("F32")", "[-2]", "[0,8]")),
         "tensor 'a': shape dim is not a non-negative integer; got negative integer -2"},
        {"negative dim beside a zero", one_tensor(entry(R"("F32")", "[0,-1]", "[0,0]"), ""),
         "negative integer -1"},
        {"fractional dim", one_tensor(entry(R"("F32")", "[2.5]", "[0,8]")),
         "tensor 'a': shape dim is not a non-negative integer; got non-integer"},
        {"integral float dim", one_tensor(entry(R"("F32")", "[2.0]", "[0,8]")), "got non-integer"},
        {"exponent dim", one_tensor(entry(R"("F32")", "[2e0]", "[0,8]")), "got non-integer"},
        {"string dim", one_tensor(entry(R"("F32")", R"(["2"])", "[0,8]")), "got string"},
        {"boolean dim", one_tensor(entry(R"("F32")", "[true]", "[0,8]")), "got boolean"},
        {"nested dim", one_tensor(entry(R"("F32")", "[[2]]", "[0,8]")), "got array"},
        {"dim above int64", one_tensor(entry(R"("U8")", "[9223372036854775808]", "[0,8]")),
         "shape dim 9223372036854775808 is too large"},
        {"dim above uint64", one_tensor(entry(R"("U8")", "[18446744073709551616]", "[0,8]")),
         "got non-integer"},
        {"element count overflows int64",
         one_tensor(entry(R"("U8")", "[4294967296,4294967296]", "[0,8]")),
         "tensor 'a': element count of shape [4294967296, 4294967296] overflows int64"},
        {"element count overflows by a little",
         one_tensor(entry(R"("U8")", "[3037000500,3037000500]", "[0,8]")), "overflows int64"},
        {"byte size overflows uint64",
         one_tensor(entry(R"("F64")", "[4611686018427387904]", "[0,8]")),
         "tensor 'a': byte size of shape [4611686018427387904] overflows uint64"},
        // data_offsets
        {"data_offsets is a number", one_tensor(entry(R"("F32")", "[2]", "8")),
         "tensor 'a': 'data_offsets' is not an array of two integers"},
        {"data_offsets has one value", one_tensor(entry(R"("F32")", "[2]", "[8]")),
         "'data_offsets' is not an array of two integers"},
        {"data_offsets has three values", one_tensor(entry(R"("F32")", "[2]", "[0,4,8]")),
         "'data_offsets' is not an array of two integers"},
        {"negative data offset", one_tensor(entry(R"("F32")", "[2]", "[-8,0]")),
         "tensor 'a': 'data_offsets' are not non-negative integers"},
        {"fractional data offset", one_tensor(entry(R"("F32")", "[2]", "[0,8.0]")),
         "'data_offsets' are not non-negative integers"},
        {"string data offset", one_tensor(entry(R"("F32")", "[2]", R"(["0",8])")),
         "'data_offsets' are not non-negative integers"},
        {"huge data offset", one_tensor(entry(R"("F32")", "[2]", "[0,99999999999999999999999]")),
         "'data_offsets' are not non-negative integers"},
        {"decreasing data offsets", one_tensor(entry(R"("F32")", "[2]", "[8,0]")),
         "tensor 'a': data_offsets [8, 0] decrease"},
        {"end past the data section", one_tensor(entry(R"("F32")", "[4]", "[0,16]")),
         "tensor 'a': data_offsets [0, 16] end beyond the data section (8 bytes)"},
        {"end past the data section by far",
         one_tensor(entry(R"("F32")", "[2]", "[18446744073709551608,18446744073709551615]")),
         "end beyond the data section"},
        {"span larger than the shape", one_tensor(entry(R"("F32")", "[1]", "[0,8]")),
         "tensor 'a': data_offsets [0, 8] span 8 bytes; expected 4 for F32 shape [1]"},
        {"span smaller than the shape", one_tensor(entry(R"("F64")", "[2]", "[0,8]")),
         "span 8 bytes; expected 16 for F64 shape [2]"},
        {"scalar with an empty span", one_tensor(entry(R"("F32")", "[]", "[0,0]"), ""),
         "span 0 bytes; expected 4"},
        // layout
        {"overlapping tensors",
         file_bytes(R"({"a":)" + good + R"(,"b":)" + entry(R"("F32")", "[2]", "[4,12]") + "}",
                    std::string(12, 'x')),
         "tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
        {"identical ranges", file_bytes(R"({"b":)" + good + R"(,"a":)" + good + "}", d8),
         "overlap"},
        {"empty tensor inside another",
         file_bytes(R"({"a":)" + good + R"(,"z":)" + entry(R"("F32")", "[0]", "[4,4]") + "}", d8),
         "tensors 'a' [0, 8) and 'z' [4, 4) overlap"},
        {"hole between tensors",
         file_bytes(R"({"a":)" + good + R"(,"b":)" + entry(R"("F32")", "[2]", "[12,20]") + "}",
                    std::string(20, 'x')),
         "data section bytes [8, 12) belong to no tensor"},
        {"hole at the start", one_tensor(entry(R"("F32")", "[2]", "[4,12]"), std::string(12, 'x')),
         "data section bytes [0, 4) belong to no tensor"},
        {"hole at the end", one_tensor(good, std::string(12, 'x')),
         "data section bytes [8, 12) belong to no tensor"},
        {"data but no tensors", file_bytes("{}", "abcd"),
         "data section bytes [0, 4) belong to no tensor"},
        {"data but only __metadata__", file_bytes(R"({"__metadata__":{}})", "abcd"),
         "belong to no tensor"},
    };
}

} // namespace

TEST_CASE("safetensors: corruption catalogue throws FormatError", "[model][format]") {
    TempDir tmp;
    const std::string path = tmp.file("bad.safetensors");
    for (const Malformation& m : catalogue()) {
        INFO(m.label);
        write_raw(path, m.bytes);
        REQUIRE_THROWS_AS(SafetensorsFile::open(path), FormatError);
        const std::string msg = open_error(path);
        INFO(msg);
        CHECK(msg.rfind(path + ": ", 0) == 0);
        CHECK(msg.find(m.fragment) != std::string::npos);
        CHECK(msg.find('\n') == std::string::npos);
    }
}

TEST_CASE("safetensors: names from the file are printed on one line", "[model][format]") {
    TempDir tmp;
    const std::string path = tmp.file("name.safetensors");
    write_raw(path, file_bytes(R"({"a\nb\u0001":{"dtype":"X"}})", ""));
    const std::string msg = open_error(path);
    CHECK(msg == path + R"(: tensor 'a\x0ab\x01': unknown dtype 'X')");
}

TEST_CASE("safetensors: every truncation of a valid file throws FormatError", "[model][format]") {
    TempDir tmp;
    const std::string good_path = tmp.file("good.safetensors");
    const std::string d1 = raw_of(std::vector<float>{1, 2, 3, 4});
    const std::string d2 = raw_of(std::vector<uint16_t>{1, 2, 3});
    write_safetensors(
        good_path, {{"w", DType::F32, {2, 2}, span_of(d1)}, {"b", DType::BF16, {3}, span_of(d2)}});
    const std::string good = read_raw(good_path);
    const std::string path = tmp.file("cut.safetensors");
    for (size_t len = 0; len < good.size(); ++len) {
        CAPTURE(len);
        write_raw(path, good.substr(0, len));
        REQUIRE_THROWS_AS(SafetensorsFile::open(path), FormatError);
        CHECK(open_error(path).find(path) == 0);
    }
    // One byte too many is a hole at the end of the data section.
    write_raw(path, good + "!");
    CHECK(open_error(path).find("belong to no tensor") != std::string::npos);
}

TEST_CASE("safetensors: random byte corruption never crashes", "[model][format]") {
    TempDir tmp;
    const std::string good_path = tmp.file("good.safetensors");
    const std::string d1 = raw_of(std::vector<float>{1, 2, 3, 4, 5, 6});
    const std::string d2 = raw_of(std::vector<int64_t>{7});
    const std::string d3 = raw_of(std::vector<uint16_t>{0x3c00, 0x7c00});
    write_safetensors(good_path,
                      {{"layer.0.w", DType::F32, {2, 3}, span_of(d1)},
                       {"step", DType::I64, {}, span_of(d2)},
                       {"h", DType::F16, {2}, span_of(d3)}},
                      {{"k", "v"}});
    const std::string good = read_raw(good_path);
    uint64_t header_end = 0;
    std::memcpy(&header_end, good.data(), 8);
    header_end += 8;
    // Mutations that keep the structure are the interesting ones, so most of them hit the
    // header and set printable JSON characters.
    const char kJsonChars[] = "{}[]\":,0123456789-.eE ntfFIUB_\\";
    const std::string path = tmp.file("fuzz.safetensors");
    Rng rng(2024);
    int opened = 0;
    for (int iter = 0; iter < 3000; ++iter) {
        std::string bytes = good;
        const int n_mut = 1 + static_cast<int>(rng.next_u64() % 3);
        for (int k = 0; k < n_mut; ++k) {
            const uint64_t r = rng.next_u64();
            const size_t pos = (r & 3) != 0 ? static_cast<size_t>((r >> 8) % header_end)
                                            : static_cast<size_t>((r >> 8) % bytes.size());
            if ((r >> 2 & 1) != 0)
                bytes[pos] = kJsonChars[(r >> 40) % (sizeof kJsonChars - 1)];
            else
                bytes[pos] = static_cast<char>(r >> 40);
        }
        if (rng.next_u64() % 8 == 0)
            bytes.resize(static_cast<size_t>(rng.next_u64() % (bytes.size() + 1)));
        write_raw(path, bytes);
        try {
            const SafetensorsFile file = SafetensorsFile::open(path);
            ++opened;
            // Whatever opened must be readable without going out of bounds.
            for (const SafetensorsEntry& e : file.entries()) {
                REQUIRE(file.bytes(e).size() == e.end - e.begin);
                if (e.dtype == DType::F32 || e.dtype == DType::F16 || e.dtype == DType::BF16 ||
                    e.dtype == DType::F64)
                    REQUIRE(file.read_f64(e.name).size() == static_cast<size_t>(e.numel()));
                else
                    REQUIRE(file.read_i64(e.name).size() == static_cast<size_t>(e.numel()));
            }
        } catch (const FormatError& e) {
            const std::string msg = e.what();
            if (msg.find('\n') != std::string::npos || msg.rfind(path, 0) != 0) {
                CAPTURE(iter, msg);
                FAIL("bad FormatError message");
            }
        }
    }
    CHECK(opened > 0); // some mutations (data bytes, metadata text) leave a valid file
}

// ---------------------------------------------------------------------------------------------
// I/O errors

TEST_CASE("safetensors: missing or unreadable paths throw Error, not FormatError",
          "[model][format]") {
    TempDir tmp;
    const std::string missing = tmp.file("missing.safetensors");
    try {
        SafetensorsFile::open(missing);
        FAIL("opened a missing file");
    } catch (const FormatError&) {
        FAIL("a missing file is an I/O error, not a format error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()) == missing + ": cannot open: No such file or directory");
    }
    try {
        SafetensorsFile::open(tmp.dir.string());
        FAIL("opened a directory");
    } catch (const FormatError&) {
        FAIL("a directory is an I/O error, not a format error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find(": cannot open: ") != std::string::npos);
    }
}

TEST_CASE("safetensors: writer errors leave no file behind", "[model][format]") {
    TempDir tmp;
    const std::string d8 = raw_of(std::vector<float>{1, 2});

    SECTION("directory does not exist") {
        const std::string path = tmp.file("no_such_dir/out.safetensors");
        REQUIRE_THROWS_AS(write_safetensors(path, {{"x", DType::F32, {2}, span_of(d8)}}), Error);
        REQUIRE_THROWS_WITH(write_safetensors(path, {{"x", DType::F32, {2}, span_of(d8)}}),
                            Catch::Contains(path));
        CHECK_FALSE(fs::exists(tmp.dir / "no_such_dir"));
        CHECK(tmp.count() == 0);
    }
    SECTION("invalid tensors: nothing is created and an existing file is untouched") {
        const std::string path = tmp.file("out.safetensors");
        const auto check_nothing_written = [&] {
            CHECK(tmp.count() == 0);
            CHECK_FALSE(fs::exists(path));
        };
        REQUIRE_THROWS_AS(write_safetensors(path, {{"x", DType::F32, {3}, span_of(d8)}}),
                          ShapeError);
        check_nothing_written();
        REQUIRE_THROWS_WITH(write_safetensors(path, {{"x", DType::F64, {2}, span_of(d8)}}),
                            Catch::Contains(path) && Catch::Contains("'x'") &&
                                Catch::Contains("expected 16"));
        check_nothing_written();
        REQUIRE_THROWS_AS(write_safetensors(path, {{"x", DType::F32, {-2}, span_of(d8)}}),
                          ShapeError);
        REQUIRE_THROWS_AS(write_safetensors(path, {{"x", DType::F32, {0, -1}, {}}}), ShapeError);
        REQUIRE_THROWS_AS(
            write_safetensors(
                path, {{"x", DType::U8, {int64_t{1} << 40, int64_t{1} << 40}, span_of(d8)}}),
            ShapeError);
        REQUIRE_THROWS_AS(write_safetensors(path, {{"x", DType::F32, {2}, span_of(d8)},
                                                   {"x", DType::F32, {2}, span_of(d8)}}),
                          Error);
        REQUIRE_THROWS_AS(write_safetensors(path, {{"", DType::F32, {2}, span_of(d8)}}), Error);
        REQUIRE_THROWS_AS(write_safetensors(path, {{"__metadata__", DType::F32, {2}, span_of(d8)}}),
                          Error);
        REQUIRE_THROWS_AS(write_safetensors(path, {{"bad\xff", DType::F32, {2}, span_of(d8)}}),
                          Error);
        REQUIRE_THROWS_AS(write_safetensors(path, {}, {{"k", "bad\xc3"}}), Error);
        check_nothing_written();

        write_safetensors(path, {{"x", DType::F32, {2}, span_of(d8)}});
        const std::string before = read_raw(path);
        REQUIRE_THROWS_AS(write_safetensors(path, {{"y", DType::F32, {5}, span_of(d8)}}),
                          ShapeError);
        CHECK(read_raw(path) == before);
        CHECK(tmp.count() == 1);
    }
}
