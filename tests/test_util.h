// Shared helpers for the test suite: deterministic random inputs and a tensor comparison that
// reports the worst element rather than a bare boolean.
#pragma once

#include "common/rng.h"
#include "model/kernels/gemm.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace slimtune::test {

// Multiplies bf16 weights on the widening path (exact float32 products) for the scope, as on a
// CPU without the BF16 dot product; the previous setting comes back at its end.
struct WidenBf16Scope {
    bool was = kernels::bf16_gemm_available();
    WidenBf16Scope() { kernels::bf16_gemm_force_off(true); }
    ~WidenBf16Scope() { kernels::bf16_gemm_force_off(!was); }
    WidenBf16Scope(const WidenBf16Scope&) = delete;
    WidenBf16Scope& operator=(const WidenBf16Scope&) = delete;
};

// A fresh directory under the system temp dir (unique per process and call), removed with
// everything in it at scope exit.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag) {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("slimtune_test_" + tag + "_" + std::to_string(::getpid()) + "_" +
                std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string str() const { return path.string(); }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

// n normal draws times `scale`, from our own counter-based generator (the same values with any
// standard library).
template <class T = float>
std::vector<T> random_normal(size_t n, uint64_t seed, double scale = 1.0) {
    Rng rng(seed);
    std::vector<T> v(n);
    for (auto& x : v)
        x = static_cast<T>(static_cast<double>(rng.next_normal()) * scale);
    return v;
}

template <class T = float>
std::vector<T> random_uniform(size_t n, uint64_t seed, double lo, double hi) {
    Rng rng(seed);
    std::vector<T> v(n);
    for (auto& x : v)
        x = static_cast<T>(lo + (hi - lo) * static_cast<double>(rng.next_uniform()));
    return v;
}

// The names of the entries of `dir`, sorted.
inline std::vector<std::string> entry_names(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

// Checks |a - e| <= atol + rtol * |e| element-wise; on failure names the worst element, both
// values, the max errors and the number of violations.
template <class A, class E>
void require_close(
    const A& actual, const E& expected, double atol, double rtol, const std::string& label) {
    INFO(label);
    REQUIRE(actual.size() == expected.size());
    size_t bad = 0, worst = 0;
    double worst_excess = -1, max_abs = 0, max_rel = 0;
    for (size_t i = 0; i < actual.size(); ++i) {
        const double a = static_cast<double>(actual[i]), e = static_cast<double>(expected[i]);
        const double err = std::abs(a - e);
        max_abs = std::max(max_abs, err);
        if (e != 0)
            max_rel = std::max(max_rel, err / std::abs(e));
        const double excess = err - (atol + rtol * std::abs(e));
        if (!(excess <= 0)) // NaN counts as a violation
            ++bad;
        if (!(excess <= worst_excess)) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (std::getenv("SLIMTUNE_TEST_REPORT")) // measured margins, for docs/numerics.md
        std::printf("%-48s max abs err %.3g  max rel err %.3g\n", label.c_str(), max_abs, max_rel);
    if (bad) {
        std::ostringstream os;
        os << label << ": " << bad << " of " << actual.size() << " elements off; worst [" << worst
           << "] actual " << static_cast<double>(actual[worst]) << " expected "
           << static_cast<double>(expected[worst]) << "; max abs err " << max_abs
           << ", max rel err " << max_rel << " (atol " << atol << ", rtol " << rtol << ")";
        FAIL(os.str());
    }
    SUCCEED();
}

// Sum of r[i] * y[i] in double: the scalar loss L = <r, y> of gradient checks.
template <class A, class B> double dot(const A& r, const B& y) {
    double s = 0;
    for (size_t i = 0; i < r.size(); ++i)
        s += static_cast<double>(r[i]) * static_cast<double>(y[i]);
    return s;
}

// Central finite differences of loss() with respect to every element of x (modified in place
// and restored), to compare with an analytic gradient.
// With stride > 1 only elements i % stride == 0 are differenced (others are left 0): use
// sampled_gradient() to compare just those.
template <class T, class F>
std::vector<double> numeric_gradient(std::vector<T>& x, F loss, double eps, size_t stride = 1) {
    std::vector<double> g(x.size());
    for (size_t i = 0; i < x.size(); i += stride) {
        const T keep = x[i];
        x[i] = static_cast<T>(static_cast<double>(keep) + eps);
        const double up = loss();
        x[i] = static_cast<T>(static_cast<double>(keep) - eps);
        const double down = loss();
        x[i] = keep;
        g[i] = (up - down) / (2 * eps);
    }
    return g;
}

// Every stride-th element of g, to pair with numeric_gradient(..., stride).
inline std::vector<double> sampled(const std::vector<double>& g, size_t stride) {
    std::vector<double> r;
    for (size_t i = 0; i < g.size(); i += stride)
        r.push_back(g[i]);
    return r;
}

} // namespace slimtune::test
