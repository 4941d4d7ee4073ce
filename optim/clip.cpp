#include "optim/clip.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace slimtune::optim {
namespace {

// Sums of squares are taken per fixed block and then added in block order, so the result is
// the same on any number of threads.
constexpr std::int64_t kBlock = 1 << 14;

double sum_of_squares(const float* g, std::int64_t n) {
    const std::int64_t blocks = (n + kBlock - 1) / kBlock;
    std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (std::int64_t b = 0; b < blocks; ++b) {
        const std::int64_t end = std::min(n, (b + 1) * kBlock);
        double s = 0;
        for (std::int64_t j = b * kBlock; j < end; ++j)
            s += static_cast<double>(g[j]) * static_cast<double>(g[j]);
        partial[static_cast<std::size_t>(b)] = s;
    }
    double total = 0;
    for (double s : partial)
        total += s;
    return total;
}

} // namespace

double clip_grad_norm(std::span<const ParamRef> params, double max_norm) {
    double squares = 0;
    for (const ParamRef& p : params)
        if (p.tensor.has_grad())
            squares += sum_of_squares(p.tensor.grad(), p.tensor.numel());
    const double total = std::sqrt(squares);
    if (!(max_norm > 0) || !std::isfinite(total))
        return total;
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        const float c = static_cast<float>(coef);
        for (const ParamRef& p : params) {
            if (!p.tensor.has_grad())
                continue;
            float* g = p.tensor.grad();
            const std::int64_t n = p.tensor.numel();
#pragma omp parallel for schedule(static) if (n >= kBlock)
            for (std::int64_t j = 0; j < n; ++j)
                g[j] *= c;
        }
    }
    return total;
}

namespace {

bool finite(const float* v, std::int64_t n) {
    bool ok = true;
#pragma omp parallel for schedule(static) reduction(&& : ok) if (n >= kBlock)
    for (std::int64_t j = 0; j < n; ++j)
        ok = ok && std::isfinite(v[j]);
    return ok;
}

} // namespace

const ParamRef* first_non_finite_grad(std::span<const ParamRef> params) {
    for (const ParamRef& p : params)
        if (p.tensor.has_grad() && !finite(p.tensor.grad(), p.tensor.numel()))
            return &p;
    return nullptr;
}

const ParamRef* first_non_finite_value(std::span<const ParamRef> params) {
    for (const ParamRef& p : params)
        if (!finite(p.tensor.data(), p.tensor.numel()))
            return &p;
    return nullptr;
}

bool all_finite(std::span<const ParamRef> params) {
    return first_non_finite_grad(params) == nullptr;
}

} // namespace slimtune::optim
