// Learning-rate schedules as transformers defines them (get_constant_schedule_with_warmup,
// get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup, and the floor of
// get_cosine_with_min_lr_schedule_with_warmup), evaluated like torch's LambdaLR:
// lr = base_lr * factor(step), where step is the 0-based index of the optimizer step about to
// run (the first step uses factor(0), which is 0 with a warmup).
#pragma once

#include <cstdint>
#include <string>

namespace slimtune::optim {

struct ScheduleConfig {
    std::string name = "cosine";   // constant | linear | cosine
    std::int64_t warmup_steps = 0; // linear from 0: factor = step / warmup
    double min_lr_ratio = 0.0;     // linear and cosine decay to this fraction of base_lr
    double warmup_ratio = 0.0;     // instead of warmup_steps: ceil(ratio * total_steps) of them
};

// ConfigError (naming the setting as its recipe key) for an unknown name, a negative warmup,
// min_lr_ratio outside [0, 1], warmup_ratio outside [0, 1), or both warmups set.
void check_schedule(const ScheduleConfig& config);

// The warmup of a run of total_steps: warmup_steps, or ceil(warmup_ratio * total_steps) as
// transformers' TrainingArguments.get_warmup_steps computes it.
std::int64_t warmup_steps(const ScheduleConfig& config, std::int64_t total_steps);

// After the warmup: constant 1; linear max(0, (total - step) / max(1, total - warmup));
// cosine 0.5 * (1 + cos(pi * progress)), progress = (step - warmup) / max(1, total - warmup)
// (not clamped: past total_steps it rises again, as in transformers). Linear and cosine then
// become min_lr_ratio + (1 - min_lr_ratio) * decay. Checks the config.
double lr_factor(const ScheduleConfig& config, std::int64_t step, std::int64_t total_steps);
double
lr_at(const ScheduleConfig& config, double base_lr, std::int64_t step, std::int64_t total_steps);

} // namespace slimtune::optim
