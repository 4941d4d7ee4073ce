#include "model/kernels/attention.h"

#include "common/error.h"
#include "model/kernels/gemm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace slimtune::kernels {

namespace {

constexpr int64_t kQueryTile = 64; // query rows per tile: a (64, T) score block stays in L2

// The keys one tile of queries [i0, i1) may see, as one range [lo, hi) of key positions;
// query i sits at key position i + off.
struct Tile {
    int64_t i0, i1, lo, hi, off;
};

Tile make_tile(const int32_t* key_start_b, int64_t i0, int64_t seq, int64_t off) {
    int64_t i1 = std::min(seq, i0 + kQueryTile);
    int64_t lo = i0 + off;
    for (int64_t i = i0; i < i1; ++i)
        lo = std::min<int64_t>(lo, key_start_b[i]);
    return {i0, i1, lo, i1 + off, off};
}

// S = scale * Q_tile K_range^T (soft-capped when softcap > 0, its tanh kept in tanh_out when
// that is not null), then P = exp(S - lse) with masked entries 0.
// When lse_in is null, computes lse from the row maxima and sums and writes it to lse_out.
template <class T>
void tile_probabilities(const T* q_tile,
                        int64_t ldq,
                        const T* k_lo,
                        int64_t ldk,
                        const int32_t* key_start_b,
                        const Tile& t,
                        int64_t head_dim,
                        T scale,
                        T softcap,
                        const T* lse_in,
                        T* lse_out,
                        T* p,
                        T* tanh_out) {
    const int64_t rows = t.i1 - t.i0, cols = t.hi - t.lo;
    gemm<T>(false, true, rows, cols, head_dim, scale, q_tile, ldq, k_lo, ldk, T(0), p, cols);
    if (softcap > T(0))
        for (int64_t e = 0; e < rows * cols; ++e) {
            const T th = std::tanh(p[e] / softcap);
            if (tanh_out)
                tanh_out[e] = th;
            p[e] = softcap * th;
        }
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = t.i0 + r;
        const int64_t j_begin = key_start_b[i] - t.lo, j_end = i + t.off - t.lo + 1; // [b, e)
        T* pr = p + r * cols;
        T row_lse;
        if (lse_in) {
            row_lse = lse_in[r];
        } else {
            T m = -std::numeric_limits<T>::infinity();
            for (int64_t j = j_begin; j < j_end; ++j)
                m = std::max(m, pr[j]);
            T sum = 0;
            for (int64_t j = j_begin; j < j_end; ++j)
                sum += std::exp(pr[j] - m);
            row_lse = m + std::log(sum);
            lse_out[r] = row_lse;
        }
        for (int64_t j = 0; j < j_begin; ++j)
            pr[j] = 0;
        for (int64_t j = j_begin; j < j_end; ++j)
            pr[j] = std::exp(pr[j] - row_lse);
        for (int64_t j = j_end; j < cols; ++j)
            pr[j] = 0;
    }
}

} // namespace

template <class T>
void attention_fwd(const T* q,
                   const T* k,
                   const T* v,
                   const int32_t* key_start,
                   T* out,
                   T* lse,
                   const AttentionDims& d,
                   T scale) noexcept {
    const int64_t group = d.n_head / d.n_head_kv;
    const int64_t n_tiles = (d.seq + kQueryTile - 1) / kQueryTile;
    const int64_t ldq = d.n_head * d.head_dim, ldk = d.n_head_kv * d.head_dim;
    const int64_t n_tasks = d.batch * d.n_head * n_tiles, n_keys = d.keys();
    // Round-robin over (batch, head, tile): causal tiles differ in cost, interleaving balances
    // them. Each output row is computed by exactly one task, so the bits do not depend on
    // the thread count. GEMMs inside run serially (one level of parallelism).
#pragma omp parallel
    {
        std::vector<T> p(static_cast<size_t>(kQueryTile * n_keys));
#pragma omp for schedule(static, 1)
        for (int64_t task = 0; task < n_tasks; ++task) {
            const int64_t b = task / (d.n_head * n_tiles);
            const int64_t h = (task / n_tiles) % d.n_head;
            const int64_t g = h / group;
            const int32_t* ks = key_start + b * d.seq;
            const Tile t = make_tile(ks, (task % n_tiles) * kQueryTile, d.seq, d.q_offset);
            const T* q_tile = q + ((b * d.seq + t.i0) * d.n_head + h) * d.head_dim;
            const T* k_lo = k + ((b * n_keys + t.lo) * d.n_head_kv + g) * d.head_dim;
            const T* v_lo = v + ((b * n_keys + t.lo) * d.n_head_kv + g) * d.head_dim;
            T* lse_tile = lse + (b * d.n_head + h) * d.seq + t.i0;
            tile_probabilities<T>(q_tile, ldq, k_lo, ldk, ks, t, d.head_dim, scale,
                                  static_cast<T>(d.softcap), nullptr, lse_tile, p.data(), nullptr);
            T* out_tile = out + ((b * d.seq + t.i0) * d.n_head + h) * d.head_dim;
            gemm<T>(false, false, t.i1 - t.i0, d.head_dim, t.hi - t.lo, T(1), p.data(), t.hi - t.lo,
                    v_lo, ldk, T(0), out_tile, ldq);
        }
    }
}

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
                   const AttentionDims& d,
                   T scale) noexcept {
    if (!dq && !dk && !dv)
        return;
    SLIMTUNE_ASSERT(d.keys() == d.seq && d.q_offset == 0, "attention_bwd: no KV-cache layout");
    const int64_t group = d.n_head / d.n_head_kv;
    const int64_t n_tiles = (d.seq + kQueryTile - 1) / kQueryTile;
    const int64_t ldq = d.n_head * d.head_dim, ldk = d.n_head_kv * d.head_dim;
    const int64_t n_tasks = d.batch * d.n_head_kv;
    // One task per (batch, kv head): the query heads sharing a kv head add into the same dk/dv
    // rows, so they run in sequence inside the task, in a fixed order.
#pragma omp parallel
    {
        std::vector<T> p(static_cast<size_t>(kQueryTile * d.seq));
        std::vector<T> ds(static_cast<size_t>(kQueryTile * d.seq));
        std::vector<T> delta(static_cast<size_t>(kQueryTile));
        std::vector<T> th(d.softcap > 0 ? static_cast<size_t>(kQueryTile * d.seq) : 0);
#pragma omp for schedule(static, 1)
        for (int64_t task = 0; task < n_tasks; ++task) {
            const int64_t b = task / d.n_head_kv, g = task % d.n_head_kv;
            const int32_t* ks = key_start + b * d.seq;
            for (int64_t h = g * group; h < (g + 1) * group; ++h)
                for (int64_t tile = 0; tile < n_tiles; ++tile) {
                    const Tile t = make_tile(ks, tile * kQueryTile, d.seq, 0);
                    const int64_t rows = t.i1 - t.i0, cols = t.hi - t.lo;
                    const int64_t q_off = ((b * d.seq + t.i0) * d.n_head + h) * d.head_dim;
                    const int64_t k_off = ((b * d.seq + t.lo) * d.n_head_kv + g) * d.head_dim;
                    const T* lse_tile = lse + (b * d.n_head + h) * d.seq + t.i0;
                    tile_probabilities<T>(q + q_off, ldq, k + k_off, ldk, ks, t, d.head_dim, scale,
                                          static_cast<T>(d.softcap), lse_tile, nullptr, p.data(),
                                          th.empty() ? nullptr : th.data());
                    if (dv) // dV += P^T dO
                        gemm<T>(true, false, cols, d.head_dim, rows, T(1), p.data(), cols,
                                dout + q_off, ldq, T(1), dv + k_off, ldk);
                    if (!dq && !dk)
                        continue;
                    // dP = dO V^T;  dS = P * (dP - delta),  delta_i = dO_i . O_i
                    gemm<T>(false, true, rows, cols, d.head_dim, T(1), dout + q_off, ldq, v + k_off,
                            ldk, T(0), ds.data(), cols);
                    for (int64_t r = 0; r < rows; ++r) {
                        const T* o_r = out + q_off + r * ldq;
                        const T* do_r = dout + q_off + r * ldq;
                        T acc = 0;
                        for (int64_t c = 0; c < d.head_dim; ++c)
                            acc += o_r[c] * do_r[c];
                        delta[static_cast<size_t>(r)] = acc;
                    }
                    for (int64_t r = 0; r < rows; ++r)
                        for (int64_t c = 0; c < cols; ++c)
                            ds[r * cols + c] = p[r * cols + c] *
                                               (ds[r * cols + c] - delta[static_cast<size_t>(r)]);
                    if (!th.empty()) // through the cap: d tanh = 1 - tanh^2
                        for (int64_t e = 0; e < rows * cols; ++e)
                            ds[e] *= T(1) - th[e] * th[e];
                    if (dq) // dQ += scale * dS K
                        gemm<T>(false, false, rows, d.head_dim, cols, scale, ds.data(), cols,
                                k + k_off, ldk, T(1), dq + q_off, ldq);
                    if (dk) // dK += scale * dS^T Q
                        gemm<T>(true, false, cols, d.head_dim, rows, scale, ds.data(), cols,
                                q + q_off, ldq, T(1), dk + k_off, ldk);
                }
        }
    }
}

#define SLIMTUNE_INSTANTIATE(T)                                                                    \
    template void attention_fwd<T>(const T*, const T*, const T*, const int32_t*, T*, T*,           \
                                   const AttentionDims&, T) noexcept;                              \
    template void attention_bwd<T>(const T*, const T*, const T*, const int32_t*, const T*,         \
                                   const T*, const T*, T*, T*, T*, const AttentionDims&,           \
                                   T) noexcept;
SLIMTUNE_INSTANTIATE(float)
SLIMTUNE_INSTANTIATE(double)
#undef SLIMTUNE_INSTANTIATE

} // namespace slimtune::kernels
