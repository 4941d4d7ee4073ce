// Any model's chat template, rendered as transformers renders it (data/jinja/: Jinja2 in an
// immutable sandbox with trim_blocks, lstrip_blocks, loop controls, tojson, raise_exception,
// strftime_now), and assistant-only loss masks for it from provenance: every output byte is
// known to come from the template or from a message, so the trainable text of each assistant
// message is found without {% generation %} tags:
//   - its content bytes (any field of the message but its role: content, reasoning, tool calls)
//     and the template text between them;
//   - before them, the template text that follows the generation prompt (Qwen3's empty
//     <think></think> block: what the model writes after "<|im_start|>assistant\n");
//   - after them, the template text up to and including the first end-of-turn marker (the EOS
//     token or another special token of the tokenizer).
// A template whose output mixes another message's content into a reply, or writes no
// end-of-turn marker after one, is refused with a message saying so (ConfigError).
#pragma once

#include "data/chat_template.h"
#include "data/jinja/template.h"
#include "data/tokenizer/tokenizer.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace slimtune::data {

struct ChatEngineOptions {
    bool add_generation_prompt = false;
    // Further template variables, as apply_chat_template's kwargs: tools, documents,
    // enable_thinking, date_string ... (a JSON object).
    nlohmann::ordered_json kwargs = nlohmann::ordered_json::object();
    std::optional<std::time_t> now; // what strftime_now sees (none: the clock)
};

class ChatEngine {
public:
    // `source` is the Jinja text; `name` says where it came from in messages. The special-token
    // variables (bos_token, eos_token, pad_token, unk_token) come from `config`; `end_markers`
    // are the strings that end a turn (chat_end_markers).
    ChatEngine(const std::string& source,
               std::string name,
               const TokenizerConfig& config,
               std::vector<std::string> end_markers);

    // `messages` is a JSON array of message objects ({"role", "content", ...}). Throws
    // ConfigError (jinja::TemplateError) where the template raises or fails.
    std::string render(const nlohmann::ordered_json& messages,
                       const ChatEngineOptions& options = {}) const;
    // The rendering cut into trainable (assistant) and other segments.
    std::vector<ChatSegment> segments(const nlohmann::ordered_json& messages,
                                      const ChatEngineOptions& options = {}) const;
    const std::string& name() const { return template_.name(); }

private:
    jinja::Text render_tagged(const nlohmann::ordered_json& messages,
                              const ChatEngineOptions& options,
                              bool generation_prompt) const;

    jinja::Template template_;
    jinja::Dict specials_;
    std::vector<std::string> end_markers_;
};

// The end-of-turn markers of a tokenizer: its EOS token and every special added token.
std::vector<std::string> chat_end_markers(const Tokenizer& tok);

// Messages as JSON, for the engine.
nlohmann::ordered_json messages_json(std::span<const ChatMessage> messages);

} // namespace slimtune::data
