// A Hugging Face model as llama.cpp wants its tensors: GGUF names (token_embd, blk.N.attn_q,
// ...), Gemma's norm offset and query scale, the Q/K row permutation of llama.cpp's converter for
// the `llama` and `granite` architectures (llama.cpp rotates interleaved pairs where Hugging Face
// rotates halves), the `rope_freqs` tensor of Llama-3.x rope scaling, and each tensor's role for
// the quantization policy. The GGUF names map from each parameter's slot (ParamSlot,
// model/transformer.h), not from its Hugging Face name, which only model/transformer.cpp spells.
// Values are produced on demand, one tensor at a time, so an export never holds a second copy of
// the model.
#pragma once

#include "model/transformer.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace slimtune::io {

// What a tensor is, for llama-quantize's per-tensor type policy.
enum class TensorRole {
    TokenEmbd,
    PosEmbd,
    Output,
    Norm, // 1-D norm weights and biases
    Bias, // 1-D linear biases
    AttnQ,
    AttnK,
    AttnV,
    AttnQkv,
    AttnOutput,
    FfnGate,
    FfnUp,
    FfnDown,
    RopeFreqs,
};

struct GgufTensorSource {
    std::string name;           // GGUF name, e.g. "blk.3.attn_q.weight"
    std::string hf_name;        // where it comes from ("" for rope_freqs)
    std::vector<int64_t> shape; // row-major, PyTorch order: (out, in) for a matrix
    TensorRole role = TensorRole::Norm;
    int64_t layer = -1;
    // The heads whose Q/K rows (weight or bias) llama.cpp's permutation reorders: n_head for
    // attn_q, n_head_kv for attn_k of `llama` and `granite`; 0 for every other tensor.
    int64_t permuted_heads = 0;
    // Gemma: the GGUF value is factor * (model value) + offset. llama.cpp's norms multiply by
    // their weight, Gemma's by 1 + weight (offset 1, as llama.cpp's converter adds); llama.cpp
    // scales queries by its own fixed query_pre_attn_scalar, so the model's is folded into
    // attn_q (Gemma 2) or attn_q_norm (Gemma 3) as `factor`. 1 and 0 for every other tensor.
    float factor = 1.0f, offset = 0.0f;
    // Row-major float32 values with the architecture's transforms applied.
    std::function<std::vector<float>()> values;
    // The model's own tensor when it is stored unchanged (no permutation): the export reads it
    // in place instead of through a copy from values(). nullptr otherwise.
    const Tensor* unchanged = nullptr;
};

// Every tensor of `m` in llama.cpp's order, as the GGUF holds it (tied heads have no
// output.weight). ConfigError for a model holding 16-bit projections or merged-away state that
// cannot be exported (load it with float32 weights; merge LoRA adapters first).
// A placeholder parameter (a model from open_checkpoint_model, streamed) takes its values from
// `read` (CheckpointModel::read) when values() is called; values() throws ConfigError without
// one (the names, shapes and roles alone serve the GGUF reader).
using ParamReader = std::function<std::vector<float>(const NamedParam&)>;
std::vector<GgufTensorSource> gguf_tensor_sources(Model& m, const ParamReader& read = {});

// llama.cpp's Q/K permutation of a (rows, cols) row-major matrix (or a bias, cols = 1) made of
// `n_head` heads: within each head of d rows, new row 2i + j = old row j*(d/2) + i.
std::vector<float> permute_qk_rows(const float* data, int64_t rows, int64_t cols, int64_t n_head);
// Its inverse, for reading a GGUF back: old row j*(d/2) + i = new row 2i + j. Both throw
// ConfigError when the rows do not split into n_head heads of even size.
std::vector<float> unpermute_qk_rows(const float* data, int64_t rows, int64_t cols, int64_t n_head);

// Llama-3.x rope scaling as llama.cpp's rope_freqs tensor (head_dim / 2 factors that divide
// the base frequencies); empty when the config has no llama3 scaling.
std::vector<float> llama3_rope_factors(const ModelConfig& cfg);

} // namespace slimtune::io
