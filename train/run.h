// A whole fine-tuning run: data, model, adapters, the step loop with evaluation, metrics,
// progress, checkpoints every N steps, exact resume, Ctrl-C, and the adapter (or full model)
// at the end. The `train` command fills a RunConfig from a recipe and calls run_training.
#pragma once

#include "train/trainer.h"

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>

namespace slimtune::train {

struct RunConfig {
    std::string model_path;
    std::string train_file, validation_file; // validation_file "" : split or none
    double validation_split = 0.0;           // fraction of train held out (seeded)
    bool shuffle = true;
    std::string text_field = "text";
    std::string format = "auto";                 // a data::dataset_format_names() name
    std::map<std::string, std::string> role_map; // ShareGPT "from" -> role, beyond the defaults
    bool train_on_all = false;                   // learn prompts and user turns too
    bool skip_bad_lines = false;                 // count malformed lines instead of failing
    bool drop_overlong = false;                  // drop examples longer than seq_len
    std::string chat_template; // "" : detected from the tokenizer config when one is needed
    std::string lora_init;     // a PEFT adapter directory to start from
    TrainerConfig trainer;     // mode, lora, optimizer, schedule, clipping, seed
    double warmup_ratio = 0.0; // when > 0: warmup steps = ceil(ratio * total steps)
    int64_t max_steps = 0;     // 0: from epochs
    double epochs = 1.0;
    int64_t batch_size = 4, seq_len = 512, grad_accum = 1;
    bool packing = true;
    int threads = 0;
    std::string output_dir;
    int64_t eval_every = 0;       // 0: only at the end
    int64_t eval_max_batches = 0; // 0: every validation batch
    int64_t checkpoint_every = 0; // 0: only at the end
    int checkpoint_keep = 2;
    int64_t log_every = 1;
    // Stop (with a checkpoint, as Ctrl-C does) after this many steps of this invocation; 0:
    // run to the end. For time-boxed runs continued later with resume.
    int64_t stop_after = 0;
    std::string recipe_text; // the resolved recipe, stored with every checkpoint
    // The curation gate: train_file must be vouched for by a curation manifest (`manifest`,
    // or manifest.json beside it). Only library callers (tests on hand-made data) turn it off.
    std::string manifest;
    bool require_curated = true;
};

struct RunResult {
    int64_t steps = 0;
    double last_loss = 0;
    std::optional<double> eval_loss;
    bool interrupted = false; // stopped by Ctrl-C after saving a checkpoint
    std::string output;       // the adapter directory (lora) or model directory (full)
};

// Runs (or, with resume, continues from the newest checkpoint in output_dir) and writes
// output_dir/{metrics.jsonl, recipe.ini, checkpoints/, adapter/ or model/}. Progress goes to
// `progress` (a bar when it is a terminal, plain lines otherwise).
RunResult run_training(const RunConfig& config, bool resume, std::ostream& progress);

// Sets the flag that makes a running run_training save a checkpoint and return (SIGINT).
void request_stop();

} // namespace slimtune::train
