// The output directory of a run (train.output_dir): what a run writes there, the refusal to
// mix two runs in one directory, what --overwrite clears, and what a resume may change.
//
// A new run needs an empty (or missing) directory: a reused one would mix the old run's
// checkpoints with the new run's recipe, and a later --resume would continue the wrong run.
// With --overwrite the run's own entries (run_entries) are removed first; anything else in the
// directory is never deleted: the run is refused, naming it. A resume compares the recipe
// stored in the checkpoint with the current one and refuses any change but those listed in
// resume_may_change.
#pragma once

#include "train/checkpoint_h5.h"
#include "train/recipe.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace slimtune::train {

// The entries a run writes directly under its output directory.
inline constexpr const char* kMetricsFile = "metrics.jsonl";
inline constexpr const char* kRecipeFile = "recipe.ini";
inline constexpr const char* kSamplesFile = "samples.jsonl"; // eval.samples
inline constexpr const char* kCheckpointsDir = "checkpoints";
inline constexpr const char* kTokensDir = "tokens";
inline constexpr const char* kDataDir = "data"; // data/validation.jsonl: the held-out records
inline constexpr const char* kAdapterDir = "adapter";
inline constexpr const char* kModelDir = "model";
inline constexpr const char* kValidationRecords = "data/validation.jsonl";

struct RunEntry {
    const char* name;
    bool directory;
};
// Every entry above: what --overwrite may remove.
const std::vector<RunEntry>& run_entries();

// OUTPUT_DIR/name for a run of `r`.
std::string run_path(const Recipe& r, const std::string& name);

// The files a run of `r` writes, one per line (what --print-config shows).
std::string describe_outputs(const Recipe& r);

// A new run's directory, checked before anything is printed or written: it is missing or
// empty, or, with `overwrite`, holds nothing but a run's own entries (`previous_run`, as
// "checkpoints/ (2 entries)"), which prepare_new_run removes. Otherwise a UsageError names the
// directory and what is in it. Changes nothing.
struct NewRunDir {
    std::string dir;
    std::vector<std::string> previous_run = {};
};
NewRunDir check_new_run_dir(const std::string& dir, bool overwrite);
// Creates the directory and removes the previous run's entries (listed on `progress`).
void prepare_new_run(const NewRunDir& checked, std::ostream& progress);

// The recipe keys a resume may change, in one place: "section.*" stands for a whole section.
// They change how long the run goes, where and how often it evaluates, logs and saves, and the
// threads, or only what the result's card says (model.name); every other key changes the
// training itself. data.train and data.manifest are paths: the data's identity is its manifest
// hash, compared on its own.
const std::vector<std::string>& resume_may_change();

// The newest readable checkpoint of a run to resume, read whole, after checking that it was
// trained on the data of `manifest_sha256` and with `now`'s recipe but for the keys of
// resume_may_change. ConfigError naming the directory when there is no checkpoint (and the
// skipped unreadable ones), naming the checkpoint and the data otherwise, or naming every key
// that differs ("optim.lr 0.005 -> 0.01").
struct ResumePoint {
    std::string path;
    TrainCheckpoint checkpoint;
    Recipe recipe = {};                    // the one the checkpoint stores
    std::vector<std::string> skipped = {}; // "path: reason" of newer, unreadable checkpoints
};
ResumePoint open_resume_point(const Recipe& now, const std::string& manifest_sha256);

// A resume of a run that has ended (its step reached `total_steps`, or early stopping ended it
// and `now`'s patience would stop it again) has nothing to do: why, and how to go on (a higher
// train.max_steps, a higher eval.early_stopping_patience). "" when there are steps to run, or
// when the run's adapter (or model) directory is missing: a run stopped after its last
// checkpoint but before that was written, or one resumed with train.max_steps lowered to the
// step of its newest checkpoint, writes it without training further.
std::string resume_has_ended(const ResumePoint& from, const Recipe& now, int64_t total_steps);

// Drops the lines of metrics.jsonl and samples.jsonl logged after `step`: a resume runs those
// steps again, and they write their lines again.
void drop_logs_after(const Recipe& r, int64_t step);

} // namespace slimtune::train
