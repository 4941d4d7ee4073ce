// The one GEMM seam of slimtune. Every matrix product in ops and models goes through gemm(), so
// a faster backend (a blocked AVX-512 kernel, oneDNN BF16/AMX) replaces this file's
// implementation without touching ops or models.
//
//   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C      all row-major
//   op(A) = A      A stored (M, K), lda >= K        op(A) = A^T   A stored (K, M), lda >= M
//   op(B) = B      B stored (K, N), ldb >= N        op(B) = B^T   B stored (N, K), ldb >= K
//
// beta == 0 overwrites C (whatever it held, NaN included). Threads: the product runs on the
// OpenMP team when called outside a parallel region, serially inside one (one level of
// parallelism at a time). Same inputs and thread count give the same bits.
#pragma once

#include <cstdint>

namespace slimtune::kernels {

template <class T>
void gemm(bool trans_a,
          bool trans_b,
          int64_t M,
          int64_t N,
          int64_t K,
          T alpha,
          const T* A,
          int64_t lda,
          const T* B,
          int64_t ldb,
          T beta,
          T* C,
          int64_t ldc) noexcept;

// Which implementation gemm<float> dispatches to, e.g. "eigen-avx512".
const char* gemm_backend();
// Forces the portable x86-64-v3 build even on an AVX-512 CPU (tests and benchmarks compare
// the two). The environment variable SLIMTUNE_GEMM=portable sets it at start-up.
void gemm_force_portable(bool on);

} // namespace slimtune::kernels

namespace slimtune::kernels {

// n 16-bit values (bf16, or IEEE f16 when !bf16) widened to float32, exactly.
void widen_half(const uint16_t* src, float* dst, int64_t n, bool bf16);

// Products with a frozen weight W (N, K) stored as 16-bit bits (bf16, or IEEE f16 when !bf16),
// as linear() needs them. W is widened to float32 a block of rows at a time and multiplied
// through gemm(), so the full float32 weight never exists.
//   C (M, N) = A (M, K) W^T + beta C
void gemm_a_wt_half(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* A,
                    int64_t lda,
                    const uint16_t* W,
                    bool bf16,
                    float beta,
                    float* C,
                    int64_t ldc);
//   dX (M, K) += dY (M, N) W
void gemm_dy_w_half(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* dY,
                    int64_t ldy,
                    const uint16_t* W,
                    bool bf16,
                    float* dX,
                    int64_t ldx);

// The same two products in BF16 x BF16 -> FP32 (gemm_bf16.cpp, oneDNN on AVX-512 BF16 or AMX):
// the float operand is rounded to bf16 first. gemm_a_wt_half / gemm_dy_w_half take this path
// for a bf16 W whenever bf16_gemm_available(), and widen W to float32 otherwise.
bool bf16_gemm_available();
// Turns the BF16 path off (tests compare it with the widening path). It is also off at start-up
// under SLIMTUNE_GEMM=portable (an AVX2-only CPU); SLIMTUNE_NO_AMX=1 keeps it on AVX-512 BF16.
void bf16_gemm_force_off(bool off);
// "amx", "avx512-bf16", or "none" (the CPU has neither).
const char* bf16_gemm_isa();
void bf16_gemm_a_wt(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* A,
                    int64_t lda,
                    const uint16_t* W,
                    float beta,
                    float* C,
                    int64_t ldc);
void bf16_gemm_dy_w(int64_t M,
                    int64_t N,
                    int64_t K,
                    const float* dY,
                    int64_t ldy,
                    const uint16_t* W,
                    float* dX,
                    int64_t ldx);

} // namespace slimtune::kernels
