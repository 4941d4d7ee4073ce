// ggml_quants against llama.cpp's own libggml-base.so (npm @node-llama-cpp/linux-x64, the
// independent oracle): for every type and many value distributions and shapes our quantized
// bytes equal ggml_quantize_chunk's (no importance matrix) and our dequantized floats equal its
// type traits' to_float bit for bit; fp16/bf16 conversions agree on every half and many floats.
// Plus round-trip error bounds, row-size errors and thread-count independence.
#include "common/error.h"
#include "common/rng.h"
#include "model/io/ggml_quants.h"
#include "tests/ggml_oracle.h"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <omp.h>
#include <string>
#include <vector>

using namespace slimtune;
using namespace slimtune::io;
using slimtune::test::llama_cpp_fn;

namespace {

// The few ggml C declarations we call (ggml.h of the packaged release; the layout of
// ggml_type_traits is checked below through its type_name and sizes).
using ToFloat = void (*)(const void*, float*, int64_t);
struct GgmlTypeTraits {
    const char* type_name;
    int64_t blck_size;
    int64_t blck_size_interleave;
    size_t type_size;
    bool is_quantized;
    ToFloat to_float;
    void (*from_float_ref)(const float*, void*, int64_t);
};
struct GgmlBf16 {
    uint16_t bits;
};
using QuantizeChunk = size_t (*)(int, const float*, void*, int64_t, int64_t, int64_t, const float*);
using GetTypeTraits = const GgmlTypeTraits* (*)(int);

QuantizeChunk ggml_quantize_chunk() {
    return llama_cpp_fn<QuantizeChunk>("ggml-base", "ggml_quantize_chunk");
}
const GgmlTypeTraits& ggml_traits(GgmlType t) {
    const auto get = llama_cpp_fn<GetTypeTraits>("ggml-base", "ggml_get_type_traits");
    return *get(static_cast<int>(t));
}

// ggml's names for model/half.h's converters with ggml's NaN policy: the checks below compare
// each with the libggml function of the same name.
uint16_t fp32_to_fp16(float f) {
    return f32_to_f16(f, NanPolicy::Ggml);
}
float fp16_to_fp32(uint16_t h) {
    return f16_to_f32(h, NanPolicy::Ggml);
}
uint16_t fp32_to_bf16(float f) {
    return f32_to_bf16(f);
}
float bf16_to_fp32(uint16_t h) {
    return bf16_to_f32(h);
}

const std::vector<GgmlType> kAllTypes = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
    GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// A named way to fill n values (deterministic per seed).
struct Distribution {
    std::string name;
    std::function<std::vector<float>(int64_t n, uint64_t seed)> make;
};

std::vector<float> normal(int64_t n, uint64_t seed, float stddev) {
    Rng rng(seed);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v)
        x = rng.next_normal() * stddev;
    return v;
}

std::vector<Distribution> distributions() {
    std::vector<Distribution> d;
    d.push_back({"normal(0, 0.02)", [](int64_t n, uint64_t s) { return normal(n, s, 0.02f); }});
    d.push_back({"uniform(-1, 1)", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v(static_cast<size_t>(n));
                     for (auto& x : v)
                         x = rng.next_uniform() * 2.0f - 1.0f;
                     return v;
                 }});
    d.push_back({"uniform(0.5, 1.5), positive only", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v(static_cast<size_t>(n));
                     for (auto& x : v)
                         x = rng.next_uniform() + 0.5f;
                     return v;
                 }});
    d.push_back({"heavy-tailed (normal * lognormal)", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v(static_cast<size_t>(n));
                     for (auto& x : v)
                         x = rng.next_normal() * std::exp(1.5f * rng.next_normal()) * 0.05f;
                     return v;
                 }});
    d.push_back({"normal with 30% exact zeros", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v(static_cast<size_t>(n));
                     for (auto& x : v)
                         x = rng.next_uniform() < 0.3f ? 0.0f : rng.next_normal();
                     return v;
                 }});
    d.push_back({"all-zero 32- and 256-blocks", [](int64_t n, uint64_t s) {
                     std::vector<float> v = normal(n, s, 1.0f);
                     for (int64_t i = 0; i < n; ++i)
                         if ((i / 32) % 3 == 1 || (i / 256) % 4 == 2)
                             v[static_cast<size_t>(i)] = (i % 2) ? -0.0f : 0.0f;
                     return v;
                 }});
    d.push_back(
        {"tiny (fp16 subnormal range)", [](int64_t n, uint64_t s) { return normal(n, s, 3e-6f); }});
    d.push_back(
        {"very tiny (below fp16)", [](int64_t n, uint64_t s) { return normal(n, s, 1e-9f); }});
    d.push_back({"huge (1e4)", [](int64_t n, uint64_t s) { return normal(n, s, 1e4f); }});
    d.push_back({"huge (3e6, fp16 scales overflow)",
                 [](int64_t n, uint64_t s) { return normal(n, s, 3e6f); }});
    d.push_back({"constant blocks", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v(static_cast<size_t>(n));
                     float c = 0;
                     for (int64_t i = 0; i < n; ++i) {
                         if (i % 32 == 0)
                             c = rng.next_normal();
                         v[static_cast<size_t>(i)] = (i / 256) % 2 ? c : 0.75f;
                     }
                     return v;
                 }});
    d.push_back({"one outlier per 32-block", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v = normal(n, s + 1, 0.02f);
                     for (int64_t b = 0; b < n / 32; ++b) {
                         const auto at = static_cast<size_t>(b * 32 + (rng.next_u64() % 32));
                         v[at] = (b % 2) ? 1.0f : -1.5f;
                     }
                     return v;
                 }});
    d.push_back({"ties: multiples of 1/16", [](int64_t n, uint64_t s) {
                     Rng rng(s);
                     std::vector<float> v(static_cast<size_t>(n));
                     for (auto& x : v)
                         x = static_cast<float>(static_cast<int>(rng.next_u64() % 33) - 16) / 16;
                     return v;
                 }});
    return d;
}

struct Shape {
    int64_t rows;
    int64_t cols;
};

std::string describe(GgmlType t, const std::string& dist, Shape s) {
    return std::string(ggml_type_name(t)) + " " + dist + " " + std::to_string(s.rows) + "x" +
           std::to_string(s.cols);
}

// The first differing block, as "row R block B (byte offset O)", or "" when equal.
std::string first_difference(GgmlType t,
                             const std::vector<uint8_t>& a,
                             const std::vector<uint8_t>& b,
                             int64_t cols) {
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) {
            const size_t row_bytes = ggml_row_size(t, cols);
            const size_t block = i % row_bytes / ggml_type_size(t);
            return "row " + std::to_string(i / row_bytes) + " block " + std::to_string(block) +
                   " byte " + std::to_string(i % row_bytes % ggml_type_size(t)) + ": ours " +
                   std::to_string(a[i]) + ", ggml " + std::to_string(b[i]);
        }
    }
    return "";
}

// Quantizes with us and with ggml, compares the bytes, then dequantizes with both and compares
// the floats bitwise.
void check_against_ggml(GgmlType t, const std::vector<float>& x, Shape s, const std::string& what) {
    const size_t bytes = static_cast<size_t>(s.rows) * ggml_row_size(t, s.cols);
    std::vector<uint8_t> ours(bytes, 0xA5);
    std::vector<uint8_t> theirs(bytes, 0x5A);
    quantize_rows(t, x.data(), ours.data(), s.rows, s.cols);
    const size_t written = ggml_quantize_chunk()(static_cast<int>(t), x.data(), theirs.data(), 0,
                                                 s.rows, s.cols, nullptr);
    REQUIRE(written == bytes);
    INFO(what);
    const std::string diff = first_difference(t, ours, theirs, s.cols);
    INFO("first difference: " << diff);
    CHECK(diff.empty());

    const size_t n = static_cast<size_t>(s.rows * s.cols);
    std::vector<float> ours_f(n, 1.0f);
    std::vector<float> theirs_f(n, 2.0f);
    dequantize_rows(t, theirs.data(), ours_f.data(), s.rows, s.cols);
    if (t == GgmlType::F32) // ggml has no to_float for F32: the bytes are the floats
        std::memcpy(theirs_f.data(), theirs.data(), n * sizeof(float));
    else
        ggml_traits(t).to_float(theirs.data(), theirs_f.data(), static_cast<int64_t>(n));
    CHECK(std::memcmp(ours_f.data(), theirs_f.data(), n * sizeof(float)) == 0);
}

double relative_rmse(GgmlType t, const std::vector<float>& x, Shape s) {
    std::vector<uint8_t> q(static_cast<size_t>(s.rows) * ggml_row_size(t, s.cols));
    std::vector<float> y(x.size());
    quantize_rows(t, x.data(), q.data(), s.rows, s.cols);
    dequantize_rows(t, q.data(), y.data(), s.rows, s.cols);
    double err = 0;
    double ref = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        const double e = static_cast<double>(y[i]) - static_cast<double>(x[i]);
        err += e * e;
        ref += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    }
    return std::sqrt(err / ref);
}

} // namespace

TEST_CASE("quants: type table matches ggml's type traits", "[quants]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    for (const GgmlType t : kAllTypes) {
        const GgmlTypeTraits& tr = ggml_traits(t);
        INFO(ggml_type_name(t));
        CHECK(std::string(tr.type_name) == std::string(ggml_type_name(t)));
        CHECK(tr.blck_size == ggml_block_size(t));
        CHECK(tr.type_size == ggml_type_size(t));
        CHECK(ggml_type_from_id(static_cast<uint32_t>(t)) == t);
    }
    CHECK(ggml_type_name(GgmlType::Q4_K) == "q4_K");
    CHECK(ggml_type_size(GgmlType::Q6_K) == 210);
    CHECK(ggml_type_from_id(3) == std::nullopt);  // Q4_1
    CHECK(ggml_type_from_id(15) == std::nullopt); // Q8_K
    CHECK(ggml_type_from_id(1000) == std::nullopt);
    // The GgmlType values are exactly the table's rows with converters, and a row has both
    // converters or neither.
    size_t rows_with_converters = 0;
    for (uint32_t id = 0; id < 256; ++id)
        if (const GgmlTypeInfo* info = ggml_type_info(id)) {
            INFO(id);
            CHECK((info->quantize == nullptr) == (info->dequantize == nullptr));
            rows_with_converters += info->quantize != nullptr;
        }
    CHECK(rows_with_converters == std::size(kAllTypes));
    for (const GgmlType t : kAllTypes)
        CHECK(ggml_type_info(static_cast<uint32_t>(t))->quantize != nullptr);
}

TEST_CASE("quants: row sizes and bad requests", "[quants]") {
    CHECK(ggml_row_size(GgmlType::F32, 7) == 28);
    CHECK(ggml_row_size(GgmlType::BF16, 7) == 14);
    CHECK(ggml_row_size(GgmlType::Q8_0, 4096) == 4352);
    CHECK(ggml_row_size(GgmlType::Q4_0, 96) == 54);
    CHECK(ggml_row_size(GgmlType::Q5_0, 896) == 616);
    CHECK(ggml_row_size(GgmlType::Q5_1, 576) == 432);
    CHECK(ggml_row_size(GgmlType::Q4_K, 4096) == 2304);
    CHECK(ggml_row_size(GgmlType::Q5_K, 512) == 352);
    CHECK(ggml_row_size(GgmlType::Q6_K, 768) == 630);
    CHECK(ggml_row_size(GgmlType::Q4_K, 0) == 0);
    CHECK_THROWS_AS(ggml_row_size(GgmlType::Q4_K, 576), ConfigError);
    CHECK_THROWS_AS(ggml_row_size(GgmlType::Q8_0, 33), ConfigError);
    CHECK_THROWS_AS(ggml_row_size(GgmlType::F16, -1), ConfigError);
    CHECK_THROWS_AS(ggml_row_size(static_cast<GgmlType>(3), 32), ConfigError);

    std::vector<float> x(1024, 1.0f);
    std::vector<uint8_t> q(4096);
    CHECK_THROWS_AS(quantize_rows(GgmlType::Q4_K, x.data(), q.data(), 1, 96), ConfigError);
    CHECK_THROWS_AS(quantize_rows(GgmlType::Q8_0, x.data(), q.data(), -1, 32), ConfigError);
    CHECK_THROWS_AS(quantize_rows(GgmlType::Q8_0, nullptr, q.data(), 1, 32), ConfigError);
    CHECK_THROWS_AS(dequantize_rows(GgmlType::Q6_K, q.data(), x.data(), 1, 100), ConfigError);
    CHECK_THROWS_AS(dequantize_rows(GgmlType::Q6_K, q.data(), nullptr, 1, 256), ConfigError);
    CHECK_THROWS_AS(quantize_rows(GgmlType::Q8_0, x.data(), q.data(), INT64_MAX / 16, 32),
                    ConfigError);
    CHECK_NOTHROW(quantize_rows(GgmlType::Q8_0, nullptr, nullptr, 0, 32)); // nothing to do
}

TEST_CASE("quants: fp16 conversion equals ggml's on every half and many floats", "[quants]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const auto to_f32 = llama_cpp_fn<float (*)(uint16_t)>("ggml-base", "ggml_fp16_to_fp32");
    const auto to_f16 = llama_cpp_fn<uint16_t (*)(float)>("ggml-base", "ggml_fp32_to_fp16");
    // Known values: largest half, rounding to infinity, subnormals, ties to even, NaN.
    CHECK(fp32_to_fp16(65504.0f) == 0x7BFF);
    CHECK(fp32_to_fp16(65519.99f) == 0x7BFF);
    CHECK(fp32_to_fp16(65520.0f) == 0x7C00);
    CHECK(fp32_to_fp16(-1e30f) == 0xFC00);
    CHECK(fp32_to_fp16(0x1p-24f) == 0x0001);
    CHECK(fp32_to_fp16(0x1p-25f) == 0x0000);
    CHECK(fp32_to_fp16(0x1.8p-24f) == 0x0002);      // 1.5 ulp: tie to even 2
    CHECK(fp32_to_fp16(1.0f + 0x1p-11f) == 0x3C00); // tie to even 1.0
    CHECK(fp32_to_fp16(std::bit_cast<float>(0xFF800001u)) == 0xFE00);
    CHECK(std::bit_cast<uint32_t>(fp16_to_fp32(0x7C01)) == 0x7FC02000u);
    CHECK(fp16_to_fp32(0x0001) == 0x1p-24f);

    size_t mismatches = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const auto half = static_cast<uint16_t>(h);
        mismatches +=
            std::bit_cast<uint32_t>(fp16_to_fp32(half)) != std::bit_cast<uint32_t>(to_f32(half));
        // The float midpoint between this half and the next, and its neighbours: every rounding
        // boundary of fp32 -> fp16.
        const uint32_t f = std::bit_cast<uint32_t>(to_f32(half));
        for (const uint32_t bits : {f, f + 0xFFFu, f + 0x1000u, f + 0x1001u, f - 1u, f + 1u}) {
            const float v = std::bit_cast<float>(bits);
            mismatches += fp32_to_fp16(v) != to_f16(v);
        }
    }
    for (uint64_t bits = 0; bits < (1ull << 32); bits += 4093) { // every magnitude, sign, NaN
        const float v = std::bit_cast<float>(static_cast<uint32_t>(bits));
        mismatches += fp32_to_fp16(v) != to_f16(v);
    }
    // Half subnormals come from floats between 2^-25 and 2^-14: all of their rounding cases.
    for (uint32_t bits = 0x33000000u; bits < 0x38800000u; bits += 61) {
        const float v = std::bit_cast<float>(bits);
        mismatches += fp32_to_fp16(v) != to_f16(v);
        mismatches += fp32_to_fp16(-v) != to_f16(-v);
    }
    CHECK(mismatches == 0);
}

TEST_CASE("quants: bf16 conversion equals ggml's on every bf16 and many floats", "[quants]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const auto to_f32 = llama_cpp_fn<float (*)(GgmlBf16)>("ggml-base", "ggml_bf16_to_fp32");
    const auto to_bf16 = llama_cpp_fn<GgmlBf16 (*)(float)>("ggml-base", "ggml_fp32_to_bf16");
    CHECK(fp32_to_bf16(1.0f) == 0x3F80);
    CHECK(fp32_to_bf16(std::bit_cast<float>(0x3F808000u)) == 0x3F80); // tie to even
    CHECK(fp32_to_bf16(std::bit_cast<float>(0x3F818000u)) == 0x3F82); // tie to even, up
    CHECK(fp32_to_bf16(std::bit_cast<float>(0x7F800001u)) == 0x7FC0); // quiet NaN
    CHECK(fp32_to_bf16(std::bit_cast<float>(0x00008000u)) == 0x0000); // subnormal tie, kept
    CHECK(fp32_to_bf16(std::bit_cast<float>(0x00018000u)) == 0x0002);

    size_t mismatches = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const GgmlBf16 b{static_cast<uint16_t>(h)};
        mismatches +=
            std::bit_cast<uint32_t>(bf16_to_fp32(b.bits)) != std::bit_cast<uint32_t>(to_f32(b));
        const uint32_t f = h << 16;
        for (const uint32_t bits : {f, f + 0x7FFFu, f + 0x8000u, f + 0x8001u, f + 0xFFFFu}) {
            const float v = std::bit_cast<float>(bits);
            mismatches += fp32_to_bf16(v) != to_bf16(v).bits;
        }
    }
    for (uint64_t bits = 0; bits < (1ull << 32); bits += 4093) {
        const float v = std::bit_cast<float>(static_cast<uint32_t>(bits));
        mismatches += fp32_to_bf16(v) != to_bf16(v).bits;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("quants: a hand-checked Q4_0 and Q8_0 block", "[quants]") {
    // x = -8, -7, ..., 23 scaled by 1/4: max |x| is 23/4 (positive), so Q4_0's d = -23/32.
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i)
        x[static_cast<size_t>(i)] = static_cast<float>(i - 8) / 4;
    std::vector<uint8_t> q(18);
    quantize_rows(GgmlType::Q4_0, x.data(), q.data(), 1, 32);
    uint16_t d = 0;
    std::memcpy(&d, q.data(), 2);
    CHECK(d == fp32_to_fp16(-23.0f / 32));
    // Element 0 (-2): -2 / d + 8.5 = 11.28 -> 11; element 16 (2): 8.5 - 2.78 -> 5. The last (5.75)
    // maps to 0.5 -> 0; element 15 (1.75): 8.5 - 2.43 = 6.07 -> 6; element 31 -> 0.
    CHECK(q[2] == (11 | (5 << 4)));
    CHECK(q[2 + 15] == (6 | (0 << 4)));

    std::vector<uint8_t> q8(34);
    quantize_rows(GgmlType::Q8_0, x.data(), q8.data(), 1, 32);
    std::memcpy(&d, q8.data(), 2);
    CHECK(d == fp32_to_fp16(5.75f / 127));
    CHECK(static_cast<int8_t>(q8[2]) == -44); // -2 * 127 / 5.75 = -44.17
    CHECK(static_cast<int8_t>(q8[2 + 31]) == 127);
}

TEST_CASE("quants: bytes and dequantized floats equal ggml's for every type", "[quants]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const std::vector<Shape> k_shapes = {{4, 256}, {3, 512}, {1, 4096}, {2, 8192}};
    const std::vector<Shape> small_shapes = {{4, 256}, {3, 512}, {1, 4096}, {5, 96}, {7, 32}};
    uint64_t seed = 100;
    for (const GgmlType t : kAllTypes) {
        const bool k_quant = ggml_block_size(t) == 256;
        for (const Distribution& dist : distributions()) {
            for (const Shape s : k_quant ? k_shapes : small_shapes) {
                const std::vector<float> x = dist.make(s.rows * s.cols, ++seed);
                check_against_ggml(t, x, s, describe(t, dist.name, s));
            }
        }
    }
}

TEST_CASE("quants: non-finite inputs give ggml's bytes", "[quants]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    // One inf, -inf or NaN in some blocks: garbage in, but the same garbage as llama.cpp, and
    // no crash or undefined behaviour.
    std::vector<float> x = normal(2048, 7, 0.5f);
    x[5] = INFINITY;
    x[300] = -INFINITY;
    x[700] = NAN;
    x[1100] = -NAN;
    x[1500] = INFINITY;
    x[1501] = -INFINITY;
    for (const GgmlType t : kAllTypes)
        check_against_ggml(t, x, {2, 1024}, describe(t, "non-finite", {2, 1024}));
}

TEST_CASE("quants: dequantizing arbitrary bytes equals ggml's to_float", "[quants]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    // Random blocks reach scale and bit combinations the quantizers never write; the fp16
    // scale fields are kept finite so that NaN payload propagation is not what is compared.
    Rng rng(42);
    for (const GgmlType t : kAllTypes) {
        if (t == GgmlType::F32)
            continue;
        const int64_t n = 8 * 256;
        std::vector<uint8_t> q(ggml_row_size(t, n));
        for (auto& b : q)
            b = static_cast<uint8_t>(rng.next_u64());
        if (t == GgmlType::F16) // finite halves only
            for (size_t i = 1; i < q.size(); i += 2)
                q[i] &= 0xBB;
        if (t == GgmlType::BF16) // finite bf16 only
            for (size_t i = 1; i < q.size(); i += 2)
                q[i] &= 0xBF;
        const size_t block_bytes = ggml_type_size(t);
        if (ggml_block_size(t) > 1) {
            for (size_t b = 0; b < q.size(); b += block_bytes) {
                // d (and dmin / m) are the first two halves, except Q6_K's d at byte 208.
                if (t == GgmlType::Q6_K) {
                    q[b + 209] &= 0xBB;
                } else {
                    q[b + 1] &= 0xBB;
                    q[b + 3] &= 0xBB;
                }
            }
        }
        std::vector<float> ours(static_cast<size_t>(n), 1.0f);
        std::vector<float> theirs(static_cast<size_t>(n), 2.0f);
        dequantize_rows(t, q.data(), ours.data(), 1, n);
        ggml_traits(t).to_float(q.data(), theirs.data(), n);
        INFO(ggml_type_name(t));
        CHECK(std::memcmp(ours.data(), theirs.data(), ours.size() * sizeof(float)) == 0);
    }
}

TEST_CASE("quants: the same bytes with 1 and 2 threads", "[quants]") {
    const Shape s{16, 4096}; // many work chunks for every type
    const std::vector<float> x = normal(s.rows * s.cols, 9, 0.03f);
    const int threads_before = omp_get_max_threads();
    for (const GgmlType t : kAllTypes) {
        const size_t bytes = static_cast<size_t>(s.rows) * ggml_row_size(t, s.cols);
        std::vector<uint8_t> one(bytes, 1);
        std::vector<uint8_t> two(bytes, 2);
        omp_set_num_threads(1);
        quantize_rows(t, x.data(), one.data(), s.rows, s.cols);
        omp_set_num_threads(2);
        quantize_rows(t, x.data(), two.data(), s.rows, s.cols);
        INFO(ggml_type_name(t));
        CHECK(one == two);
    }
    omp_set_num_threads(threads_before);
}

TEST_CASE("quants: round-trip error within each type's bound", "[quants]") {
    // Relative RMSE on N(0, 1) weights. Bounds from the step sizes (uniform rounding error is
    // step / sqrt(12)): Q8_0 steps amax/127 with amax ~ 2.5 per 32 -> ~0.006; Q4_0 steps amax/8
    // -> ~0.1; Q5_0 / Q5_1 half that; the K-quants fit scale and min per 32 (or 16) elements;
    // F16 and BF16 round 11 and 8 significant bits (2^-12 / 2^-9 relative, / sqrt(3) on average).
    const Shape s{8, 4096};
    const std::vector<float> x = normal(s.rows * s.cols, 77, 1.0f);
    const std::vector<std::pair<GgmlType, double>> bounds = {
        {GgmlType::F32, 0.0},     {GgmlType::F16, 2.5e-4}, {GgmlType::BF16, 2e-3},
        {GgmlType::Q8_0, 0.0075}, {GgmlType::Q6_K, 0.025}, {GgmlType::Q5_1, 0.05},
        {GgmlType::Q5_0, 0.06},   {GgmlType::Q5_K, 0.045}, {GgmlType::Q4_K, 0.09},
        {GgmlType::Q4_0, 0.12},
    };
    for (const auto& [t, bound] : bounds) {
        const double rmse = relative_rmse(t, x, s);
        INFO(ggml_type_name(t) << " relative rmse " << rmse);
        CHECK(rmse <= bound);
        if (t != GgmlType::F32)
            CHECK(rmse > bound / 10); // not trivially lossless: the type really quantizes
    }
}
