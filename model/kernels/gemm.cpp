// gemm(): dispatch between the portable (x86-64-v3, AVX2+FMA) build of the Eigen GEMM and the
// AVX-512 build compiled from the same source in gemm_avx512.cpp, chosen once by CPUID.
#include "model/kernels/gemm.h"

#include <Eigen/Core>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <omp.h>

namespace slimtune::kernels {

namespace portable {
#include "model/kernels/gemm_eigen.inc"
} // namespace portable

namespace avx512 {
// Defined in gemm_avx512.cpp (compiled with -mavx512f -mavx512bw -mavx512dq -mavx512vl).
void gemm_f32(bool,
              bool,
              int64_t,
              int64_t,
              int64_t,
              float,
              const float*,
              int64_t,
              const float*,
              int64_t,
              float,
              float*,
              int64_t) noexcept;
} // namespace avx512

static bool cpu_has_avx512() {
    static const bool has =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return has;
}

static std::atomic<bool> g_use_avx512{[] {
    const char* env = std::getenv("SLIMTUNE_GEMM");
    return cpu_has_avx512() && !(env && std::strcmp(env, "portable") == 0);
}()};

void gemm_force_portable(bool on) {
    g_use_avx512 = cpu_has_avx512() && !on;
}

const char* gemm_backend() {
    return g_use_avx512 ? "eigen-avx512" : "eigen-avx2";
}

template <>
void gemm<float>(bool trans_a,
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
    if (g_use_avx512.load(std::memory_order_relaxed))
        avx512::gemm_f32(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        portable::gemm_eigen<float>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Double is for finite-difference checks and references only: the portable build is enough.
template <>
void gemm<double>(bool trans_a,
                  bool trans_b,
                  int64_t M,
                  int64_t N,
                  int64_t K,
                  double alpha,
                  const double* A,
                  int64_t lda,
                  const double* B,
                  int64_t ldb,
                  double beta,
                  double* C,
                  int64_t ldc) noexcept {
    portable::gemm_eigen<double>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

} // namespace slimtune::kernels
