// Training examples from JSONL, as token ids with aligned labels (-100 = not learned). The
// formats the trainer reads until the dataset pipeline (issue 7) arrives in full:
//   {"input_ids": [...], "labels": [...]?}   pre-tokenized; labels default to the ids
//   {"text": "..."}                          every token learned; EOS appended
//   {"prompt": "...", "completion": "..."}   only the completion (and EOS) learned
//   {"messages": [{"role", "content"}, ...]} rendered with the chat template; only the
//                                            assistant turns (and their end-of-turn) learned
// The text field's name is configurable. Every malformed line is an error naming the file,
// the line and the field.
#pragma once

#include "data/chat_template.h"
#include "data/packing.h"
#include "data/tokenizer/tokenizer.h"

#include <optional>
#include <string>
#include <vector>

namespace slimtune::data {

struct ExampleOptions {
    std::string text_field = "text";
    const Tokenizer* tokenizer = nullptr;      // needed by every format but input_ids
    std::optional<ChatTemplate> chat_template; // needed by "messages"
    std::int64_t vocab_size = 0;               // ids must lie in [0, vocab_size) when > 0
};

std::vector<TokenExample> read_token_examples(const std::string& path,
                                              const ExampleOptions& options);

} // namespace slimtune::data
