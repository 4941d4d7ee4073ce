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
    // A new run into a train.output_dir that holds a run: remove that run's files first
    // (train/run_dir.h). Without it such a directory is refused.
    bool overwrite = false;
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
    bool interrupted = false;   // stopped by a stop request or stop_after, after a checkpoint
    bool early_stopped = false; // eval.early_stopping_patience ended the run
    int64_t weights_step = 0;   // the step whose weights the output holds (the best one when
                                // early stopping ended the run and checkpoint.keep_best kept it)
    std::string output;         // the adapter directory (lora) or model directory (full)
    // A resume of a run that has already ended: why there is nothing to do, and how to go on
    // (a higher train.max_steps); empty otherwise.
    std::string nothing_to_do;
};

// Runs `recipe` (or, with control.resume, continues from the newest checkpoint in its
// train.output_dir, refusing a recipe change that alters the run) and writes
// output_dir/{metrics.jsonl, recipe.ini, tokens/, data/validation.jsonl, samples.jsonl,
// checkpoints/, adapter/ or model/}. A new run needs an empty output_dir (or
// control.overwrite). The training data must pass the curation gate (a manifest that vouches
// for it). Progress goes to `progress` (a bar when it is the terminal, plain lines otherwise).
// Threads are the process's: the caller sets them (train.threads).
RunResult run_training(const Recipe& recipe, const RunControl& control, std::ostream& progress);

} // namespace slimtune::train
