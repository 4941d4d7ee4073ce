// What a run shows while it trains: a header before the first step (parameters, batch, data,
// steps), then one line per logged step, or, on a terminal, one bar redrawn in place with the
// loss, the learning rate, tokens/s and the time left.
#pragma once

#include "train/trainer.h"

#include <cstdint>
#include <iosfwd>
#include <string>

namespace slimtune::train {

// What train prints before its first step.
struct RunHeader {
    ParamCount params;
    std::string base; // how the frozen base is held (Trainer::base_note); empty: no line
    int64_t batch_size = 0, grad_accum = 0, seq_len = 0; // the effective batch
    int64_t train_examples = 0, validation_examples = 0;
    int64_t tokens_per_epoch = 0; // packed (after truncation), padding left out
    int64_t steps_per_epoch = 0, total_steps = 0;
};
// (The chat template lines come earlier, where the run chooses its template.)
// trainable params: 4,884,480 || all params: 139,399,488 || trainable%: 3.5039   (PEFT's form)
// frozen base: bfloat16, matmuls on avx512-bf16 (oneDNN), FP32 accumulation
// effective batch: 4 sequences x 2 micro-batches x 512 tokens = 4,096 tokens per step
// data: 1,200 training examples (301,544 tokens per epoch), 60 validation examples
// steps: 600 (75 per epoch)
void print_run_header(std::ostream& out, const RunHeader& header);

// Tokens per second since the start of this invocation: every input token, and the
// loss-bearing ones.
struct Throughput {
    double tokens_per_s = 0, trainable_tokens_per_s = 0;
};

class StepProgress {
public:
    // A bar when `out` is standard error (or output) on a terminal; plain lines every log_every
    // steps (and at the last step) otherwise.
    StepProgress(std::ostream& out, int64_t total_steps, int64_t log_every);

    // Step `s.step` just finished; `done` steps of this invocation took `elapsed` seconds.
    void step(const StepStats& s, Throughput speed, int64_t done, double elapsed);
    // Ends the bar's line before other output (an evaluation, a checkpoint, the end).
    void break_line();

private:
    std::ostream& out_;
    int64_t total_, log_every_;
    bool tty_;
};

// "1h02m" or "3m07s".
std::string format_duration(double seconds);

// 4884480 -> "4,884,480".
std::string with_commas(int64_t n);

} // namespace slimtune::train
