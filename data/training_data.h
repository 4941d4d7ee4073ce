// The data of a training run: the [data] section of a recipe (which files, how their records
// read, the validation split, the per-epoch shuffle, packing into batches), tokenized once into
// memory-mapped token stores, and the batches each epoch and each evaluation take from them.
// Every order here is a pure function of the seed and the epoch number, so a resumed run
// rebuilds exactly the batches it left, and the same examples are held out on every run.
#pragma once

#include "common/rng.h"
#include "data/examples.h"
#include "data/packing.h"
#include "data/token_store.h"

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace slimtune::data {

struct TrainingDataConfig {
    std::string train;             // JSONL training examples
    std::string validation;        // JSONL validation examples; "" : none, or the split below
    double validation_split = 0.0; // fraction of `train` held out (seeded) when no validation file
    bool shuffle = true;           // a new seeded order every epoch
    // How records read (format, text field, role map, train_on_all, skip_bad_lines). The
    // tokenizer, chat template and vocabulary size are the run's: see example_options.
    ExampleOptions examples;
    // A chat_template_names() name, or "auto" ("" alike): the tokenizer's own template.
    std::string chat_template = kAutoChatTemplate;
    // Train with a named chat_template whose role/turn markers are not special tokens of the
    // tokenizer (they are learned as ordinary text, and what serves the model must render them
    // the same way); otherwise such a template is refused (see choose_chat_template).
    bool allow_template_markers_as_text = false;
    PackingOptions packing; // seq_len, batch_size, pack, drop_overlong
    std::string manifest;   // the curation manifest of `train`; "" : manifest.json beside it
};

// 0..n-1 in a seeded Fisher-Yates order.
std::vector<std::size_t> seeded_permutation(std::size_t n, Rng rng);

class TrainingData {
public:
    // Tokenizes config.train (and config.validation) in one streaming pass each into
    // store_dir/train.bin (validation.bin), printing one line per file (examples per format,
    // skipped lines) to `progress`, and holds out the seeded validation split. ConfigError when
    // no training example is left.
    static TrainingData open(const TrainingDataConfig& config,
                             const ExampleOptions& options,
                             uint64_t seed,
                             const std::string& store_dir,
                             std::ostream& progress);

    // The packing plan of one epoch: the training examples in their seeded order (`epoch`
    // numbers the passes from 0).
    PackPlan epoch_plan(int64_t epoch) const;
    // Batch b of an epoch's plan, read from the memory-mapped store.
    TokenBatch train_batch(const PackPlan& plan, std::size_t b) const;
    // The validation batches (none without validation data), at most max_batches (0: all).
    std::vector<TokenBatch> validation_batches(int64_t max_batches) const;

    // The validation examples one by one, in file order (k < validation_size()).
    std::size_t validation_size() const { return validation_pool_.size(); }
    ExampleView validation_example(std::size_t k) const;
    std::size_t train_size() const { return train_pool_.size(); }

    // The records that went to validation, each line as it stands in its input file (every
    // example of data.validation, or the held-out lines of data.train), written atomically to
    // `path`. False, and nothing written, without validation data.
    bool write_validation_records(const std::string& path) const;
    // How many validation examples have exactly the token ids of a training example: a
    // validation set that overlaps the training data makes the validation loss optimistic.
    std::int64_t validation_overlap() const;

    const TrainingDataConfig& config() const { return config_; }

private:
    TrainingData(TrainingDataConfig config, uint64_t seed, TokenStore train);
    const TokenStore& validation_store() const;

    TrainingDataConfig config_;
    uint64_t seed_;
    TokenStore train_store_;
    std::optional<TokenStore> validation_store_; // a validation file; else the split reads train
    std::vector<std::size_t> train_pool_, validation_pool_; // example indices into their store
    // Lines of the validation records' file that data.on_bad_line = skip left out (1-based):
    // example k is the k-th line that is neither blank nor among them.
    std::vector<std::int64_t> validation_bad_lines_;
};

} // namespace slimtune::data
