// The JSONL record formats slimtune reads, for both training (data/examples.h) and curation
// (data/curate/): one JSON object per line in one of
//   text               {"text": "..."}                  (the field name is configurable)
//   prompt_completion  {"prompt": "...", "completion": "..."}, or TRL's conversational form
//                      {"prompt": [messages], "completion": [messages]} (both lists of
//                      {"role", "content"} turns: the completion is the reply to learn)
//   alpaca             {"instruction": "...", "input": "..."?, "output": "..."}
//   messages           {"messages": [{"role": "...", "content": "..."}, ...]}   (OpenAI chat)
//   sharegpt           {"conversations": [{"from": "...", "value": "..."}, ...]}
//   tokens             {"input_ids": [...], "labels": [...]?}  (pre-tokenized; -100 = masked)
// A record's format is named (data.format) or detected from its keys, in the order above
// reversed by specificity: input_ids, messages, conversations, instruction, prompt/completion,
// then the text field. Other keys are carried along untouched.
#pragma once

#include "data/chat_template.h"

#include <cstdint>
#include <functional>
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
// is not empty; assistant: output), messages and sharegpt records (roles mapped), and
// conversational prompt/completion records (the prompt's turns, then the completion's).
std::vector<ChatMessage> record_messages(const Record& record, const RecordOptions& options);

// True for a record that record_messages reads: alpaca, messages, sharegpt, and
// prompt/completion in TRL's conversational form.
bool is_conversation(const Record& record);

// prompt_completion in TRL's conversational form: "prompt" and "completion" are lists of turns.
bool is_conversational_prompt_completion(const Record& record);

// What a file of records held: lines read (blank ones included), records handed on, and the
// malformed lines skipped (with the first one's message).
struct RecordReadStats {
    std::int64_t lines = 0, records = 0, bad_lines = 0;
    std::string first_bad;                      // "file:line: field 'f' what"
    std::vector<std::int64_t> bad_line_numbers; // 1-based, of every skipped line
};

// Reads a JSONL file as a stream and calls `sink` with each record and its 1-based line number,
// in file order; blank lines are skipped. A malformed line (or a RecordError thrown by `sink`
// for a record it cannot use) is a FormatError "path:line: field 'f' what", or with
// `skip_bad_lines` counted in `stats` and passed over. A ConfigError from `sink` gets the
// "path:line: " prefix. Error for a file that cannot be read.
void for_each_record(const std::string& path,
                     const RecordOptions& options,
                     bool skip_bad_lines,
                     const std::function<void(const Record&, std::int64_t line)>& sink,
                     RecordReadStats* stats = nullptr);

} // namespace slimtune::data
