// Training checkpoints in HDF5: everything a bit-exact resume needs (weights, optimizer moments,
// step counters, RNG states, data cursor, the recipe) in one file.
//
// Layout (HDF5 1.8+ object format; no chunking, no compression: float data does not compress
// and contiguous datasets are written straight from the caller's buffers):
//   /                      attributes:
//     format                 string  "slimtune-train-checkpoint"  (checked on read)
//     version                int64   1                            (checked on read)
//     step                   int64   optimizer steps done
//     optimizer_steps        int64   the optimizer's own step counter (AdamW's t)
//     recipe                 string  the resolved recipe (INI text)
//     dataset_manifest_sha256 string "" when none
//     slimtune_version       string
//   /rng_state             uint64[n]
//   /data_cursor           int64[n]
//   /metrics/names         string[n] (fixed width, NUL-padded), sorted as std::map
//   /metrics/values        float64[n]
//   /tensors               group, attribute count (int64) = number of arrays
//     /tensors/000000 ...    float32 dataset per array, in the order given; its dataspace is the
//                            array's shape (a scalar dataspace for shape {}), attribute "name"
//                            (string) holds the array's name, which may contain '/' and '.'
//   /optimizer             the same as /tensors, for optimizer_state (e.g. "exp_avg/<name>")
// Strings are fixed-length UTF-8 with NUL padding, so they cannot contain NUL bytes (the writer
// refuses them). Floats are stored as IEEE float32 little-endian without conversion, so every
// bit (NaN payloads included) reads back unchanged. Completeness comes from the atomic rename,
// truncation is caught when the file is opened, and damage afterwards by the root attribute
//     checksum               uint64  a 64-bit checksum of every value above (see
//                                    checkpoint_checksum); files without it (written before
//                                    it existed) are read unchecked
// which reading with values verifies (HDF5 checksums its own metadata).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace slimtune::train {

struct NamedArray {
    std::string name;
    std::vector<std::int64_t> shape; // {} is a scalar (one value)
    std::vector<float> values;       // row-major, product(shape) of them
};

struct TrainCheckpoint {
    std::int64_t step = 0;                 // optimizer steps done
    std::int64_t optimizer_steps = 0;      // the optimizer's own step counter (AdamW's t)
    std::vector<std::uint64_t> rng_state;  // seeds/offsets of every RNG (shuffle, dropout)
    std::vector<std::int64_t> data_cursor; // epoch, position in the shuffled order, ...
    std::string recipe;                    // the resolved recipe (INI text)
    std::string dataset_manifest_sha256;   // "" when none
    std::string slimtune_version;
    std::vector<NamedArray> tensors;         // trainable weights
    std::vector<NamedArray> optimizer_state; // e.g. "exp_avg/<name>", "exp_avg_sq/<name>"
    // "loss" of the last step, "eval_loss" of the last evaluation; the run's state besides:
    // "best_eval_loss", "best_step", "evals_since_best" (early stopping, train/early_stopping.h),
    // "finished" (1 in the checkpoint a run ends with), "early_stopped" (1 when early stopping
    // ended it).
    std::map<std::string, double> metrics;
};

// Writes PATH.tmp.<pid>, fsyncs it, renames it over `path` and fsyncs the directory: `path` is
// either the old file or the complete new one, never half written. Throws Error naming `path`
// (the temporary is removed) on I/O failure, a shape that does not match the values, a
// duplicate array name or a string with a NUL byte.
void write_train_checkpoint(const std::string& path, const TrainCheckpoint& checkpoint);

// Throws FormatError naming `path` and the missing or bad item (not HDF5, truncated, not a
// slimtune checkpoint, unsupported version, missing group/dataset/attribute, wrong type).
TrainCheckpoint read_train_checkpoint(const std::string& path);

// Reads the whole file as read_train_checkpoint does (the checksum covers the values):
// returns "" when it reads back, otherwise the FormatError's message.
std::string check_train_checkpoint(const std::string& path);

// A run directory keeps its checkpoints as RUN_DIR/checkpoints/step-<N>.h5 (N without leading
// zeros): the path of step N's.
std::string checkpoint_in_run(const std::string& run_dir, std::int64_t step);

// Writes step-<checkpoint.step>.h5 (creating the directory), then deletes the checkpoints with
// the lowest steps so that at most `keep` remain (keep <= 0: keep all); the file just written
// is always kept, even when older steps sort above it, and so is the one of step `also_keep`
// (the best validation loss, checkpoint.keep_best), which does not count toward `keep`.
// Returns its path.
std::string save_checkpoint_in_run(const std::string& run_dir,
                                   const TrainCheckpoint& checkpoint,
                                   int keep,
                                   std::optional<std::int64_t> also_keep = std::nullopt);

// The step-<N>.h5 with the highest N that passes check_train_checkpoint; nullopt when there is
// none. Anything else in the directory (*.tmp.<pid> leftovers of a crashed write included) is
// ignored. A newer file that fails the check (a disk that filled up, a file damaged later) is
// skipped, not fatal: its "path: reason" is appended to *skipped when given, so the caller can
// say why it resumes from an older step.
std::optional<std::string> latest_checkpoint(const std::string& run_dir,
                                             std::vector<std::string>* skipped = nullptr);

} // namespace slimtune::train
