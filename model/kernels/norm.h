// LayerNorm and RMSNorm over the last dimension of a [rows, cols] buffer. Row statistics are
// accumulated in double (the cost is negligible next to the GEMMs, and the result then matches
// a float64 reference to float rounding). Backward kernels accumulate into dx/dw/db and skip
// null destinations. Weight/bias gradients are column sums done in a fixed order.
#pragma once

#include <cstdint>

namespace slimtune::kernels {

// y = (x - mean) * rstd * w + b,  rstd = 1/sqrt(var + eps), var biased (as PyTorch).
// w and b may be null (no affine part). Saves mean and rstd (rows) for backward.
template <class T>
void layer_norm_fwd(const T* x,
                    const T* w,
                    const T* b,
                    T* y,
                    T* mean,
                    T* rstd,
                    int64_t rows,
                    int64_t cols,
                    T eps) noexcept;
template <class T>
void layer_norm_bwd(const T* dy,
                    const T* x,
                    const T* w,
                    const T* mean,
                    const T* rstd,
                    T* dx,
                    T* dw,
                    T* db,
                    int64_t rows,
                    int64_t cols) noexcept;

// y = x * rstd * (w + w_offset),  rstd = 1/sqrt(mean(x^2) + eps). w_offset is 0 for Llama and
// 1 for Gemma (which stores w - 1). Saves rstd (rows).
template <class T>
void rms_norm_fwd(
    const T* x, const T* w, T* y, T* rstd, int64_t rows, int64_t cols, T eps, T w_offset) noexcept;
template <class T>
void rms_norm_bwd(const T* dy,
                  const T* x,
                  const T* w,
                  const T* rstd,
                  T* dx,
                  T* dw,
                  int64_t rows,
                  int64_t cols,
                  T w_offset) noexcept;

// Embedding lookup: y[i, :] = weight[ids[i], :]. ids must be in range (checked by the op).
template <class T>
void embedding_fwd(const T* weight, const int32_t* ids, T* y, int64_t n, int64_t dim) noexcept;
// dweight[ids[i], :] += dy[i, :], in token order for every column (deterministic).
template <class T>
void embedding_bwd(const T* dy, const int32_t* ids, T* dweight, int64_t n, int64_t dim) noexcept;

} // namespace slimtune::kernels
