// Which ggml type each tensor gets in an export of a given type (its traits: export_type.h):
// llama-quantize's per-tensor policy (src/llama-quant.cpp, finetune.md §2.6) without an importance
// matrix, so that our file has the types (and, with ggml_quants.h, the bytes) llama-quantize would
// produce from the same float32 weights.
//   f32, f16, bf16   matrices in that type; 1-D tensors (norms, biases, rope_freqs) stay F32
//   q8_0, q4_0, q5_0, q6_k
//                    every quantizable matrix in that type, except the output head (or the
//                    tied token embedding): Q6_K, or Q8_0 for q8_0 and when its rows are not a
//                    multiple of 256
//   q4_k             llama-quantize's Q4_K_S with --pure: every matrix Q4_K, the head too
//   q4_k_m, q5_k_m   Q4_K / Q5_K, with Q6_K for attn_v / attn_qkv and ffn_down of the layers
//                    use_more_bits() picks (the first and last eighth, and every third between)
// A type whose block does not divide a row falls back as llama-quantize does: Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, and a 32-block type -> F16. Position embeddings are not quantized
// (F32 in quantized exports, as llama-quantize leaves them in an F32 file).
#pragma once

#include "model/io/export_type.h"
#include "model/io/ggml_quants.h"
#include "model/io/gguf_tensors.h"

#include <cstdint>
#include <vector>

namespace slimtune::io {

// llama-quantize's use_more_bits(i, n).
bool use_more_bits(int64_t i, int64_t n);

// The type of each tensor of `sources` (same order).
std::vector<GgmlType> gguf_tensor_types(ExportType t, const std::vector<GgufTensorSource>& sources);

} // namespace slimtune::io
