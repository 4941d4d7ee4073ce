#include "data/chat_template.h"

#include "common/error.h"
#include "data/chat_engine.h"
#include "common/text.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <array>
#include <cstddef>

namespace slimtune::data {

namespace {

constexpr std::array<const char*, 6> kNames = {"chatml", "qwen3",  "llama3",
                                               "gemma",  "llama2", "alpaca"};

constexpr const char* kAlpacaSystem = "Below is an instruction that describes a task. Write a "
                                      "response that appropriately completes the request.";

std::string names_list() {
    std::string out;
    for (const char* n : kNames)
        out += std::string(out.empty() ? "" : ", ") + n;
    return out;
}

// Jinja's `trim` filter and argument-less strip() as the reference engine runs them
// (JavaScript's String.prototype.trim: is_js_whitespace). Content is valid UTF-8 here.
std::string_view trim(std::string_view s) {
    std::size_t begin = s.size(), end = 0, i = 0;
    while (i < s.size()) {
        const std::size_t start = i;
        if (!is_js_whitespace(next_code_point(s, i))) {
            begin = std::min(begin, start);
            end = i;
        }
    }
    return begin < end ? s.substr(begin, end - begin) : std::string_view{};
}

// Python's str.lstrip('\n') / rstrip('\n') / strip('\n'): only newlines go, as in Jinja2
// (transformers). @huggingface/jinja 0.5.1 ignores the argument and trims all whitespace; the
// goldens avoid content where the two differ (spaces right after a reasoning block's newlines).
std::string_view lstrip_nl(std::string_view s) {
    const std::size_t i = s.find_first_not_of('\n');
    return i == std::string_view::npos ? std::string_view{} : s.substr(i);
}
std::string_view rstrip_nl(std::string_view s) {
    const std::size_t i = s.find_last_not_of('\n');
    return i == std::string_view::npos ? std::string_view{} : s.substr(0, i + 1);
}
std::string_view strip_nl(std::string_view s) {
    return lstrip_nl(rstrip_nl(s));
}

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

// Collects the rendered text, merging neighbours with the same trainable flag.
class Out {
public:
    void add(std::string_view text, bool trainable = false) {
        if (text.empty())
            return;
        if (!segments_.empty() && segments_.back().trainable == trainable)
            segments_.back().text += text;
        else
            segments_.push_back({std::string(text), trainable});
    }
    // Text the assistant produces: trainable in an assistant turn only.
    void reply(const ChatMessage& m, std::string_view text) { add(text, m.role == "assistant"); }
    std::vector<ChatSegment> take() { return std::move(segments_); }

private:
    std::vector<ChatSegment> segments_;
};

[[noreturn]] void fail(const ChatTemplate& t, const std::string& what) {
    throw ConfigError("chat template " + t.name + ": " + what);
}

// The user/assistant/user/... rule of the gemma and llama2 templates (their raise_exception)
// over the messages after a leading system one. Gemma's test is only "a user turn exactly at
// even positions" (a system message at an odd one passes); llama2's wants user, assistant, ...
void check_alternation(const ChatTemplate& t,
                       std::span<const ChatMessage> loop,
                       std::size_t skip,
                       bool strict) {
    for (std::size_t i = 0; i < loop.size(); ++i) {
        const bool ok = strict ? loop[i].role == (i % 2 == 0 ? "user" : "assistant")
                               : (loop[i].role == "user") == (i % 2 == 0);
        if (!ok)
            fail(t, "conversation roles must alternate user/assistant/user/assistant/...; "
                    "message " +
                        std::to_string(i + skip + 1) + " has role " + loop[i].role);
    }
}

// <|im_start|>{role}\n{content}<|im_end|>\n, with an optional default system turn.
void render_chatml(const ChatTemplate& t, std::span<const ChatMessage> ms, bool gen, Out& out) {
    if (!t.default_system.empty() && ms[0].role != "system")
        out.add("<|im_start|>system\n" + t.default_system + "<|im_end|>\n");
    for (const ChatMessage& m : ms) {
        out.add("<|im_start|>" + m.role + "\n");
        out.reply(m, m.content);
        out.reply(m, "<|im_end|>");
        out.add("\n");
    }
    if (gen)
        out.add("<|im_start|>assistant\n");
}

// Qwen3's template without tool definitions: assistant turns after the last user query keep (or
// gain an empty) <think> block when they are the last message or have reasoning; earlier ones
// lose it. Tool results become <tool_response> blocks of a user turn.
void render_qwen3(std::span<const ChatMessage> ms, const ChatRenderOptions& o, Out& out) {
    std::size_t last_query = ms.size() - 1;
    for (std::size_t i = ms.size(); i-- > 0;) {
        const std::string& c = ms[i].content;
        const bool tool_response =
            c.starts_with("<tool_response>") && c.ends_with("</tool_response>");
        if (ms[i].role == "user" && !tool_response) {
            last_query = i;
            break;
        }
    }
    for (std::size_t i = 0; i < ms.size(); ++i) {
        const ChatMessage& m = ms[i];
        if (m.role == "tool") { // consecutive tool results share one user turn
            if (i == 0 || ms[i - 1].role != "tool")
                out.add("<|im_start|>user");
            out.add("\n<tool_response>\n" + m.content + "\n</tool_response>");
            if (i + 1 == ms.size() || ms[i + 1].role != "tool")
                out.add("<|im_end|>\n");
            continue;
        }
        out.add("<|im_start|>" + m.role + "\n");
        if (m.role != "assistant") {
            out.add(m.content + "<|im_end|>\n");
            continue;
        }
        std::string_view content = m.content, reasoning;
        if (const std::size_t close = content.find("</think>"); close != std::string_view::npos) {
            const std::string_view before = rstrip_nl(content.substr(0, close));
            const std::size_t open = before.rfind("<think>");
            reasoning =
                lstrip_nl(open == std::string_view::npos ? before : before.substr(open + 7));
            content = lstrip_nl(content.substr(content.rfind("</think>") + 8));
        }
        if (i > last_query && (i + 1 == ms.size() || !reasoning.empty())) {
            out.reply(m, "<think>\n" + std::string(strip_nl(reasoning)) + "\n</think>\n\n");
            content = lstrip_nl(content);
        }
        out.reply(m, content);
        out.reply(m, "<|im_end|>");
        out.add("\n");
    }
    if (o.add_generation_prompt) {
        out.add("<|im_start|>assistant\n");
        if (!o.enable_thinking)
            out.add("<think>\n\n</think>\n\n");
    }
}

// {bos}<|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|> ...
void render_llama3(const ChatTemplate& t, std::span<const ChatMessage> ms, bool gen, Out& out) {
    out.add(t.bos_token);
    for (const ChatMessage& m : ms) {
        out.add("<|start_header_id|>" + m.role + "<|end_header_id|>\n\n");
        out.reply(m, trim(m.content));
        out.reply(m, "<|eot_id|>");
    }
    if (gen)
        out.add("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// {bos}<start_of_turn>user\n{system}\n\n{user|trim}<end_of_turn>\n<start_of_turn>model\n...
void render_gemma(const ChatTemplate& t, std::span<const ChatMessage> ms, bool gen, Out& out) {
    std::string prefix;
    std::size_t skip = 0;
    if (ms[0].role == "system") {
        if (!t.system_role)
            fail(t, "the system role is not supported by this template");
        prefix = ms[0].content + "\n\n";
        skip = 1;
    }
    const std::span<const ChatMessage> loop = ms.subspan(skip);
    check_alternation(t, loop, skip, false);
    out.add(t.bos_token);
    for (std::size_t i = 0; i < loop.size(); ++i) {
        const ChatMessage& m = loop[i];
        out.add("<start_of_turn>" + (m.role == "assistant" ? std::string("model") : m.role) + "\n" +
                (i == 0 ? prefix : std::string()));
        out.reply(m, trim(m.content));
        out.reply(m, "<end_of_turn>");
        out.add("\n");
    }
    if (gen)
        out.add("<start_of_turn>model\n");
}

// {bos}[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} {eos}{bos}[INST] ...
// with every content trimmed (the system text on its own). The reply's leading space stays with
// it: SentencePiece folds it into the reply's first token.
void render_llama2(const ChatTemplate& t, std::span<const ChatMessage> ms, Out& out) {
    const std::size_t skip = ms[0].role == "system" ? 1 : 0;
    const std::span<const ChatMessage> loop = ms.subspan(skip);
    if (loop.empty())
        fail(t, "no user message");
    check_alternation(t, loop, skip, true);
    for (std::size_t i = 0; i < loop.size(); ++i) {
        const ChatMessage& m = loop[i];
        if (m.role == "assistant") {
            out.reply(m, " " + std::string(trim(m.content)) + " " + t.eos_token);
            continue;
        }
        std::string head = t.bos_token + "[INST] ";
        if (i == 0 && skip == 1)
            head += "<<SYS>>\n" + std::string(trim(ms[0].content)) + "\n<</SYS>>\n\n";
        out.add(head + std::string(trim(m.content)) + " [/INST]");
    }
}

// {system}\n\n### Instruction:\n{user}\n\n### Response:\n{assistant}{eos}\n\n ...
void render_alpaca(const ChatTemplate& t, std::span<const ChatMessage> ms, bool gen, Out& out) {
    std::size_t skip = 0;
    std::string system = t.default_system;
    if (ms[0].role == "system") {
        system = ms[0].content;
        skip = 1;
    }
    out.add(system + "\n\n");
    for (std::size_t i = skip; i < ms.size(); ++i) {
        const ChatMessage& m = ms[i];
        if (m.role != "user" && m.role != "assistant")
            fail(t, "message " + std::to_string(i + 1) + " has role " + m.role +
                        "; expected user or assistant (or system first)");
        if (m.role == "assistant") {
            out.add("### Response:\n");
            out.reply(m, m.content + t.eos_token);
            out.add("\n\n");
        } else {
            out.add("### Instruction:\n" + m.content + "\n\n");
        }
    }
    if (gen)
        out.add("### Response:\n");
}

// The text of a Jinja string literal that follows `<|im_start|>system` + newline in a chatml
// template and runs up to `<|im_end|>`: the hard-coded default system prompt ("" when none).
std::string chatml_default_system(std::string_view tmpl) {
    const std::string_view head = "<|im_start|>system";
    for (std::size_t at = tmpl.find(head); at != std::string_view::npos;
         at = tmpl.find(head, at + 1)) {
        std::size_t i = at + head.size();
        if (tmpl.substr(i, 1) == "\n")
            i += 1;
        else if (tmpl.substr(i, 2) == "\\n")
            i += 2;
        else
            continue;
        std::string text;
        bool literal = true;
        while (i < tmpl.size() && literal && !tmpl.substr(i).starts_with("<|im_end|>")) {
            const char c = tmpl[i++];
            if (c == '\\' && i < tmpl.size()) {
                const char e = tmpl[i++];
                text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
            } else if (c == '\'' || c == '"' || c == '{' || c == '}') {
                literal = false; // the literal ends: the system text comes from the messages
            } else {
                text += c;
            }
        }
        if (literal && i < tmpl.size() && !text.empty())
            return text;
    }
    return {};
}

// apply_chat_template's arguments: enable_thinking only when it is turned off (a template
// that tests `enable_thinking is defined` sees what transformers shows it).
ChatEngineOptions engine_options(const ChatRenderOptions& o) {
    ChatEngineOptions e;
    e.add_generation_prompt = o.add_generation_prompt;
    if (!o.enable_thinking)
        e.kwargs["enable_thinking"] = false;
    return e;
}

[[noreturn]] void unrecognised(const std::string& source, const std::string& what) {
    throw ConfigError(source + ": " + what + "; expected a template slimtune reproduces (" +
                      names_list() + "): pass one with --chat-template");
}

} // namespace

std::vector<std::string> chat_template_names() {
    return {kNames.begin(), kNames.end()};
}

ChatTemplate chat_template_by_name(std::string_view name, const TokenizerConfig& config) {
    if (std::find(kNames.begin(), kNames.end(), name) == kNames.end())
        throw ConfigError("chat template: unknown name " + name_text(name) + "; expected one of " +
                          names_list());
    ChatTemplate t;
    t.name = std::string(name);
    t.bos_token = config.bos_token.value_or("");
    t.eos_token = config.eos_token.value_or("");
    if (name == "alpaca")
        t.default_system = kAlpacaSystem;
    return t;
}

ChatTemplate detect_chat_template(const TokenizerConfig& config, const std::string& source) {
    const std::string& text = config.chat_template;
    if (text.empty())
        unrecognised(source, "the tokenizer config has no chat_template");
    if (contains(text, "<|im_start|>")) {
        ChatTemplate t =
            chat_template_by_name(contains(text, "<think>") ? "qwen3" : "chatml", config);
        if (t.name == "chatml")
            t.default_system = chatml_default_system(text);
        return t;
    }
    if (contains(text, "<|start_header_id|>")) {
        // Llama 3.1 and later put a dated system header ("Cutting Knowledge Date") in every
        // conversation; only the plain Llama-3 template is reproduced.
        if (contains(text, "Cutting Knowledge Date"))
            unrecognised(source, "the chat_template is Llama 3.1's (dated system header)");
        ChatTemplate t = chat_template_by_name("llama3", config);
        t.always_generation_prompt = !contains(text, "add_generation_prompt");
        return t;
    }
    if (contains(text, "<start_of_turn>")) {
        ChatTemplate t = chat_template_by_name("gemma", config);
        t.system_role = !contains(text, "System role not supported");
        return t;
    }
    if (contains(text, "[INST]")) {
        // Mistral's [INST] templates place BOS, spaces and EOS differently from Llama 2's.
        if (!contains(text, "<<SYS>>"))
            unrecognised(source, "the chat_template is an [INST] template without <<SYS>>");
        return chat_template_by_name("llama2", config);
    }
    if (contains(text, "### Instruction"))
        return chat_template_by_name("alpaca", config);
    unrecognised(source, "the chat_template is not recognised");
}

ChatTemplate jinja_chat_template(const TokenizerConfig& config,
                                 const std::string& source,
                                 const std::vector<std::string>& end_markers) {
    if (config.chat_template.empty())
        throw ConfigError(source + ": the tokenizer config has no chat_template");
    ChatTemplate t;
    t.name = kJinjaChatTemplate;
    t.bos_token = config.bos_token.value_or("");
    t.eos_token = config.eos_token.value_or("");
    t.jinja_source = config.chat_template;
    std::vector<std::string> markers = end_markers;
    markers.insert(markers.end(), config.additional_special_tokens.begin(),
                   config.additional_special_tokens.end());
    t.engine = std::make_shared<const ChatEngine>(
        config.chat_template, source + " chat_template", config, std::move(markers));
    return t;
}

ChatTemplate
chat_template_for(std::string_view name, const TokenizerConfig& config, const std::string& source) {
    if (name == kJinjaChatTemplate)
        return jinja_chat_template(config, source, {});
    if (name.empty() || name == kAutoChatTemplate) {
        try {
            return detect_chat_template(config, source);
        } catch (const ConfigError&) {
            if (config.chat_template.empty())
                throw;
        }
        return jinja_chat_template(config, source, {});
    }
    ChatTemplate t = chat_template_by_name(name, config);
    if (!config.chat_template.empty())
        try {
            if (ChatTemplate own = detect_chat_template(config, source); own.name == t.name)
                return own;
        } catch (const ConfigError&) {
            // The config's own template is not one slimtune reproduces: the name stands alone.
        }
    return t;
}

std::vector<std::string> chat_template_markers(const ChatTemplate& t) {
    if (t.name == "chatml" || t.name == "qwen3")
        return {"<|im_start|>", "<|im_end|>"};
    if (t.name == "llama3")
        return {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
    if (t.name == "gemma")
        return {"<start_of_turn>", "<end_of_turn>"};
    return {};
}

std::string unregistered_marker_problem(const ChatTemplate& t, const Tokenizer& tok) {
    for (const std::string& marker : chat_template_markers(t)) {
        const std::vector<std::int32_t> ids = tok.encode(marker, false);
        const bool added =
            ids.size() == 1 && std::any_of(tok.added_tokens().begin(), tok.added_tokens().end(),
                                           [&](const AddedToken& a) { return a.id == ids[0]; });
        if (added)
            continue;
        const std::string encodes =
            ids.size() == 1 ? "it is an ordinary vocabulary token"
                            : "it encodes as " + std::to_string(ids.size()) + " ordinary tokens";
        return "chat template " + t.name + ": marker " + marker +
               " is not a special token of tokenizer " + tok.source() + " (" + encodes + ")";
    }
    return {};
}

ChatTemplateChoice choose_chat_template(std::string_view requested, const Tokenizer& tok) {
    ChatTemplateChoice c;
    c.named = !requested.empty() && requested != kAutoChatTemplate;
    try {
        c.tokenizer_default = detect_chat_template(tok.config(), tok.source()).name;
    } catch (const ConfigError& e) {
        c.no_default_reason = e.what();
    }
    if (c.named || !c.tokenizer_default.empty())
        c.used = chat_template_for(requested, tok.config(), tok.source());
    else if (!tok.config().chat_template.empty()) {
        // None of the named formats: the engine renders the tokenizer's own, if it parses.
        try {
            c.used = jinja_chat_template(tok.config(), tok.source(), chat_end_markers(tok));
            c.tokenizer_default = kJinjaChatTemplate;
        } catch (const ConfigError& e) {
            c.no_default_reason += std::string("; the Jinja engine refuses it: ") + e.what();
        }
    }
    if (c.used)
        c.marker_problem = unregistered_marker_problem(*c.used, tok);
    return c;
}

std::vector<ChatSegment> render_chat_segments(const ChatTemplate& tmpl,
                                              std::span<const ChatMessage> messages,
                                              const ChatRenderOptions& options) {
    if (messages.empty())
        fail(tmpl, "empty conversation; expected at least one message");
    if (tmpl.engine) // roles and content as they are: the template decides what it accepts
        return tmpl.engine->segments(messages_json(messages), engine_options(options));
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        if (!is_chat_role(m.role))
            fail(tmpl, "message " + std::to_string(i + 1) + " has role " + name_text(m.role) +
                           "; expected " + kChatRolesText);
        if (!is_valid_utf8(m.content))
            fail(tmpl, "message " + std::to_string(i + 1) + ": content is not valid UTF-8");
    }
    const bool gen = options.add_generation_prompt || tmpl.always_generation_prompt;
    Out out;
    if (tmpl.name == "chatml")
        render_chatml(tmpl, messages, gen, out);
    else if (tmpl.name == "qwen3")
        render_qwen3(messages, {gen, options.enable_thinking}, out);
    else if (tmpl.name == "llama3")
        render_llama3(tmpl, messages, gen, out);
    else if (tmpl.name == "gemma")
        render_gemma(tmpl, messages, gen, out);
    else if (tmpl.name == "llama2")
        render_llama2(tmpl, messages, out);
    else if (tmpl.name == "alpaca")
        render_alpaca(tmpl, messages, gen, out);
    else
        throw ConfigError("chat template: unknown name " + name_text(tmpl.name) +
                          "; expected one of " + names_list());
    return out.take();
}

std::string render_chat(const ChatTemplate& tmpl,
                        std::span<const ChatMessage> messages,
                        const ChatRenderOptions& options) {
    if (tmpl.engine && !messages.empty())
        return tmpl.engine->render(messages_json(messages), engine_options(options));
    std::string text;
    for (const ChatSegment& s : render_chat_segments(tmpl, messages, options))
        text += s.text;
    return text;
}

} // namespace slimtune::data
