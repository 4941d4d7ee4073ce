// The AVX-512 build of the Eigen GEMM. NOTE: Eigen is header-only templates; compiling it here
// with AVX-512 flags would emit template instances with the same mangled names as the portable
// build's, and the linker could keep the AVX-512 copy for the portable path (illegal
// instructions on an AVX2-only CPU). Renaming the namespace with a macro gives this file's
// instances their own names, so the two builds never mix.
#include <cstdint>

#define Eigen EigenAvx512
#include <Eigen/Core>
#include <algorithm>
#include <omp.h>

namespace slimtune::kernels::avx512 {
#include "model/kernels/gemm_eigen.inc"

void gemm_f32(bool trans_a,
              bool trans_b,
              int64_t M,
              int64_t N,
              int64_t K,
              float alpha,
              const float* A,
              int64_t lda,
              const float* B,
              int64_t ldb,
              float beta,
              float* C,
              int64_t ldc) noexcept {
    gemm_eigen<float>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
} // namespace slimtune::kernels::avx512
