// The JSONL record formats slimtune reads, for both training (data/examples.h) and curation
// (data/curate/): one JSON object per line in one of
//   text               {"text": "..."}                  (the field name is configurable)
//   prompt_completion  {"prompt": "...", "completion": "..."}
//   alpaca             {"instruction": "...", "input": "..."?, "output": "..."}
//   messages           {"messages": [{"role": "...", "content": "..."}, ...]}   (OpenAI chat)
//   sharegpt           {"conversations": [{"from": "...", "value": "..."}, ...]}
//   tokens             {"input_ids": [...], "labels": [...]?}  (pre-tokenized; -100 = masked)
// A record's format is named (data.format) or detected from its keys, in the order above
// reversed by specificity: input_ids, messages, conversations, instruction, prompt/completion,
// then the text field. Other keys are carried along untouched.
#pragma once

#include "data/chat_template.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data {

enum class DatasetFormat { automatic, text, prompt_completion, alpaca, messages, sharegpt, tokens };

// "auto", "text", "prompt_completion", "alpaca", "messages", "sharegpt", "tokens".
std::vector<std::string> dataset_format_names();
std::string format_name(DatasetFormat f);
// ConfigError naming the unknown name and listing the known ones.
DatasetFormat parse_dataset_format(std::string_view name);

// How a record is read. role_map extends the ShareGPT defaults (human/user -> user,
// gpt/assistant/chatgpt/bard/bing/model -> assistant, system -> system,
// tool/function/observation/function_response -> tool).
struct RecordOptions {
    DatasetFormat format = DatasetFormat::automatic;
    std::string text_field = "text";
    std::map<std::string, std::string> role_map;
};

// One parsed line. Parsing checks the whole shape (every field present with the right JSON
// type, roles known), so a Record always converts.
struct Record {
    nlohmann::json value;
    DatasetFormat format = DatasetFormat::text;
};

// Thrown for a malformed line: the caller prefixes "file:line: ". `field` names the offending
// field ("" when the line is not JSON or not an object).
struct RecordError {
    std::string field, what;
};

// Parses one JSONL line; throws RecordError.
Record parse_record(std::string_view line, const RecordOptions& options);

// The free-text strings of a record, in reading order, as pointers into record.value: what
// curation's text stages read and may rewrite (empty for tokens records). Alpaca: instruction,
// input, output; chat formats: every turn's content.
std::vector<nlohmann::json*> text_slots(Record& record, const RecordOptions& options);
std::vector<const nlohmann::json*> text_slots(const Record& record, const RecordOptions& options);

// The record's strings joined by a blank line: the document the quality, dedup, toxicity and
// bias stages measure.
std::string record_text(const Record& record, const RecordOptions& options);

// A conversation view of alpaca (user: instruction, then a blank line and the input when it
// is not empty; assistant: output), messages and sharegpt records (roles mapped).
std::vector<ChatMessage> record_messages(const Record& record, const RecordOptions& options);

} // namespace slimtune::data
