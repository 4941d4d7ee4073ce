// The factors are computed in double with the same operations, in the same order, as the
// transformers lambdas (Python floats), so lr_at matches LambdaLR bit for bit.
#include "optim/schedule.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>

namespace slimtune::optim {

void check_schedule(const ScheduleConfig& c) {
    if (c.name != "constant" && c.name != "linear" && c.name != "cosine")
        throw ConfigError("sched.name: unknown schedule '" + c.name +
                          "'; expected one of constant, linear, cosine");
    if (c.warmup_steps < 0)
        throw ConfigError("sched.warmup_steps must be >= 0, got " + std::to_string(c.warmup_steps));
    if (!(c.min_lr_ratio >= 0 && c.min_lr_ratio <= 1)) {
        std::ostringstream os;
        os << "sched.min_lr_ratio must be in [0, 1], got " << c.min_lr_ratio;
        throw ConfigError(os.str());
    }
    if (!(c.warmup_ratio >= 0 && c.warmup_ratio < 1)) {
        std::ostringstream os;
        os << "sched.warmup_ratio must be in [0, 1), got " << c.warmup_ratio;
        throw ConfigError(os.str());
    }
    if (c.warmup_ratio > 0 && c.warmup_steps > 0)
        throw ConfigError(
            "sched.warmup_ratio: set together with sched.warmup_steps; expected one of them");
}

std::int64_t warmup_steps(const ScheduleConfig& c, std::int64_t total_steps) {
    if (c.warmup_ratio > 0)
        return static_cast<std::int64_t>(
            std::ceil(c.warmup_ratio * static_cast<double>(total_steps)));
    return c.warmup_steps;
}

double lr_factor(const ScheduleConfig& c, std::int64_t step, std::int64_t total_steps) {
    check_schedule(c);
    const std::int64_t warmup = warmup_steps(c, total_steps);
    if (step < warmup)
        return static_cast<double>(step) / static_cast<double>(std::max<std::int64_t>(1, warmup));
    if (c.name == "constant")
        return 1.0;
    const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup));
    double decay;
    if (c.name == "linear") {
        decay = std::max(0.0, static_cast<double>(total_steps - step) / span);
    } else {
        const double progress = static_cast<double>(step - warmup) / span;
        decay = 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
    // transformers writes decay * (1 - r) + r: the same bits (+ and * commute exactly).
    return std::max(0.0, c.min_lr_ratio + (1.0 - c.min_lr_ratio) * decay);
}

double lr_at(const ScheduleConfig& c, double base_lr, std::int64_t step, std::int64_t total_steps) {
    return base_lr * lr_factor(c, step, total_steps);
}

} // namespace slimtune::optim
