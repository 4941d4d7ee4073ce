#include "model/kernels/activation.h"

#include "common/rng.h"
#include "model/kernels/parallel.h"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace slimtune::kernels {

namespace {
template <class T> constexpr T kGeluK0 = T(0.7978845608028654); // sqrt(2/pi)
template <class T> constexpr T kGeluK1 = T(0.044715);

template <class T> inline T sigmoid(T x) {
    return T(1) / (T(1) + std::exp(-x));
}

// Elementwise kernels work on chunks so that tanh and exp run on whole vectors: in float,
// Eigen's vectorized tanh and exp (a few ulp from libm) replace scalar libm calls that cost
// ~15 % of a GPT-2 forward; in double (the finite-difference checks) libm stays.
constexpr int64_t kChunk = 256;

inline void tanh_n(const float* in, float* out, int64_t n) {
    Eigen::Map<Eigen::ArrayXf>(out, n) = Eigen::Map<const Eigen::ArrayXf>(in, n).tanh();
}
inline void tanh_n(const double* in, double* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        out[i] = std::tanh(in[i]);
}
inline void sigmoid_n(const float* in, float* out, int64_t n) {
    const Eigen::Map<const Eigen::ArrayXf> x(in, n);
    Eigen::Map<Eigen::ArrayXf>(out, n) = (1.0f + (-x).exp()).inverse();
}
inline void sigmoid_n(const double* in, double* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        out[i] = sigmoid(in[i]);
}

// t = tanh(k0 (x + k1 x^3)) for n <= kChunk elements: the part GELU's forward and backward share.
template <class T> void gelu_tanh_of(const T* x, T* t, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        t[i] = kGeluK0<T> * (x[i] + kGeluK1<T> * x[i] * x[i] * x[i]);
    tanh_n(t, t, n);
}

// Runs body(begin, length) over [0, n) in chunks, in parallel when n is large.
template <class F> void for_chunks(int64_t n, F&& body) {
    const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n > kParallelMinWork)
    for (int64_t c = 0; c < chunks; ++c)
        body(c * kChunk, std::min(kChunk, n - c * kChunk));
}

// d/dx of 0.5 x (1 + t), t = tanh(k0 (x + k1 x^3)).
template <class T> inline T gelu_tanh_slope(T x, T t) {
    return T(0.5) * (T(1) + t) +
           T(0.5) * x * (T(1) - t * t) * kGeluK0<T> * (T(1) + T(3) * kGeluK1<T> * x * x);
}
} // namespace

template <class T> void gelu_tanh_fwd(const T* x, T* y, int64_t n) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        T t[kChunk] = {}; // zeroed: GCC cannot see that the first len are always written
        gelu_tanh_of(x + b, t, len);
        for (int64_t i = 0; i < len; ++i)
            y[b + i] = T(0.5) * x[b + i] * (T(1) + t[i]);
    });
}

template <class T> void gelu_tanh_bwd(const T* x, const T* dy, T* dx, int64_t n) noexcept {
    if (!dx)
        return;
    for_chunks(n, [&](int64_t b, int64_t len) {
        T t[kChunk] = {}; // zeroed: GCC cannot see that the first len are always written
        gelu_tanh_of(x + b, t, len);
        for (int64_t i = 0; i < len; ++i)
            dx[b + i] += dy[b + i] * gelu_tanh_slope(x[b + i], t[i]);
    });
}

template <class T> void geglu_fwd(const T* gate, const T* up, T* y, int64_t n) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        T t[kChunk] = {};
        gelu_tanh_of(gate + b, t, len);
        for (int64_t i = 0; i < len; ++i)
            y[b + i] = T(0.5) * gate[b + i] * (T(1) + t[i]) * up[b + i];
    });
}

template <class T>
void geglu_bwd(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        T t[kChunk] = {};
        gelu_tanh_of(gate + b, t, len);
        for (int64_t i = 0; i < len; ++i) {
            const T g = gate[b + i];
            if (dgate)
                dgate[b + i] += dy[b + i] * up[b + i] * gelu_tanh_slope(g, t[i]);
            if (dup)
                dup[b + i] += dy[b + i] * T(0.5) * g * (T(1) + t[i]);
        }
    });
}

template <class T> void softcap_fwd(const T* x, T* y, int64_t n, T cap) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        for (int64_t i = 0; i < len; ++i)
            y[b + i] = x[b + i] / cap;
        tanh_n(y + b, y + b, len);
        for (int64_t i = 0; i < len; ++i)
            y[b + i] *= cap;
    });
}

template <class T> void softcap_bwd(const T* y, const T* dy, T* dx, int64_t n, T cap) noexcept {
    if (!dx)
        return;
    for_chunks(n, [&](int64_t b, int64_t len) {
        for (int64_t i = 0; i < len; ++i) {
            const T t = y[b + i] / cap;
            dx[b + i] += dy[b + i] * (T(1) - t * t);
        }
    });
}

template <class T> void silu_fwd(const T* x, T* y, int64_t n) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        T s[kChunk] = {};
        sigmoid_n(x + b, s, len);
        for (int64_t i = 0; i < len; ++i)
            y[b + i] = x[b + i] * s[i];
    });
}

template <class T> void silu_bwd(const T* x, const T* dy, T* dx, int64_t n) noexcept {
    if (!dx)
        return;
    for_chunks(n, [&](int64_t b, int64_t len) {
        T s[kChunk] = {};
        sigmoid_n(x + b, s, len);
        for (int64_t i = 0; i < len; ++i)
            dx[b + i] += dy[b + i] * s[i] * (T(1) + x[b + i] * (T(1) - s[i]));
    });
}

template <class T> void swiglu_fwd(const T* gate, const T* up, T* y, int64_t n) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        T s[kChunk] = {};
        sigmoid_n(gate + b, s, len);
        for (int64_t i = 0; i < len; ++i)
            y[b + i] = gate[b + i] * s[i] * up[b + i];
    });
}

template <class T>
void swiglu_bwd(const T* gate, const T* up, const T* dy, T* dgate, T* dup, int64_t n) noexcept {
    for_chunks(n, [&](int64_t b, int64_t len) {
        T s[kChunk] = {};
        sigmoid_n(gate + b, s, len);
        for (int64_t i = 0; i < len; ++i) {
            const T g = gate[b + i];
            if (dgate)
                dgate[b + i] += dy[b + i] * up[b + i] * s[i] * (T(1) + g * (T(1) - s[i]));
            if (dup)
                dup[b + i] += dy[b + i] * g * s[i];
        }
    });
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
    template void geglu_fwd<T>(const T*, const T*, T*, int64_t) noexcept;                          \
    template void geglu_bwd<T>(const T*, const T*, const T*, T*, T*, int64_t) noexcept;            \
    template void softcap_fwd<T>(const T*, T*, int64_t, T) noexcept;                               \
    template void softcap_bwd<T>(const T*, const T*, T*, int64_t, T) noexcept;                     \
    template void dropout_fwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t) noexcept;       \
    template void dropout_bwd<T>(const T*, T*, int64_t, float, uint64_t, uint64_t) noexcept;       \
    template void add_column_sums<T>(const T*, T*, int64_t, int64_t) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
