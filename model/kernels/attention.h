// Fused causal self-attention with grouped-query heads.
//   q, out: (B, T, Hq, D)    k, v: (B, T, Hkv, D)    query head h reads kv head h / (Hq / Hkv)
//   key_start: (B, T) first key position query (b, i) may see: it sees keys [key_start, i]
//              (shifted by q_offset with a KV cache, see AttentionDims).
//              All zeros is plain causal attention; the start of the token's document makes
//              packed sequences independent; i - window + 1 gives a sliding window.
//   lse: (B, Hq, T) log-sum-exp of each query's scaled scores, saved for backward.
// No (T, T) matrix is kept between forward and backward: backward recomputes the scores one
// tile of queries at a time from q, k and lse (FlashAttention's recomputation idea).
#pragma once

#include <cstdint>

namespace slimtune::kernels {

struct AttentionDims {
    int64_t batch, seq, n_head, n_head_kv, head_dim;
    // Inference with a KV cache: k and v hold seq_kv positions (0 means seq) and query i sits
    // at key position i + q_offset, seeing keys [key_start, i + q_offset]. Training uses 0, 0
    // (backward supports only that).
    int64_t seq_kv = 0, q_offset = 0;
    // Gemma 2's attention-logit soft-capping: scaled scores s become softcap * tanh(s / softcap)
    // before the softmax; 0 means none.
    double softcap = 0;
    int64_t keys() const { return seq_kv ? seq_kv : seq; }
};

template <class T>
void attention_fwd(const T* q,
                   const T* k,
                   const T* v,
                   const int32_t* key_start,
                   T* out,
                   T* lse,
                   const AttentionDims& dims,
                   T scale) noexcept;

// Accumulates into dq, dk, dv (each may be null). Needs the forward's out and lse.
template <class T>
void attention_bwd(const T* q,
                   const T* k,
                   const T* v,
                   const int32_t* key_start,
                   const T* out,
                   const T* lse,
                   const T* dout,
                   T* dq,
                   T* dk,
                   T* dv,
                   const AttentionDims& dims,
                   T scale) noexcept;

} // namespace slimtune::kernels
