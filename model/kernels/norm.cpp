#include "model/kernels/norm.h"

#include "model/kernels/parallel.h"

#include <algorithm>
#include <cmath>

namespace slimtune::kernels {

namespace {
constexpr int64_t kColBlock = 64;

template <class T> inline double dbl(T v) {
    return static_cast<double>(v);
}

// Runs f(j0, j1) over column blocks in parallel; every block walks all rows itself, so
// per-column sums have a fixed order whatever the thread count.
template <class F> void for_column_blocks(int64_t rows, int64_t cols, F f) {
    const int64_t n_blocks = (cols + kColBlock - 1) / kColBlock;
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMinWork)
    for (int64_t blk = 0; blk < n_blocks; ++blk)
        f(blk * kColBlock, std::min(cols, (blk + 1) * kColBlock));
}
} // namespace

template <class T>
void layer_norm_fwd(const T* x,
                    const T* w,
                    const T* b,
                    T* y,
                    T* mean,
                    T* rstd,
                    int64_t rows,
                    int64_t cols,
                    T eps) noexcept {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMinWork)
    for (int64_t i = 0; i < rows; ++i) {
        const T* xr = x + i * cols;
        double s = 0;
        for (int64_t j = 0; j < cols; ++j)
            s += dbl(xr[j]);
        const double m = s / static_cast<double>(cols);
        double v = 0; // two-pass variance: no cancellation for rows with a large mean
        for (int64_t j = 0; j < cols; ++j)
            v += (dbl(xr[j]) - m) * (dbl(xr[j]) - m);
        const double r = 1.0 / std::sqrt(v / static_cast<double>(cols) + static_cast<double>(eps));
        mean[i] = static_cast<T>(m);
        rstd[i] = static_cast<T>(r);
        T* yr = y + i * cols;
        for (int64_t j = 0; j < cols; ++j) {
            T h = static_cast<T>((dbl(xr[j]) - m) * r);
            yr[j] = (w ? h * w[j] : h) + (b ? b[j] : T(0));
        }
    }
}

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
                    int64_t cols) noexcept {
    if (dx) {
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * w
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMinWork)
        for (int64_t i = 0; i < rows; ++i) {
            const T *xr = x + i * cols, *dyr = dy + i * cols;
            const T m = mean[i], r = rstd[i];
            double sg = 0, sgx = 0;
            for (int64_t j = 0; j < cols; ++j) {
                double g = dbl(w ? dyr[j] * w[j] : dyr[j]);
                sg += g;
                sgx += g * dbl((xr[j] - m) * r);
            }
            const T mg = static_cast<T>(sg / static_cast<double>(cols));
            const T mgx = static_cast<T>(sgx / static_cast<double>(cols));
            T* dxr = dx + i * cols;
            for (int64_t j = 0; j < cols; ++j) {
                T g = w ? dyr[j] * w[j] : dyr[j];
                dxr[j] += r * (g - mg - (xr[j] - m) * r * mgx);
            }
        }
    }
    if (dw || db)
        for_column_blocks(rows, cols, [&](int64_t j0, int64_t j1) {
            T acc_w[kColBlock] = {}, acc_b[kColBlock] = {};
            for (int64_t i = 0; i < rows; ++i) {
                const T *xr = x + i * cols, *dyr = dy + i * cols;
                for (int64_t j = j0; j < j1; ++j) {
                    acc_w[j - j0] += dyr[j] * ((xr[j] - mean[i]) * rstd[i]);
                    acc_b[j - j0] += dyr[j];
                }
            }
            for (int64_t j = j0; j < j1; ++j) {
                if (dw)
                    dw[j] += acc_w[j - j0];
                if (db)
                    db[j] += acc_b[j - j0];
            }
        });
}

template <class T>
void rms_norm_fwd(
    const T* x, const T* w, T* y, T* rstd, int64_t rows, int64_t cols, T eps, T w_offset) noexcept {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMinWork)
    for (int64_t i = 0; i < rows; ++i) {
        const T* xr = x + i * cols;
        double ss = 0;
        for (int64_t j = 0; j < cols; ++j)
            ss += dbl(xr[j]) * dbl(xr[j]);
        const double r = 1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps));
        rstd[i] = static_cast<T>(r);
        T* yr = y + i * cols;
        for (int64_t j = 0; j < cols; ++j)
            yr[j] = static_cast<T>(dbl(xr[j]) * r) * (w ? w[j] + w_offset : T(1));
    }
}

template <class T>
void rms_norm_bwd(const T* dy,
                  const T* x,
                  const T* w,
                  const T* rstd,
                  T* dx,
                  T* dw,
                  int64_t rows,
                  int64_t cols,
                  T w_offset) noexcept {
    if (dx) {
        // dx = rstd * (g - xhat * mean(g * xhat)),  g = dy * (w + offset), xhat = x * rstd
#pragma omp parallel for schedule(static) if (rows * cols > kParallelMinWork)
        for (int64_t i = 0; i < rows; ++i) {
            const T *xr = x + i * cols, *dyr = dy + i * cols;
            const T r = rstd[i];
            double sgx = 0;
            for (int64_t j = 0; j < cols; ++j)
                sgx += dbl(dyr[j] * (w ? w[j] + w_offset : T(1))) * dbl(xr[j] * r);
            const T mgx = static_cast<T>(sgx / static_cast<double>(cols));
            T* dxr = dx + i * cols;
            for (int64_t j = 0; j < cols; ++j)
                dxr[j] += r * (dyr[j] * (w ? w[j] + w_offset : T(1)) - xr[j] * r * mgx);
        }
    }
    if (dw)
        for_column_blocks(rows, cols, [&](int64_t j0, int64_t j1) {
            T acc[kColBlock] = {};
            for (int64_t i = 0; i < rows; ++i) {
                const T* xr = x + i * cols;
                const T* dyr = dy + i * cols;
                for (int64_t j = j0; j < j1; ++j)
                    acc[j - j0] += dyr[j] * (xr[j] * rstd[i]);
            }
            for (int64_t j = j0; j < j1; ++j)
                dw[j] += acc[j - j0];
        });
}

template <class T>
void embedding_fwd(const T* weight, const int32_t* ids, T* y, int64_t n, int64_t dim) noexcept {
#pragma omp parallel for schedule(static) if (n * dim > kParallelMinWork)
    for (int64_t i = 0; i < n; ++i)
        std::copy(weight + ids[i] * dim, weight + (ids[i] + 1) * dim, y + i * dim);
}

template <class T>
void embedding_bwd(const T* dy, const int32_t* ids, T* dweight, int64_t n, int64_t dim) noexcept {
    // Tokens repeat, so rows of dweight collide: each thread owns a block of columns instead.
    for_column_blocks(n, dim, [&](int64_t j0, int64_t j1) {
        for (int64_t i = 0; i < n; ++i) {
            T* dst = dweight + ids[i] * dim;
            const T* src = dy + i * dim;
            for (int64_t j = j0; j < j1; ++j)
                dst[j] += src[j];
        }
    });
}

#define SLIMTUNE_INSTANTIATE(T)                                                                    \
    template void layer_norm_fwd<T>(const T*, const T*, const T*, T*, T*, T*, int64_t, int64_t,    \
                                    T) noexcept;                                                   \
    template void layer_norm_bwd<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,  \
                                    int64_t, int64_t) noexcept;                                    \
    template void rms_norm_fwd<T>(const T*, const T*, T*, T*, int64_t, int64_t, T, T) noexcept;    \
    template void rms_norm_bwd<T>(const T*, const T*, const T*, const T*, T*, T*, int64_t,         \
                                  int64_t, T) noexcept;                                            \
    template void embedding_fwd<T>(const T*, const int32_t*, T*, int64_t, int64_t) noexcept;       \
    template void embedding_bwd<T>(const T*, const int32_t*, T*, int64_t, int64_t) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
