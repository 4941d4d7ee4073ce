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

std::string with_commas(int64_t n) {
    std::string digits = std::to_string(n < 0 ? -n : n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0)
            out += ',';
        out += digits[i];
    }
    return (n < 0 ? "-" : "") + out;
}

void print_run_header(std::ostream& out, const RunHeader& h) {
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.4f",
                  h.params.all > 0 ? 100.0 * static_cast<double>(h.params.trainable) /
                                         static_cast<double>(h.params.all)
                                   : 0.0);
    out << "trainable params: " << with_commas(h.params.trainable)
        << " || all params: " << with_commas(h.params.all) << " || trainable%: " << pct << "\n";
    if (!h.base.empty())
        out << h.base << "\n";
    out << "effective batch: " << h.batch_size << " sequences x " << h.grad_accum
        << " micro-batches x " << h.seq_len
        << " tokens = " << with_commas(h.batch_size * h.grad_accum * h.seq_len)
        << " tokens per step\n";
    out << "data: " << with_commas(h.train_examples) << " training examples ("
        << with_commas(h.tokens_per_epoch) << " tokens per epoch), "
        << with_commas(h.validation_examples) << " validation examples\n";
    out << "steps: " << with_commas(h.total_steps) << " (" << with_commas(h.steps_per_epoch)
        << " per epoch)\n";
}

StepProgress::StepProgress(std::ostream& out, int64_t total_steps, int64_t log_every)
    : out_(out), total_(total_steps), log_every_(log_every),
      tty_((&out == &std::cerr && isatty(STDERR_FILENO)) ||
           (&out == &std::cout && isatty(STDOUT_FILENO))) {}

void StepProgress::step(const StepStats& s, Throughput speed, int64_t done, double elapsed) {
    const int64_t left = total_ - s.step;
    const double eta =
        done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(left) : 0;
    char line[320];
    if (tty_) {
        const int width = 24;
        const int filled = static_cast<int>(width * s.step / total_);
        std::snprintf(line, sizeof line,
                      "\rstep %lld/%lld [%.*s%*s] loss %.4f lr %.2e %.0f tok/s (%.0f trainable) "
                      "ETA %s ",
                      static_cast<long long>(s.step), static_cast<long long>(total_), filled,
                      "########################", width - filled, "", s.loss, s.lr,
                      speed.tokens_per_s, speed.trainable_tokens_per_s,
                      format_duration(eta).c_str());
        out_ << line << std::flush;
    } else if (s.step % log_every_ == 0 || s.step == total_) {
        std::snprintf(line, sizeof line,
                      "step %lld/%lld loss %.4f lr %.3e grad_norm %.3f tokens/s %.0f (trainable "
                      "%.0f) ETA %s\n",
                      static_cast<long long>(s.step), static_cast<long long>(total_), s.loss, s.lr,
                      s.grad_norm, speed.tokens_per_s, speed.trainable_tokens_per_s,
                      format_duration(eta).c_str());
        out_ << line << std::flush; // one line at a time also into a file or a pipe
    }
}

void StepProgress::break_line() {
    if (tty_)
        out_ << "\n";
}

} // namespace slimtune::train
