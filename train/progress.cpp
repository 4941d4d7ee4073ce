#include "train/progress.h"

#include <cstdio>
#include <iostream>
#include <ostream>
#include <string>
#include <unistd.h>

namespace slimtune::train {

std::string format_duration(double s) {
    char buf[32];
    const auto t = static_cast<long long>(s);
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
    else
        std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
    return buf;
}

StepProgress::StepProgress(std::ostream& out, int64_t total_steps, int64_t log_every)
    : out_(out), total_(total_steps), log_every_(log_every),
      tty_((&out == &std::cerr && isatty(STDERR_FILENO)) ||
           (&out == &std::cout && isatty(STDOUT_FILENO))) {}

void StepProgress::step(int64_t step,
                        double loss,
                        double lr,
                        double grad_norm,
                        double tokens_per_s,
                        int64_t done,
                        double elapsed) {
    const int64_t left = total_ - step;
    const double eta =
        done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(left) : 0;
    char line[256];
    if (tty_) {
        const int width = 24;
        const int filled = static_cast<int>(width * step / total_);
        std::snprintf(line, sizeof line,
                      "\rstep %lld/%lld [%.*s%*s] loss %.4f lr %.2e %.0f tok/s ETA %s ",
                      static_cast<long long>(step), static_cast<long long>(total_), filled,
                      "########################", width - filled, "", loss, lr, tokens_per_s,
                      format_duration(eta).c_str());
        out_ << line << std::flush;
    } else if (step % log_every_ == 0 || step == total_) {
        std::snprintf(line, sizeof line,
                      "step %lld/%lld loss %.4f lr %.3e grad_norm %.3f tokens/s %.0f ETA %s\n",
                      static_cast<long long>(step), static_cast<long long>(total_), loss, lr,
                      grad_norm, tokens_per_s, format_duration(eta).c_str());
        out_ << line << std::flush; // one line at a time also into a file or a pipe
    }
}

void StepProgress::break_line() {
    if (tty_)
        out_ << "\n";
}

} // namespace slimtune::train
