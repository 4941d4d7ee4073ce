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
