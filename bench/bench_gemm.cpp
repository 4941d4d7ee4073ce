// bench_gemm: throughput of kernels::gemm<float> on the linear-layer shapes of GPT-2 124M and a
// SmolLM2-135M-like model, for the three products a training step makes of each layer:
//
//   W stored [out, in] row-major, X [M, in], dY [M, out], M = 1024 tokens
//   fwd  Y  = X  · Wᵀ    gemm(false, true,  M,   out, in)
//   dX   dX = dY · W     gemm(false, false, M,   in,  out)
//   dW   dW = dYᵀ · X    gemm(true,  false, out, in,  M)
//
// FLOPs = 2·M·N·K. Each product is run once to warm up, then timed `reps` times (and at least
// `min-time` seconds); the best time is the figure (median also reported). The peer is
// bench/torch_gemm.py; bench/run_gemm.sh runs both and prints the ratios.
//
//   bench_gemm [--threads N] [--reps N] [--min-time S] [--peak GFLOPS] [--json FILE] [--portable]
//
// Threads: --threads, else OMP_NUM_THREADS, else 2. --portable forces the library's portable
// x86-64-v3 (AVX2) build of the GEMM (kernels::gemm_force_portable) on an AVX-512 CPU.
#include "common/rng.h"
#include "model/kernels/gemm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <string>
#include <vector>

namespace {

constexpr int64_t kTokens = 1024;

struct Shape {
    const char* model;
    const char* layer;
    int64_t in;
    int64_t out;
};

constexpr Shape kShapes[] = {
    {"gpt2", "attn.qkv", 768, 2304},    {"gpt2", "mlp.fc", 768, 3072},
    {"gpt2", "mlp.proj", 3072, 768},    {"smollm2", "mlp.up", 576, 1536},
    {"smollm2", "mlp.down", 1536, 576}, {"smollm2", "lm_head", 576, 49152},
};

using GemmFn = decltype(&slimtune::kernels::gemm<float>);

struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

// 64-byte aligned, filled with uniform values in [-1, 1) from the counter-based generator.
Buffer make_buffer(int64_t n, uint64_t seed) {
    const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
    Buffer b(static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (!b) {
        std::fprintf(stderr, "bench_gemm: out of memory (%zu bytes)\n", bytes);
        std::exit(1);
    }
    for (int64_t i = 0; i < n; ++i)
        b[i] = 2.0f * slimtune::rng_uniform(seed, static_cast<uint64_t>(i)) - 1.0f;
    return b;
}

struct Product {
    const char* name;
    bool trans_a;
    bool trans_b;
    int64_t M, N, K;
    const float* A;
    int64_t lda;
    const float* B;
    int64_t ldb;
};

struct Options {
    int threads = 2;
    int reps = 10;
    double min_time = 0.3;
    double peak = 480.0;
    std::string json;
    bool portable = false;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr,
                 "bench_gemm: %s\nusage: bench_gemm [--threads N] [--reps N] [--min-time S] "
                 "[--peak GFLOPS] [--json FILE] [--portable]\n",
                 why);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    if (const char* env = std::getenv("OMP_NUM_THREADS"); env && std::atoi(env) > 0)
        o.threads = std::atoi(env);
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc)
                usage(("missing value after " + a).c_str());
            return argv[++i];
        };
        if (a == "--threads")
            o.threads = std::atoi(value());
        else if (a == "--reps")
            o.reps = std::atoi(value());
        else if (a == "--min-time")
            o.min_time = std::atof(value());
        else if (a == "--peak")
            o.peak = std::atof(value());
        else if (a == "--json")
            o.json = value();
        else if (a == "--portable")
            o.portable = true;
        else if (a == "--help" || a == "-h")
            usage("help");
        else
            usage(("unknown option " + a).c_str());
    }
    if (o.threads < 1 || o.reps < 1 || o.min_time < 0 || o.peak <= 0)
        usage("--threads, --reps and --peak must be positive");
    return o;
}

// A few entries of C against a double-precision dot product: a benchmark of a wrong result is
// worthless. Tolerance relative to sum |a|·|b| of the entry.
bool spot_check(const Product& p, const float* C) {
    for (uint64_t s = 0; s < 16; ++s) {
        const int64_t i = static_cast<int64_t>(slimtune::rng_mix(77, 2 * s) % uint64_t(p.M));
        const int64_t j = static_cast<int64_t>(slimtune::rng_mix(77, 2 * s + 1) % uint64_t(p.N));
        double ref = 0.0, mag = 0.0;
        for (int64_t k = 0; k < p.K; ++k) {
            const double a = p.trans_a ? p.A[k * p.lda + i] : p.A[i * p.lda + k];
            const double b = p.trans_b ? p.B[j * p.ldb + k] : p.B[k * p.ldb + j];
            ref += a * b;
            mag += std::fabs(a * b);
        }
        const double got = C[i * p.N + j];
        if (!(std::fabs(got - ref) <= 1e-4 * mag + 1e-6)) {
            std::fprintf(stderr, "bench_gemm: WRONG RESULT %s C[%lld,%lld] = %.7g, expected %.7g\n",
                         p.name, static_cast<long long>(i), static_cast<long long>(j), got, ref);
            return false;
        }
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    omp_set_num_threads(opt.threads);
    slimtune::kernels::gemm_force_portable(opt.portable);
    const GemmFn gemm = &slimtune::kernels::gemm<float>;
    const std::string backend = slimtune::kernels::gemm_backend();

    std::printf("# slimtune bench_gemm  backend=%s  threads=%d (omp_get_max_threads=%d)  "
                "reps>=%d min-time=%.2fs  stat=best  peak=%.0f GFLOP/s\n",
                backend.c_str(), opt.threads, omp_get_max_threads(), opt.reps, opt.min_time,
                opt.peak);
    std::printf("%-8s %-9s %-10s %-4s %17s %10s %10s %9s %7s\n", "model", "layer", "in x out",
                "prod", "M x N x K", "best ms", "median ms", "GFLOP/s", "%peak");

    nlohmann::json results = nlohmann::json::array();
    bool ok = true;
    for (const Shape& s : kShapes) {
        const Buffer X = make_buffer(kTokens * s.in, 1);
        const Buffer W = make_buffer(s.out * s.in, 2);
        const Buffer dY = make_buffer(kTokens * s.out, 3);
        const Product products[] = {
            {"fwd", false, true, kTokens, s.out, s.in, X.get(), s.in, W.get(), s.in},
            {"dX", false, false, kTokens, s.in, s.out, dY.get(), s.out, W.get(), s.in},
            {"dW", true, false, s.out, s.in, kTokens, dY.get(), s.out, X.get(), s.in},
        };
        for (const Product& p : products) {
            Buffer C = make_buffer(p.M * p.N, 4);
            auto call = [&] {
                gemm(p.trans_a, p.trans_b, p.M, p.N, p.K, 1.0f, p.A, p.lda, p.B, p.ldb, 0.0f,
                     C.get(), p.N);
            };
            call(); // warm-up: first touch of C, thread team start, caches
            ok = spot_check(p, C.get()) && ok;
            std::vector<double> times;
            double total = 0.0;
            while (static_cast<int>(times.size()) < opt.reps ||
                   (total < opt.min_time && times.size() < 1000)) {
                const auto t0 = std::chrono::steady_clock::now();
                call();
                const auto t1 = std::chrono::steady_clock::now();
                times.push_back(std::chrono::duration<double>(t1 - t0).count());
                total += times.back();
            }
            std::sort(times.begin(), times.end());
            const double best = times.front();
            const double median = times[times.size() / 2];
            const double flops = 2.0 * double(p.M) * double(p.N) * double(p.K);
            const double gflops = flops / best * 1e-9;
            const std::string dims = std::to_string(s.in) + "x" + std::to_string(s.out);
            const std::string mnk =
                std::to_string(p.M) + "x" + std::to_string(p.N) + "x" + std::to_string(p.K);
            std::printf("%-8s %-9s %-10s %-4s %17s %10.3f %10.3f %9.1f %6.1f%%\n", s.model, s.layer,
                        dims.c_str(), p.name, mnk.c_str(), best * 1e3, median * 1e3, gflops,
                        100.0 * gflops / opt.peak);
            std::fflush(stdout);
            results.push_back({{"model", s.model},
                               {"layer", s.layer},
                               {"in", s.in},
                               {"out", s.out},
                               {"product", p.name},
                               {"trans_a", p.trans_a},
                               {"trans_b", p.trans_b},
                               {"M", p.M},
                               {"N", p.N},
                               {"K", p.K},
                               {"flops", flops},
                               {"reps", times.size()},
                               {"best_s", best},
                               {"median_s", median},
                               {"gflops", gflops},
                               {"gflops_median", flops / median * 1e-9},
                               {"pct_peak", 100.0 * gflops / opt.peak}});
        }
    }
    if (!opt.json.empty()) {
        const nlohmann::json doc = {{"tool", "slimtune"},     {"backend", backend},
                                    {"threads", opt.threads}, {"peak_gflops", opt.peak},
                                    {"stat", "best"},         {"results", results}};
        std::ofstream f(opt.json);
        f << doc.dump(2) << "\n";
        if (!f) {
            std::fprintf(stderr, "bench_gemm: cannot write %s\n", opt.json.c_str());
            return 1;
        }
    }
    return ok ? 0 : 1;
}
