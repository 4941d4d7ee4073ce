#include "model/kernels/softmax_xent.h"

#include "model/kernels/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace slimtune::kernels {

namespace {
// The row's logit as the loss sees it: scaled, then soft-capped when cap > 0.
template <class T> inline T shaped(T z, T scale, T cap) {
    return cap > T(0) ? cap * std::tanh(scale * z / cap) : scale * z;
}
} // namespace

template <class T>
void softmax_xent_fwd(const T* logits,
                      const int32_t* targets,
                      T* row_loss,
                      T* lse,
                      int64_t rows,
                      int64_t vocab,
                      T logit_scale,
                      T softcap) noexcept {
#pragma omp parallel for schedule(static) if (rows * vocab > kParallelMinWork)
    for (int64_t r = 0; r < rows; ++r) {
        const T* z = logits + r * vocab;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < vocab; ++j)
            m = std::max(m, shaped(z[j], logit_scale, softcap));
        double sum = 0; // subtracting the max keeps exp() in range; double keeps the sum exact
        for (int64_t j = 0; j < vocab; ++j)
            sum += static_cast<double>(std::exp(shaped(z[j], logit_scale, softcap) - m));
        const T l = m + static_cast<T>(std::log(sum));
        lse[r] = l;
        row_loss[r] =
            targets[r] == kIgnoreLabel ? T(0) : l - shaped(z[targets[r]], logit_scale, softcap);
    }
}

template <class T>
void softmax_xent_bwd(const T* logits,
                      const int32_t* targets,
                      const T* lse,
                      T g,
                      T* dlogits,
                      int64_t rows,
                      int64_t vocab,
                      T logit_scale,
                      bool overwrite,
                      T softcap) noexcept {
    const T gs = g * logit_scale;
#pragma omp parallel for schedule(static) if (rows * vocab > kParallelMinWork)
    for (int64_t r = 0; r < rows; ++r) {
        const T* z = logits + r * vocab;
        T* dz = dlogits + r * vocab;
        const int32_t t = targets[r];
        if (t == kIgnoreLabel) {
            if (overwrite)
                std::fill(dz, dz + vocab, T(0));
            continue;
        }
        const T l = lse[r];
        if (softcap > T(0)) {
            // d/dz of cap * tanh(scale z / cap) is scale (1 - tanh^2).
            T target_slope = T(0);
            for (int64_t j = 0; j < vocab; ++j) {
                const T th = std::tanh(logit_scale * z[j] / softcap); // read before writing
                const T slope = T(1) - th * th;
                if (j == t)
                    target_slope = slope;
                const T d = gs * slope * std::exp(softcap * th - l);
                dz[j] = overwrite ? d : dz[j] + d;
            }
            dz[t] -= gs * target_slope;
            continue;
        }
        for (int64_t j = 0; j < vocab; ++j) {
            T d = gs * std::exp(logit_scale * z[j] - l); // read z[j] before writing dz[j]
            dz[j] = overwrite ? d : dz[j] + d;
        }
        dz[t] -= gs;
    }
}

#define SLIMTUNE_INSTANTIATE(T)                                                                    \
    template void softmax_xent_fwd<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t, T,       \
                                      T) noexcept;                                                 \
    template void softmax_xent_bwd<T>(const T*, const int32_t*, const T*, T, T*, int64_t, int64_t, \
                                      T, bool, T) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
