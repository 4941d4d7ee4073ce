// A whole fine-tuning run, as the `train` command drives it: the curation gate, the data, the
// model and its adapters, resume, the step loop with evaluation, metrics, progress and
// checkpoints, and the adapter (or full model) with its provenance at the end. The recipe is
// the whole configuration; what is not configuration (resume, a stop request) is RunControl.
#pragma once

#include "train/recipe.h"

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

namespace slimtune::train {

struct RunControl {
    bool resume = false; // continue from the newest checkpoint in train.output_dir
    // Stop (with a checkpoint) after this many steps of this invocation; 0: run to the end. For
    // time-boxed runs continued later with resume.
    int64_t stop_after = 0;
    // When it becomes true (the CLI's Ctrl-C handler sets it), the run saves a checkpoint after
    // the current step and returns.
    const std::atomic<bool>* stop = nullptr;
};

struct RunResult {
    int64_t steps = 0;
    double last_loss = 0;
    std::optional<double> eval_loss;
    bool interrupted = false; // stopped by a stop request or stop_after, after a checkpoint
    std::string output;       // the adapter directory (lora) or model directory (full)
};

// Runs `recipe` (or, with control.resume, continues from the newest checkpoint in its
// train.output_dir) and writes output_dir/{metrics.jsonl, recipe.ini, tokens/, checkpoints/,
// adapter/ or model/}. The training data must pass the curation gate (a manifest that vouches
// for it). Progress goes to `progress` (a bar when it is the terminal, plain lines otherwise).
// Threads are the process's: the caller sets them (train.threads).
RunResult run_training(const Recipe& recipe, const RunControl& control, std::ostream& progress);

} // namespace slimtune::train
