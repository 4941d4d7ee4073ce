// The ggml type table (kGgmlTypes, one row per type), the 32-element block quantizers (Q8_0,
// Q4_0, Q5_0, Q5_1) and the row-level entry points, which read the table. Each quantizer follows
// its ggml `quantize_row_*_ref` operation for operation (same float operations in the same order,
// no contraction) so that the bytes are ggml's; the K-quants live in ggml_quants_k.cpp.
#include "model/io/ggml_quants.h"

#include "common/error.h"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

// ggml's reference code is compiled without FMA; a contracted a*b+c would round differently.
#pragma GCC optimize("fp-contract=off")
#ifdef __clang__
#pragma clang fp contract(off)
#endif

namespace slimtune::io {

static_assert(std::endian::native == std::endian::little,
              "ggml blocks are little-endian; the block kernels copy fp16 and uint32 fields as-is");

namespace {

constexpr int kQK = 32; // elements of a Q4_0/Q5_0/Q5_1/Q8_0 block

using detail::load_fp16;
using detail::store_fp16;

// What x86's cvttss2si gives, which ggml's float -> (u)int8 casts compile to: truncation toward
// zero, and INT32_MIN for NaN or out-of-range values (a C cast would be undefined there). The
// callers then keep the low byte, as the compiled ggml does.
int32_t truncate_like_x86(float v) {
    if (!(v > -2147483904.0f && v < 2147483648.0f))
        return std::numeric_limits<int32_t>::min();
    return static_cast<int32_t>(v);
}

int8_t low_byte(int32_t v) {
    return static_cast<int8_t>(static_cast<uint8_t>(v & 0xFF));
}

// Q8_0: fp16 d = amax / 127; int8 q = round(x / d), halves away from zero.
void quantize_q8_0(const float* x, uint8_t* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK, y += 34) {
        float amax = 0.0f;
        for (int j = 0; j < kQK; ++j) {
            const float a = std::fabs(x[j]);
            amax = amax > a ? amax : a; // ggml's MAX(amax, a), NaN behaviour included
        }
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(y, d);
        for (int j = 0; j < kQK; ++j)
            y[2 + j] = static_cast<uint8_t>(low_byte(truncate_like_x86(std::round(x[j] * id))));
    }
}

// The signed value of largest magnitude in a block, the first one on ties.
float signed_absmax(const float* x) {
    float amax = 0.0f;
    float max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

// Q4_0: d = max / -8 (so the extreme value maps to level 0); q = min(15, trunc(x/d + 8.5)).
// Byte j holds element j in its low nibble and element j + 16 in its high nibble.
void quantize_q4_0(const float* x, uint8_t* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK, y += 18) {
        const float d = signed_absmax(x) / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(y, d);
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[kQK / 2 + j] * id;
            const auto q0 =
                static_cast<uint8_t>(std::min<int>(15, low_byte(truncate_like_x86(x0 + 8.5f))));
            const auto q1 =
                static_cast<uint8_t>(std::min<int>(15, low_byte(truncate_like_x86(x1 + 8.5f))));
            y[2 + j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
    }
}

// Q5_0: as Q4_0 with 32 levels (d = max / -16); the fifth bits go to a little-endian uint32.
void quantize_q5_0(const float* x, uint8_t* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK, y += 22) {
        const float d = signed_absmax(x) / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(y, d);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = x[j] * id;
            const float x1 = x[kQK / 2 + j] * id;
            const auto q0 =
                static_cast<uint8_t>(std::min<int>(31, low_byte(truncate_like_x86(x0 + 16.5f))));
            const auto q1 =
                static_cast<uint8_t>(std::min<int>(31, low_byte(truncate_like_x86(x1 + 16.5f))));
            y[6 + j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= ((q0 & 0x10u) >> 4) << j;
            qh |= ((q1 & 0x10u) >> 4) << (j + kQK / 2);
        }
        std::memcpy(y + 2, &qh, 4);
    }
}

// Q5_1: d = (max - min) / 31 and m = min, q = trunc((x - min)/d + 0.5) (no clamp, as ggml).
void quantize_q5_1(const float* x, uint8_t* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK, y += 24) {
        float min = FLT_MAX;
        float max = -FLT_MAX;
        for (int j = 0; j < kQK; ++j) {
            if (x[j] < min)
                min = x[j];
            if (x[j] > max)
                max = x[j];
        }
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(y, d);
        store_fp16(y + 2, min);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[kQK / 2 + j] - min) * id;
            const auto q0 = static_cast<uint8_t>(truncate_like_x86(x0 + 0.5f) & 0xFF);
            const auto q1 = static_cast<uint8_t>(truncate_like_x86(x1 + 0.5f) & 0xFF);
            y[8 + j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= ((q0 & 0x10u) >> 4) << j;
            qh |= ((q1 & 0x10u) >> 4) << (j + kQK / 2);
        }
        std::memcpy(y + 4, &qh, 4);
    }
}

void dequantize_q8_0(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += 34, y += kQK) {
        const float d = load_fp16(x);
        for (int j = 0; j < kQK; ++j)
            y[j] = static_cast<float>(static_cast<int8_t>(x[2 + j])) * d;
    }
}

void dequantize_q4_0(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += 18, y += kQK) {
        const float d = load_fp16(x);
        for (int j = 0; j < kQK / 2; ++j) {
            y[j] = static_cast<float>((x[2 + j] & 0x0F) - 8) * d;
            y[kQK / 2 + j] = static_cast<float>((x[2 + j] >> 4) - 8) * d;
        }
    }
}

// The fifth bit of element j (j < 16) and of element j + 16, from the little-endian uint32 qh.
int high_bit_lo(uint32_t qh, int j) {
    return static_cast<int>(((qh >> j) << 4) & 0x10);
}
int high_bit_hi(uint32_t qh, int j) {
    return static_cast<int>((qh >> (j + 12)) & 0x10);
}

void dequantize_q5_0(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += 22, y += kQK) {
        const float d = load_fp16(x);
        uint32_t qh = 0;
        std::memcpy(&qh, x + 2, 4);
        for (int j = 0; j < kQK / 2; ++j) {
            const int q0 = ((x[6 + j] & 0x0F) | high_bit_lo(qh, j)) - 16;
            const int q1 = ((x[6 + j] >> 4) | high_bit_hi(qh, j)) - 16;
            y[j] = static_cast<float>(q0) * d;
            y[kQK / 2 + j] = static_cast<float>(q1) * d;
        }
    }
}

void dequantize_q5_1(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += 24, y += kQK) {
        const float d = load_fp16(x);
        const float m = load_fp16(x + 2);
        uint32_t qh = 0;
        std::memcpy(&qh, x + 4, 4);
        for (int j = 0; j < kQK / 2; ++j) {
            const int q0 = (x[8 + j] & 0x0F) | high_bit_lo(qh, j);
            const int q1 = (x[8 + j] >> 4) | high_bit_hi(qh, j);
            y[j] = static_cast<float>(q0) * d + m;
            y[kQK / 2 + j] = static_cast<float>(q1) * d + m;
        }
    }
}

// F32 is stored as it is, F16 and BF16 one value per block.
void copy_f32(const float* x, uint8_t* y, int64_t n) {
    std::memcpy(y, x, static_cast<size_t>(n) * 4);
}
void copy_to_f32(const uint8_t* x, float* y, int64_t n) {
    std::memcpy(y, x, static_cast<size_t>(n) * 4);
}
void quantize_f16(const float* x, uint8_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        store_fp16(y + 2 * i, x[i]);
}
void dequantize_f16(const uint8_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        y[i] = load_fp16(x + 2 * i);
}
void quantize_bf16(const float* x, uint8_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t b = f32_to_bf16(x[i]);
        std::memcpy(y + 2 * i, &b, 2);
    }
}
void dequantize_bf16(const uint8_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t b = 0;
        std::memcpy(&b, x + 2 * i, 2);
        y[i] = bf16_to_f32(b);
    }
}

// Every type of ggml.h `enum ggml_type` in the oracle's release (ids 4, 5, 31-33 and 36-38 were
// removed), with the converters of those we write and read back.
constexpr GgmlTypeInfo kGgmlTypes[] = {
    {0, {"f32", 1, 4}, copy_f32, copy_to_f32},
    {1, {"f16", 1, 2}, quantize_f16, dequantize_f16},
    {2, {"q4_0", 32, 18}, quantize_q4_0, dequantize_q4_0},
    {3, {"q4_1", 32, 20}, nullptr, nullptr},
    {6, {"q5_0", 32, 22}, quantize_q5_0, dequantize_q5_0},
    {7, {"q5_1", 32, 24}, quantize_q5_1, dequantize_q5_1},
    {8, {"q8_0", 32, 34}, quantize_q8_0, dequantize_q8_0},
    {9, {"q8_1", 32, 36}, nullptr, nullptr},
    {10, {"q2_K", 256, 84}, nullptr, nullptr},
    {11, {"q3_K", 256, 110}, nullptr, nullptr},
    {12, {"q4_K", 256, 144}, detail::quantize_q4_k, detail::dequantize_q4_k},
    {13, {"q5_K", 256, 176}, detail::quantize_q5_k, detail::dequantize_q5_k},
    {14, {"q6_K", 256, 210}, detail::quantize_q6_k, detail::dequantize_q6_k},
    {15, {"q8_K", 256, 292}, nullptr, nullptr},
    {16, {"iq2_xxs", 256, 66}, nullptr, nullptr},
    {17, {"iq2_xs", 256, 74}, nullptr, nullptr},
    {18, {"iq3_xxs", 256, 98}, nullptr, nullptr},
    {19, {"iq1_s", 256, 50}, nullptr, nullptr},
    {20, {"iq4_nl", 32, 18}, nullptr, nullptr},
    {21, {"iq3_s", 256, 110}, nullptr, nullptr},
    {22, {"iq2_s", 256, 82}, nullptr, nullptr},
    {23, {"iq4_xs", 256, 136}, nullptr, nullptr},
    {24, {"i8", 1, 1}, nullptr, nullptr},
    {25, {"i16", 1, 2}, nullptr, nullptr},
    {26, {"i32", 1, 4}, nullptr, nullptr},
    {27, {"i64", 1, 8}, nullptr, nullptr},
    {28, {"f64", 1, 8}, nullptr, nullptr},
    {29, {"iq1_m", 256, 56}, nullptr, nullptr},
    {30, {"bf16", 1, 2}, quantize_bf16, dequantize_bf16},
    {34, {"tq1_0", 256, 54}, nullptr, nullptr},
    {35, {"tq2_0", 256, 66}, nullptr, nullptr},
    {39, {"mxfp4", 32, 17}, nullptr, nullptr},
    {40, {"nvfp4", 64, 36}, nullptr, nullptr},
    {41, {"q1_0", 128, 18}, nullptr, nullptr},
    {42, {"q2_0", 64, 18}, nullptr, nullptr},
};

constexpr const GgmlTypeInfo* find_type(uint32_t id) {
    for (const GgmlTypeInfo& t : kGgmlTypes)
        if (t.id == id)
            return &t;
    return nullptr;
}

constexpr bool converts(const GgmlTypeInfo* t) {
    return t != nullptr && t->quantize != nullptr && t->dequantize != nullptr;
}

// The row of a GgmlType; ConfigError for a value outside the enum.
const GgmlTypeInfo& info_of(GgmlType type) {
    const GgmlTypeInfo* t = find_type(static_cast<uint32_t>(type));
    if (!converts(t))
        throw ConfigError("ggml type: unknown type id " +
                          std::to_string(static_cast<uint32_t>(type)));
    return *t;
}

// The block count of a rows x n_per_row tensor, after checking the request. Rows are whole
// blocks laid end to end, so the tensor is one run of blocks and can be split anywhere.
int64_t checked_block_count(const char* what,
                            GgmlType type,
                            const void* src,
                            const void* dst,
                            int64_t rows,
                            int64_t n_per_row) {
    const GgufTypeLayout& layout = info_of(type).layout;
    const std::string where = std::string(what) + " " + std::string(layout.name);
    if (rows < 0)
        throw ConfigError(where + ": row count must be >= 0; got " + std::to_string(rows));
    ggml_row_size(type, n_per_row); // checks the row length
    if (rows == 0 || n_per_row == 0)
        return 0;
    if (rows > std::numeric_limits<int64_t>::max() / n_per_row)
        throw ConfigError(where + ": " + std::to_string(rows) + " x " + std::to_string(n_per_row) +
                          " elements overflow");
    if (src == nullptr || dst == nullptr)
        throw ConfigError(where + ": null source or destination for " + std::to_string(rows) +
                          " rows");
    return rows * n_per_row / layout.block_elems;
}

// Calls convert(first, count) on chunks of [0, n_blocks) in parallel. Blocks per chunk: big
// enough to amortise scheduling, small enough to balance.
template <class Convert>
void over_chunks(const GgufTypeLayout& layout, int64_t n_blocks, const Convert& convert) {
    const int64_t chunk = layout.block_elems == 1 ? 16384 : 64;
    const int64_t n_chunks = (n_blocks + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n_chunks > 1)
    for (int64_t c = 0; c < n_chunks; ++c) {
        const int64_t first = c * chunk;
        convert(first, std::min(chunk, n_blocks - first));
    }
}

} // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
    return find_type(id);
}

std::optional<GgmlType> ggml_type_from_id(uint32_t id) {
    if (!converts(find_type(id)))
        return std::nullopt;
    return static_cast<GgmlType>(id);
}

std::string_view ggml_type_name(GgmlType type) {
    return info_of(type).layout.name;
}
int64_t ggml_block_size(GgmlType type) {
    return info_of(type).layout.block_elems;
}
size_t ggml_type_size(GgmlType type) {
    return info_of(type).layout.block_bytes;
}

size_t ggml_row_size(GgmlType type, int64_t n) {
    const GgufTypeLayout& layout = info_of(type).layout;
    const int64_t block = layout.block_elems;
    if (n < 0 || n % block != 0)
        throw ConfigError("ggml " + std::string(layout.name) + ": row length " + std::to_string(n) +
                          " is not a non-negative multiple of the block size " +
                          std::to_string(block));
    return static_cast<size_t>(n / block) * layout.block_bytes;
}

void quantize_rows(GgmlType type, const float* src, void* dst, int64_t rows, int64_t n_per_row) {
    const int64_t n_blocks = checked_block_count("quantize", type, src, dst, rows, n_per_row);
    const GgmlTypeInfo& info = info_of(type);
    const int64_t block = info.layout.block_elems, bytes = info.layout.block_bytes;
    auto* out = static_cast<uint8_t*>(dst);
    over_chunks(info.layout, n_blocks, [&](int64_t first, int64_t count) {
        info.quantize(src + first * block, out + first * bytes, count);
    });
}

void dequantize_rows(GgmlType type, const void* src, float* dst, int64_t rows, int64_t n_per_row) {
    const int64_t n_blocks = checked_block_count("dequantize", type, src, dst, rows, n_per_row);
    const GgmlTypeInfo& info = info_of(type);
    const int64_t block = info.layout.block_elems, bytes = info.layout.block_bytes;
    const auto* in = static_cast<const uint8_t*>(src);
    over_chunks(info.layout, n_blocks, [&](int64_t first, int64_t count) {
        info.dequantize(in + first * bytes, dst + first * block, count);
    });
}

} // namespace slimtune::io
