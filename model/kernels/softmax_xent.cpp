#include "model/kernels/softmax_xent.h"

#include "model/kernels/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace slimtune::kernels {

template <class T>
void softmax_xent_fwd(const T* logits,
                      const int32_t* targets,
                      T* row_loss,
                      T* lse,
                      int64_t rows,
                      int64_t vocab,
                      T logit_scale) noexcept {
#pragma omp parallel for schedule(static) if (rows * vocab > kParallelMinWork)
    for (int64_t r = 0; r < rows; ++r) {
        const T* z = logits + r * vocab;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j < vocab; ++j)
            m = std::max(m, logit_scale * z[j]);
        double sum = 0; // subtracting the max keeps exp() in range; double keeps the sum exact
        for (int64_t j = 0; j < vocab; ++j)
            sum += static_cast<double>(std::exp(logit_scale * z[j] - m));
        const T l = m + static_cast<T>(std::log(sum));
        lse[r] = l;
        row_loss[r] = targets[r] == kIgnoreLabel ? T(0) : l - logit_scale * z[targets[r]];
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
                      bool overwrite) noexcept {
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
        for (int64_t j = 0; j < vocab; ++j) {
            T d = gs * std::exp(logit_scale * z[j] - l); // read z[j] before writing dz[j]
            dz[j] = overwrite ? d : dz[j] + d;
        }
        dz[t] -= gs;
    }
}

#define SLIMTUNE_INSTANTIATE(T)                                                                    \
    template void softmax_xent_fwd<T>(const T*, const int32_t*, T*, T*, int64_t, int64_t,          \
                                      T) noexcept;                                                 \
    template void softmax_xent_bwd<T>(const T*, const int32_t*, const T*, T, T*, int64_t, int64_t, \
                                      T, bool) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
