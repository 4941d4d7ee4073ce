// Sample generations during training (eval.samples): at each evaluation, greedy continuations
// of the prompts of the first N validation examples, appended to OUTPUT_DIR/samples.jsonl, one
// JSON line per sample: {"step", "example", "prompt", "text", "tokens"} — the prompt and the
// generated text decoded with the model's tokenizer, the generated ids. Without a tokenizer
// (pre-tokenized data) "prompt_tokens" stands in for the two texts.
#pragma once

#include "data/tokenizer/tokenizer.h"
#include "data/training_data.h"
#include "model/transformer.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace slimtune::train {

// The prompt of an example: its tokens before the first loss-bearing label (a chat record's
// conversation up to the assistant's reply, a prompt/completion record's prompt). An example
// that is learned whole (text records, data.train_on = all) has no such prefix: its first half
// stands in.
std::span<const int32_t> example_prompt(const data::ExampleView& example);

// `ids` as text, leaving out ids past the tokenizer's vocabulary (a model's embedding table
// may have padding rows beyond it).
std::string decode_known(const data::Tokenizer& tokenizer,
                         std::span<const int32_t> ids,
                         bool skip_special_tokens);

struct Sample {
    size_t example = 0;             // index among the validation examples
    std::vector<int32_t> prompt;    // prompt ids
    std::vector<int32_t> generated; // generated ids (the stop token included)
    std::string prompt_text, text;  // decoded; empty without a tokenizer
};

class SampleWriter {
public:
    // `count` samples per evaluation (at most the validation examples there are), each at most
    // `max_new_tokens` long, appended to `path`. `tokenizer` may be null.
    SampleWriter(const data::TrainingData& data,
                 const data::Tokenizer* tokenizer,
                 int64_t count,
                 int64_t max_new_tokens,
                 std::string path);

    // Generates the samples with `model` as it is now (greedy: no randomness, so a resumed run
    // writes the same ones) and appends them, tagged with `step`.
    std::vector<Sample> write(const Model& model, int64_t step) const;

private:
    const data::TrainingData& data_;
    const data::Tokenizer* tokenizer_;
    size_t count_;
    int64_t max_new_tokens_;
    std::string path_;
};

} // namespace slimtune::train
