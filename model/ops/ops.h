// The differentiable ops. Each validates shapes at entry (ShapeError naming the op and both
// shapes), runs its forward kernel, and, when recording, saves what its backward needs and
// appends one tape entry whose closure calls the backward kernel. Backward accumulates into
// inputs' gradients. Shape letters: N rows (tokens), C features, V vocabulary, B batch,
// T sequence, Hq/Hkv query/kv heads, D head dim.
#pragma once

#include "common/rng.h"
#include "model/tensor.h"

#include <cstdint>
#include <span>
#include <vector>

namespace slimtune {

// ---- shape glue --------------------------------------------------------------------------
// Same values, another shape (element counts must match); shares storage with x.
Tensor reshape(const Tensor& x, const Shape& shape);
// x[..., start : start + len] (a copy).
Tensor narrow_last(const Tensor& x, int64_t start, int64_t len);
// Sum of all elements, as a one-element tensor of shape []. Accumulated in double, in order.
Tensor sum(const Tensor& x);

// ---- elementwise -------------------------------------------------------------------------
// NumPy broadcasting: shapes align from the right; a dimension of 1 (or a missing one) repeats.
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float alpha);

Tensor gelu_tanh(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor swiglu(const Tensor& gate, const Tensor& up); // silu(gate) * up
Tensor geglu(const Tensor& gate, const Tensor& up);  // gelu_tanh(gate) * up (Gemma)
Tensor softcap(const Tensor& x, float cap);          // cap * tanh(x / cap), cap > 0
// Inverted dropout with p in [0, 1): draws numel numbers from rng (advancing it). Identity
// when !training or p == 0.
Tensor dropout(const Tensor& x, float p, Rng& rng, bool training = true);

// ---- linear algebra ----------------------------------------------------------------------
// y (..., out) = x (..., in) W^T + b.  W: (out, in) as Hugging Face stores it; b: (out) or none.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
// A linear layer with a LoRA adapter in one op (PEFT's math, without materialising the
// adapter's (..., out) output separately): y = x W^T + b + scaling * (x_lora A^T) B^T, with
// A (r, in), B (out, r); x_lora is x or dropout(x). Gradients reach x, x_lora, A, B (and W, b
// when they are trainable).
Tensor lora_linear(const Tensor& x,
                   const Tensor& x_lora,
                   const Tensor& weight,
                   const Tensor& bias,
                   const Tensor& a,
                   const Tensor& b,
                   float scaling);
// op(a) (..., M, K) x op(b) (..., K, N), op = transpose of the last two dims when asked.
// Leading dims of a and b must be equal, or b may be 2-D (shared by every batch).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- embedding ---------------------------------------------------------------------------
// (n, C) rows of weight (V, C); every id must lie in [0, V).
Tensor embedding(const Tensor& weight, std::span<const int32_t> ids);

// ---- norms -------------------------------------------------------------------------------
// Over the last dim. weight/bias (C) may be undefined (no affine part).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
// y = x / sqrt(mean(x^2) + eps) * (weight + weight_offset); Gemma uses weight_offset = 1.
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, float weight_offset = 0.0f);

// ---- positions and attention -------------------------------------------------------------
// Hugging Face default inverse frequencies: 1 / theta^(2i / rotary_dim), i < rotary_dim / 2.
std::vector<double> rope_inv_freq(int64_t rotary_dim, double theta);
// x: (B, T, H, D) or (N, H, D); positions: one per token (B*T or N). Rotates the first
// 2 * inv_freq.size() dims of every head (rotate-half convention) and passes the rest.
Tensor rope(const Tensor& x, std::span<const int32_t> positions, std::span<const double> inv_freq);

struct AttentionOptions {
    float scale = 0.0f;               // 0 means 1 / sqrt(D)
    std::span<const int32_t> doc_ids; // (B*T) or empty; each document one contiguous run
    int64_t window = 0;               // sliding window in tokens; 0 means unlimited
    float softcap = 0.0f; // scores capped to softcap * tanh(s / softcap) when > 0 (Gemma 2)
    // Inference with a KV cache: query i sits at key position q_offset + i, and k, v may hold
    // more positions than q (a cache buffer; keys past the query are never read). Not
    // differentiable: only allowed when nothing is recorded.
    int64_t q_offset = 0;
};
// Causal self-attention. q: (B, T, Hq, D), k and v: (B, T, Hkv, D), Hq % Hkv == 0.
// Returns (B, T, Hq, D). With doc_ids, a query sees only earlier keys of its own document.
Tensor
attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opts = {});

// ---- losses ------------------------------------------------------------------------------
struct CrossEntropyOptions {
    float logit_scale = 1.0f; // logits are multiplied by this first (Granite: 1/logits_scaling)
    float softcap = 0.0f;     // then capped to softcap * tanh(z / softcap) when > 0 (Gemma 2)
    double normalizer = 0.0;  // divide the summed loss by this; 0 means the counted tokens here
                              // (gradient accumulation passes the count over all micro-batches)
    int64_t chunk_rows = 0;   // rows per chunk in linear_cross_entropy; 0: ~32 MB, >= 128 rows
};
// Mean over rows whose target is not -100 of (logsumexp(z) - z[target]); shape []. A batch
// with no counted token has loss 0 and zero gradients.
Tensor cross_entropy(const Tensor& logits,
                     std::span<const int32_t> targets,
                     const CrossEntropyOptions& opts = {});
// cross_entropy(hidden W^T, targets) without ever holding the (N, V) logits: rows are done a
// chunk at a time, and the gradients w.r.t. hidden (and W, if it is trainable) are computed
// during the forward pass while each chunk's logits exist; backward only scales them.
Tensor linear_cross_entropy(const Tensor& hidden,
                            const Tensor& weight,
                            std::span<const int32_t> targets,
                            const CrossEntropyOptions& opts = {});

} // namespace slimtune
