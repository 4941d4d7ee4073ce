#include "model/kernels/rope.h"

#include "model/kernels/parallel.h"

#include <cmath>

namespace slimtune::kernels {

template <class T>
void rope_table(const int32_t* pos,
                int64_t n_tok,
                const double* inv_freq,
                int64_t half,
                T* cos_out,
                T* sin_out) noexcept {
#pragma omp parallel for schedule(static) if (n_tok * half > kParallelMinWork)
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t i = 0; i < half; ++i) {
            double a = static_cast<double>(pos[t]) * inv_freq[i];
            cos_out[t * half + i] = static_cast<T>(std::cos(a));
            sin_out[t * half + i] = static_cast<T>(std::sin(a));
        }
}

namespace {
// sign = +1: forward rotation, written to out. sign = -1: inverse rotation, added to out.
template <class T, bool kAccumulate>
void rope_rotate(const T* in,
                 T* out,
                 const T* cos,
                 const T* sin,
                 int64_t n_tok,
                 int64_t n_head,
                 int64_t head_dim,
                 int64_t half,
                 T sign) noexcept {
#pragma omp parallel for schedule(static) if (n_tok * n_head * head_dim > kParallelMinWork)
    for (int64_t t = 0; t < n_tok; ++t) {
        const T* c = cos + t * half;
        const T* s = sin + t * half;
        for (int64_t h = 0; h < n_head; ++h) {
            const T* u = in + (t * n_head + h) * head_dim;
            T* v = out + (t * n_head + h) * head_dim;
            for (int64_t i = 0; i < half; ++i) {
                T lo = u[i] * c[i] - sign * u[i + half] * s[i];
                T hi = u[i + half] * c[i] + sign * u[i] * s[i];
                if constexpr (kAccumulate) {
                    v[i] += lo;
                    v[i + half] += hi;
                } else {
                    v[i] = lo;
                    v[i + half] = hi;
                }
            }
            for (int64_t i = 2 * half; i < head_dim; ++i) {
                if constexpr (kAccumulate)
                    v[i] += u[i];
                else
                    v[i] = u[i];
            }
        }
    }
}
} // namespace

template <class T>
void rope_fwd(const T* x,
              T* y,
              const T* cos,
              const T* sin,
              int64_t n_tok,
              int64_t n_head,
              int64_t head_dim,
              int64_t half) noexcept {
    rope_rotate<T, false>(x, y, cos, sin, n_tok, n_head, head_dim, half, T(1));
}

template <class T>
void rope_bwd(const T* dy,
              T* dx,
              const T* cos,
              const T* sin,
              int64_t n_tok,
              int64_t n_head,
              int64_t head_dim,
              int64_t half) noexcept {
    if (dx)
        rope_rotate<T, true>(dy, dx, cos, sin, n_tok, n_head, head_dim, half, T(-1));
}

#define SLIMTUNE_INSTANTIATE(T)                                                                    \
    template void rope_table<T>(const int32_t*, int64_t, const double*, int64_t, T*, T*) noexcept; \
    template void rope_fwd<T>(const T*, T*, const T*, const T*, int64_t, int64_t, int64_t,         \
                              int64_t) noexcept;                                                   \
    template void rope_bwd<T>(const T*, T*, const T*, const T*, int64_t, int64_t, int64_t,         \
                              int64_t) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
