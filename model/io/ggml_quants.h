// ggml's tensor types as GGUF stores them: one table row per type (name, block size, byte size,
// block converters), and quantizers that reproduce ggml's reference (`*_ref`) algorithms bit for
// bit, so that a GGUF we write holds the same bytes as llama-quantize (no importance matrix) makes
// from the same float32 weights. Layouts and algorithms: ggml-common.h and ggml-quants.c,
// described in shared/research/finetune.md §2.4. The compilation units are built without
// floating-point contraction (no FMA), because ggml's reference code is plain C float arithmetic
// and one fused a*b+c changes a rounding and with it a quantized byte. fp16 and bf16 values
// convert through model/half.h, fp16 with ggml's NaN policy (NanPolicy::Ggml).
#pragma once

#include "model/half.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace slimtune::io {

// The GGUF tensor_info type ids (ggml.h `enum ggml_type`) of the types we read and write.
enum class GgmlType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    BF16 = 30,
};

// ggml's block layout of a tensor type: `block_elems` values are stored in `block_bytes` bytes.
struct GgufTypeLayout {
    std::string_view name; // ggml's name: "f32", "q4_K", ...
    uint32_t block_elems;
    uint32_t block_bytes;
};

// One row of the ggml type table (ggml.c `type_traits`): a type id (ggml.h `enum ggml_type`, the
// uint32 in a GGUF tensor_info), its layout, and its converters of n_blocks consecutive blocks,
// which are null for the types we only parse past. The GgmlType values are the rows with
// converters (tests/model/test_ggml_quants.cpp checks it: a compile-time check would compare
// the addresses of functions defined in another file, which sanitizer builds do not fold).
struct GgmlTypeInfo {
    uint32_t id;
    GgufTypeLayout layout;
    void (*quantize)(const float* x, uint8_t* y, int64_t n_blocks);
    void (*dequantize)(const uint8_t* x, float* y, int64_t n_blocks);
};
// The row of ggml type `id`, or nullptr for an unknown or removed id. Every type the llama.cpp
// release of our oracle knows has a row, so that any file it loads can be parsed here.
const GgmlTypeInfo* ggml_type_info(uint32_t id);

// The type for a GGUF type id, or nullopt for ids we do not handle (Q4_1, IQ*, ...).
std::optional<GgmlType> ggml_type_from_id(uint32_t id);

// ggml's own name: "f32", "f16", "q4_0", "q5_0", "q5_1", "q8_0", "q4_K", "q5_K", "q6_K", "bf16".
std::string_view ggml_type_name(GgmlType type);
// Elements per block: 1 for F32/F16/BF16, 32 for Q4_0/Q5_0/Q5_1/Q8_0, 256 for the K-quants.
int64_t ggml_block_size(GgmlType type);
// Bytes per block: 4, 2, 18, 22, 24, 34, 144, 176, 210, 2 in enum order.
size_t ggml_type_size(GgmlType type);
// Bytes of a row of n elements. ConfigError when n < 0 or n is not a multiple of the block size.
size_t ggml_row_size(GgmlType type, int64_t n);

// Quantizes `rows` rows of `n_per_row` floats into dst, which must hold
// rows * ggml_row_size(type, n_per_row) bytes: the bytes ggml_quantize_chunk writes with no
// importance matrix (F32 is a copy). Thread-safe; runs in parallel over blocks (OpenMP) with
// the same bytes whatever the thread count. ConfigError for a bad row length or count.
void quantize_rows(GgmlType type, const float* src, void* dst, int64_t rows, int64_t n_per_row);
// The inverse, as ggml's type traits' to_float computes it (same floats, bit for bit).
void dequantize_rows(GgmlType type, const void* src, float* dst, int64_t rows, int64_t n_per_row);

namespace detail {
// A block's little-endian fp16 field (a scale or a minimum), converted as ggml converts it.
inline void store_fp16(uint8_t* p, float v) {
    const uint16_t h = f32_to_f16(v, NanPolicy::Ggml);
    std::memcpy(p, &h, 2);
}
inline float load_fp16(const uint8_t* p) {
    uint16_t h = 0;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h, NanPolicy::Ggml);
}

// Block kernels shared by ggml_quants.cpp and ggml_quants_k.cpp: n_blocks consecutive blocks.
void quantize_q4_k(const float* x, uint8_t* y, int64_t n_blocks);
void quantize_q5_k(const float* x, uint8_t* y, int64_t n_blocks);
void quantize_q6_k(const float* x, uint8_t* y, int64_t n_blocks);
void dequantize_q4_k(const uint8_t* x, float* y, int64_t n_blocks);
void dequantize_q5_k(const uint8_t* x, float* y, int64_t n_blocks);
void dequantize_q6_k(const uint8_t* x, float* y, int64_t n_blocks);
} // namespace detail

} // namespace slimtune::io
