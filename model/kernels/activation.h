// Pointwise activations and dropout on raw buffers. Forward kernels write y; backward kernels
// ACCUMULATE into the input gradients (dx += ...), and skip a null destination.
#pragma once

#include <cstdint>

namespace slimtune::kernels {

// GELU, tanh approximation (GPT-2's "gelu_new", PyTorch approximate="tanh"):
//   y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
template <class T> void gelu_tanh_fwd(const T* x, T* y, int64_t n) noexcept;
template <class T> void gelu_tanh_bwd(const T* x, const T* dy, T* dx, int64_t n) noexcept;

// SiLU: y = x * sigmoid(x)
template <class T> void silu_fwd(const T* x, T* y, int64_t n) noexcept;
template <class T> void silu_bwd(const T* x, const T* dy, T* dx, int64_t n) noexcept;

// SwiGLU as Llama's MLP uses it: y = silu(gate) * up
template <class T> void swiglu_fwd(const T* gate, const T* up, T* y, int64_t n) noexcept;
template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) noexcept;

// GeGLU as Gemma's MLP uses it: y = gelu_tanh(gate) * up
template <class T> void geglu_fwd(const T* gate, const T* up, T* y, int64_t n) noexcept;
template <class T>
void geglu_bwd(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) noexcept;

// Soft-capping (Gemma 2's final logits): y = cap * tanh(x / cap), cap > 0
template <class T> void softcap_fwd(const T* x, T* y, int64_t n, T cap) noexcept;
// Needs the forward's y: dx += dy (1 - (y / cap)^2)
template <class T> void softcap_bwd(const T* y, const T* dy, T* dx, int64_t n, T cap) noexcept;

// Inverted dropout: element i is kept iff rng_uniform(seed, offset + i) >= p, and kept values
// are scaled by 1/(1-p). The mask is recomputed in backward from (seed, offset), never stored.
template <class T>
void dropout_fwd(const T* x, T* y, int64_t n, float p, uint64_t seed, uint64_t offset) noexcept;
template <class T>
void dropout_bwd(const T* dy, T* dx, int64_t n, float p, uint64_t seed, uint64_t offset) noexcept;

// out[j] += sum_i x[i, j] over rows (bias gradients). Each column is summed by one thread in
// row order, so the result does not depend on the thread count.
template <class T> void add_column_sums(const T* x, T* out, int64_t rows, int64_t cols) noexcept;

} // namespace slimtune::kernels
