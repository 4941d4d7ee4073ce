// One pre-norm transformer block with switches instead of copies: LayerNorm or RMSNorm,
// GELU, SwiGLU or GeGLU MLP, optional biases, optional rotary positions, grouped-query
// attention, and Gemma's extras (norms after each branch, per-head q/k norms, soft-capped
// scores, a sliding window).
//   h = x + post1(o(attention(rope(qn(q(norm1(x)))), rope(kn(k(norm1(x)))), v(norm1(x)))))
//   y = h + post2(down(act(up(norm2(h)))))   act = gelu_tanh, silu(gate) * up, gelu_tanh(gate) * up
// (post1, post2, qn and kn are the identity unless switched on.)
// The full model families (and Hugging Face parameter names) build on this block.
#pragma once

#include "common/rng.h"
#include "model/tensor.h"

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace slimtune {

enum class NormKind { Layer, Rms };
enum class MlpKind { Gelu, SwiGlu, GeGlu };

struct BlockConfig {
    int64_t hidden = 0, n_head = 0, n_head_kv = 0, head_dim = 0, intermediate = 0;
    NormKind norm = NormKind::Rms;
    MlpKind mlp = MlpKind::SwiGlu;
    bool bias = false; // biases on every projection
    bool rope = true;  // rotary positions on q and k
    double rope_theta = 10000.0;
    int64_t rotary_dim = 0; // 0 means the whole head
    float norm_eps = 1e-6f;
    // Family switches read from config.json (defaults: a plain pre-norm block).
    float attn_scale = 0.0f;           // 0 means 1/sqrt(head_dim); Granite: attention_multiplier
    float residual_multiplier = 1.0f;  // Granite scales each branch before the residual add
    std::vector<double> rope_inv_freq; // scaled frequencies (llama3, linear); empty: default
    // Gemma: RMSNorm weights act as 1 + w; norms after the attention and MLP outputs (Gemma 2,
    // 3); RMSNorm of every query and key head before RoPE (Gemma 3); tanh soft-capping of the
    // scaled scores (Gemma 2; 0 none); a sliding window of `window` tokens (0: none).
    float norm_weight_offset = 0.0f;
    bool post_norms = false, qk_norm = false;
    float attn_softcap = 0.0f;
    int64_t window = 0;
};

// A low-rank adapter on a linear layer (LoRA, as PEFT defines it):
//   y = x W^T + b + scaling * (dropout(x) A^T) B^T,   A (r, in), B (out, r).
// Undefined `a` means no adapter; `merged` means B A is currently folded into W.
struct LoraParams {
    Tensor a, b;
    float scaling = 1.0f;
    float dropout = 0.0f;
    bool merged = false;
};

struct LinearParams {
    Tensor weight, bias; // (out, in), (out) or undefined
    LoraParams lora;
};
struct NormParams {
    Tensor weight, bias; // (C), (C) or undefined
};
struct BlockParams {
    NormParams norm1, norm2;
    NormParams post_attn_norm, post_ffn_norm; // BlockConfig::post_norms
    NormParams q_norm, k_norm;                // BlockConfig::qk_norm, (head_dim) each
    LinearParams qkv;                         // fused q|k|v (GPT-2's c_attn); else q, k, v
    LinearParams q, k, v, o, up, gate, down;  // gate only for SwiGLU
};

// Keys and values of the positions seen so far, for generation: (1, capacity, Hkv, D) each,
// after RoPE. block_forward appends the new tokens' entries at `length`; the caller advances
// `length` once every layer has run.
struct KvCache {
    Tensor k, v;
    int64_t length = 0;
};

// Where each token of a (B, T) batch sits: its position (for RoPE) and, when sequences are
// packed, its document id (attention never crosses documents). Both B*T long or empty.
struct TokenLayout {
    int64_t batch = 0, seq = 0;
    std::span<const int32_t> positions, doc_ids;
    // Training-time randomness (LoRA dropout); null means evaluation: no dropout.
    Rng* dropout_rng = nullptr;
    // Activation checkpointing: while recording, each block keeps only its input on the tape
    // and runs again during backward (less memory, one more forward of every block).
    bool checkpoint_activations = false;
};

// Validates the configuration (ConfigError naming the bad field).
void block_check(const BlockConfig& cfg);
// Random init: projections N(0, 0.02), the output projections scaled by 1/sqrt(2 n_layer),
// norms 1, biases 0 (GPT-2's scheme).
BlockParams block_init(const BlockConfig& cfg, int64_t n_layer, Rng& rng, bool trainable);
// Calls f(name, tensor) for every defined parameter, names like "q.weight".
void block_for_each_param(BlockParams& p,
                          const std::function<void(const std::string&, Tensor&)>& f);
// x: (B, T, C) -> (B, T, C). With a cache (batch 1, inference only) the T new tokens attend
// to the cached ones too. With layout.checkpoint_activations (and recording on) the block is
// one tape entry that keeps x and replays the block in backward, with the same dropout masks.
Tensor block_forward(const BlockConfig& cfg,
                     const BlockParams& p,
                     const Tensor& x,
                     const TokenLayout& layout,
                     KvCache* cache = nullptr);
// An empty cache for `capacity` positions.
KvCache kv_cache_make(const BlockConfig& cfg, int64_t capacity);

} // namespace slimtune
