// Peak arithmetic of this CPU, the MFU denominators of bench/run_train.sh: FP32 FMA GFLOP/s
// (12 independent chains of vfmadd231ps on zmm registers per thread: 32 FLOP per instruction;
// on a CPU without AVX-512, ymm registers: 16 FLOP, the widest the kernels use there) and,
// where the CPU has AVX-512 BF16, BF16 dot-product GFLOP/s (12 chains of vdpbf16ps: 32
// bf16 products summed in pairs into 16 fp32 lanes, 64 FLOP per instruction), on --threads
// OpenMP threads, best of --reps timings. Prints (and writes with --json) one JSON object:
// fp32_gflops, bf16_gflops (null without AVX-512 BF16), threads, reps, avx512f, avx512_bf16,
// fp32_vector ("zmm" or "ymm").
//
//   bench_peak [--threads 2] [--reps 5] [--json OUT]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <immintrin.h>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <string>

using Clock = std::chrono::steady_clock;

constexpr int kChains = 12;
constexpr int64_t kIters = 40'000'000;

// The sum of every lane of every chain (so that the chains are live); stored and added in
// scalar code: GCC 12 warns about _mm512_reduce_add_ps (an uninitialised __Y in its header).
__attribute__((target("avx512f"))) static float lane_sum(const __m512* acc) {
    float lanes[16], sum = 0;
    for (int j = 0; j < kChains; ++j) {
        _mm512_storeu_ps(lanes, acc[j]);
        for (float x : lanes)
            sum += x;
    }
    return sum;
}

__attribute__((target("avx512f"))) static float fma_chains(int64_t iters) {
    __m512 acc[kChains];
    for (int j = 0; j < kChains; ++j)
        acc[j] = _mm512_set1_ps(static_cast<float>(j));
    const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < kChains; ++j)
            acc[j] = _mm512_fmadd_ps(acc[j], m, c);
    return lane_sum(acc);
}

__attribute__((target("avx2,fma"))) static float fma_chains_ymm(int64_t iters) {
    __m256 acc[kChains];
    for (int j = 0; j < kChains; ++j)
        acc[j] = _mm256_set1_ps(static_cast<float>(j));
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < kChains; ++j)
            acc[j] = _mm256_fmadd_ps(acc[j], m, c);
    float lanes[8], sum = 0;
    for (int j = 0; j < kChains; ++j) {
        _mm256_storeu_ps(lanes, acc[j]);
        for (float x : lanes)
            sum += x;
    }
    return sum;
}

__attribute__((target("avx512f,avx512bf16"))) static float bf16_chains(int64_t iters) {
    __m512 acc[kChains];
    for (int j = 0; j < kChains; ++j)
        acc[j] = _mm512_set1_ps(static_cast<float>(j));
    const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3f80)); // 1.0
    const __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi16(0x3a83)); // ~0.001
    for (int64_t i = 0; i < iters; ++i)
        for (int j = 0; j < kChains; ++j)
            acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    return lane_sum(acc);
}

// Best GFLOP/s over `reps` runs of `kernel` on every thread at once.
template <typename Kernel>
static double best_gflops(Kernel kernel, double flop_per_instr, int threads, int reps) {
    double best = 0;
    volatile float sink = 0;
    for (int r = 0; r <= reps; ++r) { // run 0 warms the cores up and is not counted
        float sum = 0;
        const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        sum += kernel(kIters);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        sink = sink + sum;
        if (r > 0)
            best = std::max(best, flop_per_instr * kChains * static_cast<double>(kIters) * threads /
                                      s * 1e-9);
    }
    return best;
}

static bool whole_positive(const std::string& v, int* out) {
    size_t used = 0;
    try {
        const long x = std::stol(v, &used);
        if (used != v.size() || x < 1 || x > 4096)
            return false;
        *out = static_cast<int>(x);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

int main(int argc, char** argv) {
    int threads = 2, reps = 5;
    std::string json_out;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_peak: option '%s' needs a value\n", a.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        if (a == "--json") {
            json_out = v;
        } else if (a == "--threads" || a == "--reps") {
            if (!whole_positive(v, a == "--threads" ? &threads : &reps)) {
                std::fprintf(stderr, "bench_peak: bad value '%s' for %s (1..4096)\n", v.c_str(),
                             a.c_str());
                return 2;
            }
        } else {
            std::fprintf(stderr, "bench_peak: unknown option '%s'\n", a.c_str());
            return 2;
        }
    }
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const bool bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
    if (!avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        std::fprintf(stderr, "bench_peak: this CPU has neither AVX-512 nor AVX2 with FMA\n");
        return 1;
    }
    const double fp32 = avx512 ? best_gflops(fma_chains, 32.0, threads, reps)
                               : best_gflops(fma_chains_ymm, 16.0, threads, reps);
    nlohmann::json out = {{"threads", threads},
                          {"reps", reps},
                          {"avx512f", avx512},
                          {"avx512_bf16", bf16},
                          {"fp32_vector", avx512 ? "zmm" : "ymm"},
                          {"fp32_gflops", fp32},
                          {"bf16_gflops", nullptr}};
    if (bf16)
        out["bf16_gflops"] = best_gflops(bf16_chains, 64.0, threads, reps);
    std::printf("%s\n", out.dump().c_str());
    if (!json_out.empty()) {
        std::ofstream f(json_out);
        f << out.dump(2) << "\n";
        if (!f) {
            std::fprintf(stderr, "bench_peak: %s: cannot write\n", json_out.c_str());
            return 1;
        }
    }
    return 0;
}
