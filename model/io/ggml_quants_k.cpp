// ggml's K-quants (256-element super-blocks): Q4_K and Q5_K (8 sub-blocks of 32 with a 6-bit
// scale and min each, found by ggml's weighted least-squares grid search make_qkx2_quants) and
// Q6_K (16 sub-blocks of 16 with an int8 scale from the rmse search make_qx_quants). Every float
// operation follows ggml's quantize_row_*_ref in order and type (int operands converted to float
// where C converts them), so the bytes are ggml's; see finetune.md §2.4 for the layouts.
#include "model/io/ggml_quants.h"

#include <bit>
#include <cmath>
#include <cstring>

// ggml's reference code is compiled without FMA; a contracted a*b+c would round differently.
#pragma GCC optimize("fp-contract=off")
#ifdef __clang__
#pragma clang fp contract(off)
#endif

// GCC -O3 completely unrolls the 16- and 32-element loops inside the grid searches below
// (constant n), which makes them 1.6x slower than -O2 code; the searches keep their loops.
#define SLIMTUNE_KEEP_LOOP _Pragma("GCC unroll 1")

namespace slimtune::io::detail {

namespace {

constexpr int kQK_K = 256;
constexpr float kGroupMaxEps = 1e-15f; // ggml's GROUP_MAX_EPS: below it a group is all zero

// Bytes of the blocks and the offsets of their fields (ggml-common.h block_q4_K/q5_K/q6_K).
constexpr int kQ4KBytes = 144; // d, dmin, scales[12], qs[128]
constexpr int kQ5KBytes = 176; // d, dmin, scales[12], qh[32], qs[128]
constexpr int kQ6KBytes = 210; // ql[128], qh[64], scales[16] (int8), d
constexpr int kScalesAt = 4;
constexpr int kQ4KQsAt = 16;
constexpr int kQ5KQhAt = 16;
constexpr int kQ5KQsAt = 48;
constexpr int kQ6KQhAt = 128;
constexpr int kQ6KScalesAt = 192;
constexpr int kQ6KDAt = 208;

// Round to nearest, ties to even, by the magic-number trick ggml uses: adding 1.5 * 2^23 leaves
// the integer in the low mantissa bits. Meant for |f| <= 2^22 - 1; outside that (or for NaN)
// the result is whatever the same bit operations give in ggml.
int nearest_int(float f) {
    const auto bits = std::bit_cast<int32_t>(f + 12582912.0f);
    return (bits & 0x007FFFFF) - 0x00400000;
}

int clamp_int(int v, int lo, int hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// make_qkx2_quants with use_mad = false: levels 0..nmax for x ~ scale * L - the_min, chosen by
// a grid of nstep + 1 candidate inverse scales (rmin + rdelta * is + nmax) / (max - min), each
// refitted by weighted least squares (scale and min; min clamped to <= 0), keeping the one with
// the smallest weighted squared error. Returns the scale; *the_min is -min (>= 0).
float make_qkx2_quants(int n,
                       int nmax,
                       const float* x,
                       const float* weights,
                       uint8_t* L,
                       float* the_min,
                       uint8_t* Laux,
                       float rmin,
                       float rdelta,
                       int nstep) {
    float min = x[0];
    float max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    SLIMTUNE_KEEP_LOOP
    for (int i = 1; i < n; ++i) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        *the_min = -min;
        return 0.0f;
    }
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    SLIMTUNE_KEEP_LOOP
    for (int i = 0; i < n; ++i) {
        const int l = nearest_int(iscale * (x[i] - min));
        L[i] = static_cast<uint8_t>(clamp_int(l, 0, nmax));
        float diff = scale * static_cast<float>(L[i]) + min - x[i];
        diff = diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0;
        float sum_l2 = 0;
        float sum_xl = 0;
        SLIMTUNE_KEEP_LOOP
        for (int i = 0; i < n; ++i) {
            const int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = static_cast<uint8_t>(l);
            const float w = weights[i];
            const auto lf = static_cast<float>(l);
            sum_l += w * lf;
            sum_l2 += w * lf * lf;
            sum_xl += w * lf * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            SLIMTUNE_KEEP_LOOP
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
                diff = diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i)
                    L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

// make_qx_quants with rmse_type = 1 and no importance weights: symmetric levels -nmax..nmax-1
// (stored as L + nmax) for x ~ scale * l, weights x^2; tries 18 perturbed inverse scales
// -(nmax + 0.1 * is) / max and keeps the least-squares scale with the largest sumlx^2 / suml2.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
    float max = 0;
    float amax = 0;
    SLIMTUNE_KEEP_LOOP
    for (int i = 0; i < n; ++i) {
        const float ax = std::fabs(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.0f;
    }
    const auto fmax = static_cast<float>(nmax);
    float iscale = static_cast<float>(-nmax) / max;
    float sumlx = 0;
    float suml2 = 0;
    SLIMTUNE_KEEP_LOOP
    for (int i = 0; i < n; ++i) {
        const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = static_cast<int8_t>(l + nmax);
        const float w = x[i] * x[i];
        const auto lf = static_cast<float>(l);
        sumlx += w * x[i] * lf;
        suml2 += w * lf * lf;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0)
            continue;
        iscale = -(fmax + 0.1f * static_cast<float>(is)) / max;
        sumlx = 0;
        suml2 = 0;
        SLIMTUNE_KEEP_LOOP
        for (int i = 0; i < n; ++i) {
            const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            const auto lf = static_cast<float>(l);
            sumlx += w * x[i] * lf;
            suml2 += w * lf * lf;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i)
                L[i] = static_cast<int8_t>(nmax +
                                           clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// Sub-block j's 6-bit scale and min from the 12 packed bytes (ggml's get_scale_min_k4).
void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

// The part Q4_K and Q5_K share: per 32-element sub-block a (scale, min) pair from
// make_qkx2_quants with weights rms(x) + |x|, both quantized to 6 bits against the block's
// largest (d = max/63, dmin = max_min/63 as fp16), then every element re-quantized with the
// stored values into L (0..nmax). Writes d, dmin and scales[12] of block y.
void quantize_scales_mins_k(
    const float* x, uint8_t* y, uint8_t* L, int nmax, float rmin, float rdelta, int nstep) {
    float mins[kQK_K / 32];
    float scales[kQK_K / 32];
    float weights[32];
    uint8_t Laux[32];
    float max_scale = 0; // the mins are subtracted, so the scales are positive
    float max_min = 0;
    for (int j = 0; j < kQK_K / 32; ++j) {
        const float* xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l)
            sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / 32.0f);
        for (int l = 0; l < 32; ++l)
            weights[l] = av_x + std::fabs(xs[l]);
        scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin,
                                     rdelta, nstep);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    uint8_t* packed = y + kScalesAt;
    for (int j = 0; j < kQK_K / 32; ++j) {
        // ggml stores nearest_int into a uint8_t before clamping: keep that wrap-around.
        auto ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]) & 0xFF);
        auto lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]) & 0xFF);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
            packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((ls >> 4) << 6));
            packed[j] = static_cast<uint8_t>(packed[j] | ((lm >> 4) << 6));
        }
    }
    store_fp16(y, max_scale / 63.0f);
    store_fp16(y + 2, max_min / 63.0f);
    const float d_all = load_fp16(y);
    const float dmin_all = load_fp16(y + 2);
    for (int j = 0; j < kQK_K / 32; ++j) {
        uint8_t sc = 0;
        uint8_t m = 0;
        scale_min_k4(j, packed, &sc, &m);
        const float d = d_all * static_cast<float>(sc);
        if (d == 0.0f)
            continue; // keeps the levels make_qkx2_quants chose, as ggml does
        const float dm = dmin_all * static_cast<float>(m);
        for (int ii = 0; ii < 32; ++ii)
            L[32 * j + ii] =
                static_cast<uint8_t>(clamp_int(nearest_int((x[32 * j + ii] + dm) / d), 0, nmax));
    }
}

} // namespace

void quantize_q4_k(const float* x, uint8_t* y, int64_t n_blocks) {
    uint8_t L[kQK_K];
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK_K, y += kQ4KBytes) {
        std::memset(y, 0, kQ4KBytes);
        quantize_scales_mins_k(x, y, L, 15, -1.0f, 0.1f, 20);
        // Each 64 elements take 32 bytes: the first 32 in the low nibbles, the next 32 high.
        uint8_t* q = y + kQ4KQsAt;
        for (int j = 0; j < kQK_K; j += 64, q += 32)
            for (int l = 0; l < 32; ++l)
                q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
    }
}

void quantize_q5_k(const float* x, uint8_t* y, int64_t n_blocks) {
    uint8_t L[kQK_K];
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK_K, y += kQ5KBytes) {
        std::memset(y, 0, kQ5KBytes);
        quantize_scales_mins_k(x, y, L, 31, -0.5f, 0.1f, 15);
        // Low nibbles as Q4_K; the fifth bit of element n + j goes to bit 2(n/64) of qh[j] and
        // that of element n + j + 32 to the bit above.
        uint8_t* qh = y + kQ5KQhAt;
        uint8_t* ql = y + kQ5KQsAt;
        unsigned m1 = 1;
        unsigned m2 = 2;
        for (int n = 0; n < kQK_K; n += 64, m1 <<= 2, m2 <<= 2, ql += 32) {
            for (int j = 0; j < 32; ++j) {
                int l1 = L[n + j];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] = static_cast<uint8_t>(qh[j] | m1);
                }
                int l2 = L[n + j + 32];
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] = static_cast<uint8_t>(qh[j] | m2);
                }
                ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
            }
        }
    }
}

void quantize_q6_k(const float* x, uint8_t* y, int64_t n_blocks) {
    int8_t L[kQK_K];
    float scales[kQK_K / 16];
    for (int64_t b = 0; b < n_blocks; ++b, x += kQK_K, y += kQ6KBytes) {
        std::memset(y, 0, kQ6KBytes);
        float max_scale = 0;
        float max_abs_scale = 0;
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            const float abs_scale = std::fabs(scales[ib]);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < kGroupMaxEps)
            continue; // an all-zero block: every byte 0, d = +0
        const float iscale = -128.0f / max_scale;
        store_fp16(y + kQ6KDAt, 1 / iscale);
        auto* block_scales = reinterpret_cast<int8_t*>(y + kQ6KScalesAt);
        for (int ib = 0; ib < kQK_K / 16; ++ib) {
            const int s = nearest_int(iscale * scales[ib]);
            block_scales[ib] = static_cast<int8_t>(s < 127 ? s : 127);
        }
        const float d_all = load_fp16(y + kQ6KDAt);
        for (int j = 0; j < kQK_K / 16; ++j) {
            const float d = d_all * static_cast<float>(block_scales[j]);
            if (d == 0.0f)
                continue;
            for (int ii = 0; ii < 16; ++ii)
                L[16 * j + ii] =
                    static_cast<int8_t>(clamp_int(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
        }
        // Per 128 elements: 64 bytes of low nibbles (elements l and l + 64 share ql[l], l + 32
        // and l + 96 share ql[l + 32]) and 32 bytes holding the four 2-bit high parts.
        uint8_t* ql = y;
        uint8_t* qh = y + kQ6KQhAt;
        for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; ++l) {
                const int q1 = L[j + l];
                const int q2 = L[j + l + 32];
                const int q3 = L[j + l + 64];
                const int q4 = L[j + l + 96];
                ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                             ((q4 >> 4) << 6));
            }
        }
    }
}

void dequantize_q4_k(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQ4KBytes) {
        const float d = load_fp16(x);
        const float min = load_fp16(x + 2);
        const uint8_t* q = x + kQ4KQsAt;
        for (int is = 0; is < kQK_K / 32; is += 2, q += 32) {
            uint8_t sc = 0;
            uint8_t m = 0;
            scale_min_k4(is, x + kScalesAt, &sc, &m);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = min * static_cast<float>(m);
            scale_min_k4(is + 1, x + kScalesAt, &sc, &m);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = min * static_cast<float>(m);
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

void dequantize_q5_k(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQ5KBytes) {
        const float d = load_fp16(x);
        const float min = load_fp16(x + 2);
        const uint8_t* qh = x + kQ5KQhAt;
        const uint8_t* ql = x + kQ5KQsAt;
        unsigned u1 = 1;
        unsigned u2 = 2;
        for (int is = 0; is < kQK_K / 32; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc = 0;
            uint8_t m = 0;
            scale_min_k4(is, x + kScalesAt, &sc, &m);
            const float d1 = d * static_cast<float>(sc);
            const float m1 = min * static_cast<float>(m);
            scale_min_k4(is + 1, x + kScalesAt, &sc, &m);
            const float d2 = d * static_cast<float>(sc);
            const float m2 = min * static_cast<float>(m);
            for (int l = 0; l < 32; ++l)
                *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l)
                *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void dequantize_q6_k(const uint8_t* x, float* y, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, x += kQ6KBytes) {
        const float d = load_fp16(x + kQ6KDAt);
        const uint8_t* ql = x;
        const uint8_t* qh = x + kQ6KQhAt;
        const auto* sc = reinterpret_cast<const int8_t*>(x + kQ6KScalesAt);
        for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

} // namespace slimtune::io::detail

#undef SLIMTUNE_KEEP_LOOP
