// Rotary position embedding, Hugging Face's rotate-half convention. Within each head of
// head_dim D, the first rotary_dim = 2*half dims are rotated and the rest pass through
// (partial rotary, as in Phi/GPT-NeoX style configs):
//   out[i]        = x[i] * cos[i] - x[i + half] * sin[i]          i < half
//   out[i + half] = x[i + half] * cos[i] + x[i] * sin[i]
// The backward pass is the inverse rotation (sin negated).
#pragma once

#include <cstdint>

namespace slimtune::kernels {

// cos/sin tables (n_tok, half) for positions pos (n_tok) and inverse frequencies inv_freq
// (half). Angles are computed in double, so long positions lose no precision.
template <class T>
void rope_table(const int32_t* pos,
                int64_t n_tok,
                const double* inv_freq,
                int64_t half,
                T* cos_out,
                T* sin_out) noexcept;

// x, y: (n_tok, n_head, head_dim). y = rotate(x) (forward).
template <class T>
void rope_fwd(const T* x,
              T* y,
              const T* cos,
              const T* sin,
              int64_t n_tok,
              int64_t n_head,
              int64_t head_dim,
              int64_t half) noexcept;
// dx += rotate^T(dy) (backward).
template <class T>
void rope_bwd(const T* dy,
              T* dx,
              const T* cos,
              const T* sin,
              int64_t n_tok,
              int64_t n_head,
              int64_t head_dim,
              int64_t half) noexcept;

} // namespace slimtune::kernels
