// Training examples from JSONL (every format of data/dataset_format.h), as token ids with
// aligned labels (-100 = not learned):
//   tokens             ids as given; labels default to the ids
//   text               every token learned; BOS (when the tokenizer adds one) and EOS
//   prompt_completion  BOS, prompt, completion, EOS; only the completion and EOS learned
//   alpaca, messages, sharegpt
//                      rendered with the chat template; only the assistant turns (and each
//                      turn's end-of-turn token) learned
//   prompt_completion with lists of turns (TRL's conversational form)
//                      rendered with the chat template; only the completion's turns learned
//                      (the prompt, rendered with the generation prompt, is masked)
// With train_on_all every token is learned (torchtune's train_on_input). A malformed line is
// an error naming the file, the line and the field; with skip_bad_lines it is counted in
// ExampleStats instead (and the first reason kept), never dropped silently.
#pragma once

#include "data/chat_template.h"
#include "data/dataset_format.h"
#include "data/packing.h"
#include "data/tokenizer/tokenizer.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace slimtune::data {

struct ExampleOptions {
    RecordOptions record;                      // format, text field, ShareGPT role map
    const Tokenizer* tokenizer = nullptr;      // needed by every format but tokens
    std::optional<ChatTemplate> chat_template; // for chat formats; alpaca defaults to "alpaca"
    std::int64_t vocab_size = 0;               // ids must lie in [0, vocab_size) when > 0
    bool train_on_all = false;                 // learn prompts and user turns too
    bool skip_bad_lines = false;               // count malformed lines instead of failing
};

struct ExampleStats {
    std::int64_t lines = 0, examples = 0, bad_lines = 0;
    std::string first_bad; // "file:line: field: what" of the first skipped line
    std::vector<std::int64_t> bad_line_numbers;  // 1-based, of every skipped line
    std::map<std::string, std::int64_t> formats; // examples per format name
};

// Calls `sink` with each example in file order, reading the file as a stream (memory does
// not grow with the file).
void for_each_token_example(const std::string& path,
                            const ExampleOptions& options,
                            const std::function<void(TokenExample&&)>& sink,
                            ExampleStats* stats = nullptr);

// How records read (`settings`) completed for a tokenizer (null for pre-tokenized data) and a
// vocabulary: the chat template is `chat_template` (chat_template_for), else ("auto" or "")
// the one the tokenizer's config names (when none can be detected, only chat records fail,
// naming the missing template). What training, `slimtune eval` and the model card read examples
// with.
ExampleOptions example_options(ExampleOptions settings,
                               const std::string& chat_template,
                               const Tokenizer* tokenizer,
                               int64_t vocab_size);

// One record as a training example (the record must come from parse_record).
TokenExample record_to_example(const Record& record, const ExampleOptions& options);

} // namespace slimtune::data
