// GEMMs against 16-bit frozen weights: bf16 ones on the BF16 dot-product path where the CPU has
// one (gemm_bf16.cpp); otherwise widen a block of weight rows, then use the float GEMM.
#include "model/half.h"
#include "model/kernels/gemm.h"

#include <algorithm>
#include <immintrin.h>
#include <vector>

namespace slimtune::kernels {

namespace {

constexpr int64_t kRowBlock = 256; // weight rows widened at once (256 x K floats)

// Widens rows [n0, n1) of W (N, K) into buf in parallel (rows are independent).
void widen_rows(const uint16_t* W, int64_t K, int64_t n0, int64_t n1, bool bf16, float* buf) {
#pragma omp parallel for schedule(static) if ((n1 - n0) * K > (1 << 16))
    for (int64_t r = n0; r < n1; ++r)
        widen_half(W + r * K, buf + (r - n0) * K, K, bf16);
}

} // namespace

// bf16 is the top half of a float32 (model/half.h); f16 goes through F16C (part of x86-64-v3),
// eight values per instruction.
void widen_half(const uint16_t* src, float* dst, int64_t n, bool bf16) {
    if (bf16) {
        for (int64_t i = 0; i < n; ++i)
            dst[i] = bf16_to_f32(src[i]);
        return;
    }
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(
            dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    for (; i < n; ++i)
        dst[i] = _cvtsh_ss(src[i]);
}

void gemm_a_wt_half(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* A,
                    int64_t lda,
                    const uint16_t* W,
                    bool bf16,
                    float beta,
                    float* C,
                    int64_t ldc) {
    if (bf16 && bf16_gemm_available())
        return bf16_gemm_a_wt(M, N, K, A, lda, W, beta, C, ldc);
    std::vector<float> buf(static_cast<size_t>(std::min(N, kRowBlock) * K));
    for (int64_t n0 = 0; n0 < N; n0 += kRowBlock) {
        const int64_t n1 = std::min(N, n0 + kRowBlock);
        widen_rows(W, K, n0, n1, bf16, buf.data());
        gemm<float>(false, true, M, n1 - n0, K, 1.0f, A, lda, buf.data(), K, beta, C + n0, ldc);
    }
}

void gemm_dy_w_half(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* dY,
                    int64_t ldy,
                    const uint16_t* W,
                    bool bf16,
                    float* dX,
                    int64_t ldx) {
    if (bf16 && bf16_gemm_available())
        return bf16_gemm_dy_w(M, N, K, dY, ldy, W, dX, ldx);
    std::vector<float> buf(static_cast<size_t>(std::min(N, kRowBlock) * K));
    for (int64_t n0 = 0; n0 < N; n0 += kRowBlock) {
        const int64_t n1 = std::min(N, n0 + kRowBlock);
        widen_rows(W, K, n0, n1, bf16, buf.data());
        gemm<float>(false, false, M, K, n1 - n0, 1.0f, dY + n0, ldy, buf.data(), K, 1.0f, dX, ldx);
    }
}

} // namespace slimtune::kernels
