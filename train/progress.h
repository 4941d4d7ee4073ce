// What a run shows while it trains: one line per logged step, or, on a terminal, one bar
// redrawn in place with the loss, the learning rate, tokens/s and the time left.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace slimtune::train {

class StepProgress {
public:
    // A bar when `out` is standard error (or output) on a terminal; plain lines every log_every
    // steps (and at the last step) otherwise.
    StepProgress(std::ostream& out, int64_t total_steps, int64_t log_every);

    // Step `step` just finished; `done` steps of this invocation took `elapsed` seconds.
    void step(int64_t step,
              double loss,
              double lr,
              double grad_norm,
              double tokens_per_s,
              int64_t done,
              double elapsed);
    // Ends the bar's line before other output (an evaluation, a checkpoint, the end).
    void break_line();

private:
    std::ostream& out_;
    int64_t total_, log_every_;
    bool tty_;
};

// "1h02m" or "3m07s".
std::string format_duration(double seconds);

} // namespace slimtune::train
