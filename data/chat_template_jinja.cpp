// The Jinja text of each renderer (chat_template_jinja): slimtune's own templates, written to
// render exactly what render_chat renders. Every tag trims the white space around it ({%- -%},
// {{- -}}), so the line breaks and indentation below are not output; text comes only from
// string literals. Only constructs that Jinja2, minja and @huggingface/jinja share are used
// (namespace, slices, split/strip methods, the `in` test, raise_exception).
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/chat_template.h"

#include <filesystem>
#include <nlohmann/json.hpp>

namespace slimtune::data {

namespace fs = std::filesystem;

namespace {

// `s` as a single-quoted Jinja string literal (both quotes escaped: detect_chat_template ends
// a literal at either).
std::string literal(std::string_view s) {
    std::string out = "'";
    for (const char c : s) {
        const char* escaped = c == '\\'   ? "\\\\"
                              : c == '\'' ? "\\'"
                              : c == '"'  ? "\\\""
                              : c == '\n' ? "\\n"
                              : c == '\r' ? "\\r"
                              : c == '\t' ? "\\t"
                                          : nullptr;
        if (escaped)
            out += escaped;
        else
            out += c;
    }
    return out + "'";
}

// The test in front of the generation prompt: always true for a template that renders it
// unconditionally (detect_chat_template reads that back from the missing variable name).
std::string generation_test(const ChatTemplate& t) {
    return t.always_generation_prompt ? "true" : "add_generation_prompt";
}

std::string chatml(const ChatTemplate& t) {
    std::string j;
    if (!t.default_system.empty()) // one literal, as detect_chat_template reads it back
        j += "{%- if messages[0]['role'] != 'system' -%}\n"
             "    {{- " +
             literal("<|im_start|>system\n" + t.default_system + "<|im_end|>\n") +
             " -}}\n"
             "{%- endif -%}\n";
    return j +
           "{%- for message in messages -%}\n"
           "    {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
           "'<|im_end|>\\n' -}}\n"
           "{%- endfor -%}\n"
           "{%- if " +
           generation_test(t) +
           " -%}\n"
           "    {{- '<|im_start|>assistant\\n' -}}\n"
           "{%- endif -%}\n";
}

// Reasoning (<think>...</think>) is kept only in the assistant turns after the last user query
// that are the last message or have some; tool results share one user turn.
std::string qwen3(const ChatTemplate& t) {
    return "{%- set ns = namespace(last_query=messages|length - 1, found=false) -%}\n"
           "{%- for message in messages[::-1] -%}\n"
           "    {%- if not ns.found and message['role'] == 'user' and not "
           "(message['content'].startswith('<tool_response>') and "
           "message['content'].endswith('</tool_response>')) -%}\n"
           "        {%- set ns.found = true -%}\n"
           "        {%- set ns.last_query = messages|length - 1 - loop.index0 -%}\n"
           "    {%- endif -%}\n"
           "{%- endfor -%}\n"
           "{%- for message in messages -%}\n"
           "    {%- if message['role'] == 'tool' -%}\n"
           "        {%- if loop.first or messages[loop.index0 - 1]['role'] != 'tool' -%}\n"
           "            {{- '<|im_start|>user' -}}\n"
           "        {%- endif -%}\n"
           "        {{- '\\n<tool_response>\\n' + message['content'] + '\\n</tool_response>' "
           "-}}\n"
           "        {%- if loop.last or messages[loop.index0 + 1]['role'] != 'tool' -%}\n"
           "            {{- '<|im_end|>\\n' -}}\n"
           "        {%- endif -%}\n"
           "    {%- elif message['role'] != 'assistant' -%}\n"
           "        {{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
           "'<|im_end|>\\n' -}}\n"
           "    {%- else -%}\n"
           "        {%- set content = message['content'] -%}\n"
           "        {%- set reasoning = '' -%}\n"
           "        {%- if '</think>' in content -%}\n"
           "            {%- set reasoning = "
           "content.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') -%}\n"
           "            {%- set content = content.split('</think>')[-1].lstrip('\\n') -%}\n"
           "        {%- endif -%}\n"
           "        {%- if loop.index0 > ns.last_query and (loop.last or reasoning) -%}\n"
           "            {{- '<|im_start|>assistant\\n<think>\\n' + reasoning.strip('\\n') + "
           "'\\n</think>\\n\\n' + content.lstrip('\\n') + '<|im_end|>\\n' -}}\n"
           "        {%- else -%}\n"
           "            {{- '<|im_start|>assistant\\n' + content + '<|im_end|>\\n' -}}\n"
           "        {%- endif -%}\n"
           "    {%- endif -%}\n"
           "{%- endfor -%}\n"
           "{%- if " +
           generation_test(t) +
           " -%}\n"
           "    {{- '<|im_start|>assistant\\n' -}}\n"
           "    {%- if enable_thinking is defined and enable_thinking is false -%}\n"
           "        {{- '<think>\\n\\n</think>\\n\\n' -}}\n"
           "    {%- endif -%}\n"
           "{%- endif -%}\n";
}

std::string llama3(const ChatTemplate& t) {
    return "{{- bos_token -}}\n"
           "{%- for message in messages -%}\n"
           "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
           "(message['content'] | trim) + '<|eot_id|>' -}}\n"
           "{%- endfor -%}\n"
           "{%- if " +
           generation_test(t) +
           " -%}\n"
           "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}\n"
           "{%- endif -%}\n";
}

// The system text opens the first user turn; after it, user turns at even positions only.
std::string gemma(const ChatTemplate& t) {
    const std::string system =
        t.system_role ? "    {%- set system_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
                      : "    {{- raise_exception('System role not supported') -}}\n";
    return "{%- if messages[0]['role'] == 'system' -%}\n" + system +
           "    {%- set turns = messages[1:] -%}\n"
           "{%- else -%}\n"
           "    {%- set system_prefix = '' -%}\n"
           "    {%- set turns = messages -%}\n"
           "{%- endif -%}\n"
           "{%- for message in turns -%}\n"
           "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
           "        {{- raise_exception('Conversation roles must alternate "
           "user/assistant/user/assistant/...') -}}\n"
           "    {%- endif -%}\n"
           "{%- endfor -%}\n"
           "{{- bos_token -}}\n"
           "{%- for message in turns -%}\n"
           "    {{- '<start_of_turn>' + ('model' if message['role'] == 'assistant' else "
           "message['role']) + '\\n' + (system_prefix if loop.first else '') + "
           "(message['content'] | trim) + '<end_of_turn>\\n' -}}\n"
           "{%- endfor -%}\n"
           "{%- if " +
           generation_test(t) +
           " -%}\n"
           "    {{- '<start_of_turn>model\\n' -}}\n"
           "{%- endif -%}\n";
}

// The prompt already ends in [/INST] when a reply is due: no generation prompt.
std::string llama2() {
    return "{%- if messages[0]['role'] == 'system' -%}\n"
           "    {%- set system_text = messages[0]['content'] | trim -%}\n"
           "    {%- set turns = messages[1:] -%}\n"
           "{%- else -%}\n"
           "    {%- set system_text = none -%}\n"
           "    {%- set turns = messages -%}\n"
           "{%- endif -%}\n"
           "{%- if turns | length == 0 -%}\n"
           "    {{- raise_exception('no user message') -}}\n"
           "{%- endif -%}\n"
           "{%- for message in turns -%}\n"
           "    {%- if message['role'] != ('user' if loop.index0 % 2 == 0 else 'assistant') -%}\n"
           "        {{- raise_exception('Conversation roles must alternate "
           "user/assistant/user/assistant/...') -}}\n"
           "    {%- endif -%}\n"
           "    {%- if message['role'] == 'user' and loop.first and system_text is not none -%}\n"
           "        {{- bos_token + '[INST] <<SYS>>\\n' + system_text + '\\n<</SYS>>\\n\\n' + "
           "(message['content'] | trim) + ' [/INST]' -}}\n"
           "    {%- elif message['role'] == 'user' -%}\n"
           "        {{- bos_token + '[INST] ' + (message['content'] | trim) + ' [/INST]' -}}\n"
           "    {%- else -%}\n"
           "        {{- ' ' + (message['content'] | trim) + ' ' + eos_token -}}\n"
           "    {%- endif -%}\n"
           "{%- endfor -%}\n";
}

std::string alpaca(const ChatTemplate& t) {
    return "{%- if messages[0]['role'] == 'system' -%}\n"
           "    {%- set system_text = messages[0]['content'] -%}\n"
           "    {%- set turns = messages[1:] -%}\n"
           "{%- else -%}\n"
           "    {%- set system_text = " +
           literal(t.default_system) +
           " -%}\n"
           "    {%- set turns = messages -%}\n"
           "{%- endif -%}\n"
           "{{- system_text + '\\n\\n' -}}\n"
           "{%- for message in turns -%}\n"
           "    {%- if message['role'] == 'user' -%}\n"
           "        {{- '### Instruction:\\n' + message['content'] + '\\n\\n' -}}\n"
           "    {%- elif message['role'] == 'assistant' -%}\n"
           "        {{- '### Response:\\n' + message['content'] + eos_token + '\\n\\n' -}}\n"
           "    {%- else -%}\n"
           "        {{- raise_exception('unsupported role ' + message['role']) -}}\n"
           "    {%- endif -%}\n"
           "{%- endfor -%}\n"
           "{%- if " +
           generation_test(t) +
           " -%}\n"
           "    {{- '### Response:\\n' -}}\n"
           "{%- endif -%}\n";
}

} // namespace

std::string chat_template_jinja(const ChatTemplate& t) {
    if (t.engine)
        return t.jinja_source;
    if (t.name == "chatml")
        return chatml(t);
    if (t.name == "qwen3")
        return qwen3(t);
    if (t.name == "llama3")
        return llama3(t);
    if (t.name == "gemma")
        return gemma(t);
    if (t.name == "llama2")
        return llama2();
    if (t.name == "alpaca")
        return alpaca(t);
    throw ConfigError("chat template: no Jinja text for '" + t.name + "'");
}

std::string exported_chat_template_jinja(const ChatTemplate& used,
                                         const TokenizerConfig& config,
                                         const std::string& source) {
    if (used.engine)
        return used.jinja_source == config.chat_template ? std::string() : used.jinja_source;
    if (!config.chat_template.empty())
        try {
            if (detect_chat_template(config, source).name == used.name)
                return {};
        } catch (const ConfigError&) {
            // Not a template slimtune reproduces: it cannot be the one that was used.
        }
    return chat_template_jinja(used);
}

void write_tokenizer_chat_template(const std::string& dir, const std::string& jinja) {
    std::error_code ec;
    const fs::path config = fs::path(dir) / "tokenizer_config.json";
    if (fs::exists(config, ec)) {
        // ordered_json: the other keys keep their order.
        const std::string text = read_file(config, "tokenizer config", kMaxSettingsFileBytes);
        check_json_depth(text, config.string());
        nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            throw FormatError(config.string() + ": not a JSON object");
        j["chat_template"] = jinja;
        write_file_atomic(config.string(), [&](std::ostream& os) { os << j.dump(2) << "\n"; });
    }
    const fs::path file = fs::path(dir) / "chat_template.jinja";
    if (fs::exists(file, ec))
        write_file_atomic(file.string(), [&](std::ostream& os) { os << jinja; });
}

} // namespace slimtune::data
