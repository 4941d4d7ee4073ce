#include "model/kernels/activation.h"

#include "common/rng.h"
#include "model/kernels/parallel.h"

#include <algorithm>
#include <cmath>

namespace slimtune::kernels {

namespace {
template <class T> constexpr T kGeluK0 = T(0.7978845608028654); // sqrt(2/pi)
template <class T> constexpr T kGeluK1 = T(0.044715);

template <class T> inline T sigmoid(T x) {
    return T(1) / (T(1) + std::exp(-x));
}
} // namespace

template <class T> void gelu_tanh_fwd(const T* x, T* y, int64_t n) noexcept {
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i) {
        T v = x[i];
        T t = std::tanh(kGeluK0<T> * (v + kGeluK1<T> * v * v * v));
        y[i] = T(0.5) * v * (T(1) + t);
    }
}

template <class T> void gelu_tanh_bwd(const T* x, const T* dy, T* dx, int64_t n) noexcept {
    if (!dx)
        return;
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i) {
        T v = x[i];
        T t = std::tanh(kGeluK0<T> * (v + kGeluK1<T> * v * v * v));
        // d/dx: 0.5 (1 + t) + 0.5 x (1 - t^2) k0 (1 + 3 k1 x^2)
        T d = T(0.5) * (T(1) + t) +
              T(0.5) * v * (T(1) - t * t) * kGeluK0<T> * (T(1) + T(3) * kGeluK1<T> * v * v);
        dx[i] += dy[i] * d;
    }
}

template <class T> void silu_fwd(const T* x, T* y, int64_t n) noexcept {
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i)
        y[i] = x[i] * sigmoid(x[i]);
}

template <class T> void silu_bwd(const T* x, const T* dy, T* dx, int64_t n) noexcept {
    if (!dx)
        return;
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i) {
        T s = sigmoid(x[i]);
        dx[i] += dy[i] * s * (T(1) + x[i] * (T(1) - s));
    }
}

template <class T> void swiglu_fwd(const T* gate, const T* up, T* y, int64_t n) noexcept {
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i)
        y[i] = gate[i] * sigmoid(gate[i]) * up[i];
}

template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) noexcept {
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i) {
        T g = gate[i];
        T s = sigmoid(g);
        if (dgate)
            dgate[i] += dy[i] * up[i] * s * (T(1) + g * (T(1) - s));
        if (dup)
            dup[i] += dy[i] * g * s;
    }
}

template <class T>
void dropout_fwd(const T* x, T* y, int64_t n, float p, uint64_t seed, uint64_t offset) noexcept {
    const T keep_scale = T(1) / (T(1) - T(p));
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i)
        y[i] = rng_uniform(seed, offset + static_cast<uint64_t>(i)) >= p ? x[i] * keep_scale : T(0);
}

template <class T>
void dropout_bwd(const T* dy, T* dx, int64_t n, float p, uint64_t seed, uint64_t offset) noexcept {
    if (!dx)
        return;
    const T keep_scale = T(1) / (T(1) - T(p));
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i)
        if (rng_uniform(seed, offset + static_cast<uint64_t>(i)) >= p)
            dx[i] += dy[i] * keep_scale;
}

template <class T> void add_column_sums(const T* x, T* out, int64_t rows, int64_t cols) noexcept {
    constexpr int64_t kBlock = 64; // columns per task: one cache line of floats per row, x4
    const int64_t n_blocks = (cols + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMinWork)
    for (int64_t b = 0; b < n_blocks; ++b) {
        const int64_t j0 = b * kBlock, j1 = std::min(cols, j0 + kBlock);
        T acc[kBlock] = {};
        for (int64_t i = 0; i < rows; ++i) {
            const T* row = x + i * cols;
            for (int64_t j = j0; j < j1; ++j)
                acc[j - j0] += row[j];
        }
        for (int64_t j = j0; j < j1; ++j)
            out[j] += acc[j - j0];
    }
}

#define SLIMTUNE_INSTANTIATE(T)                                                                    \
    template void gelu_tanh_fwd<T>(const T*, T*, int64_t) noexcept;                                \
    template void gelu_tanh_bwd<T>(const T*, const T*, T*, int64_t) noexcept;                      \
    template void silu_fwd<T>(const T*, T*, int64_t) noexcept;                                     \
    template void silu_bwd<T>(const T*, const T*, T*, int64_t) noexcept;                           \
    template void swiglu_fwd<T>(const T*, const T*, T*, int64_t) noexcept;                         \
    template void swiglu_bwd<T>(const T*, const T*, const T*, T*, T*, int64_t) noexcept;           \
    template void dropout_fwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t) noexcept;       \
    template void dropout_bwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t) noexcept;       \
    template void add_column_sums<T>(const T*, T*, int64_t, int64_t) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
