#include "train/export/ollama_modelfile.h"

#include "common/error.h"
#include "common/text.h"

#include <algorithm>
#include <string_view>

namespace slimtune::train {

using data::ChatTemplate;

namespace {

// A Modelfile string as ollama's parser reads it (parser/parser.go: ParseFile, unquote): a
// value runs to the first line end at which the text read so far, trimmed of white space, is
// complete ("..." or """...""" closed), and only the outer quotes are cut off: nothing inside
// is unescaped, a backslash is a backslash. So one line goes in "..." (unless it starts with a
// quote: "" would open """), several in """...""", which fails only if a line ends in """.
// The parser also drops the runes Go's strconv.IsPrint rejects, except tabs and line ends:
// ASCII control characters are refused here; others (a no-break space, a zero-width space)
// are not detected.
std::string quoted(const std::string& s) {
    for (const char c : s)
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
            c == 0x7f)
            throw ConfigError("ollama Modelfile: a control character in " + name_text(s) +
                              " would be dropped by ollama's parser");
    if (s.find_first_of("\r\n") == std::string::npos && !s.starts_with('"'))
        return "\"" + s + "\"";
    const std::string q = "\"\"\"" + s + "\"\"\"";
    for (std::size_t i = 3; i < q.size(); ++i) {
        if (q[i] != '\n' && q[i] != '\r')
            continue;
        std::string_view read(q.data(), i);
        while (!read.empty() &&
               std::string_view(" \t\r\n").find(read.back()) != std::string_view::npos)
            read.remove_suffix(1);
        if (read.size() >= 6 && read.ends_with("\"\"\""))
            throw ConfigError("ollama Modelfile: " + name_text(s) +
                              " cannot be quoted so that ollama reads it back (a line of it ends "
                              "in \"\"\")");
    }
    return q;
}

} // namespace

// The BOS token is not in the templates: llama.cpp adds it from tokenizer.ggml.add_bos_token.
// Go's text/template notes: `{{-` trims the white space before it, newlines included, so a
// newline the format needs is never followed by `{{-`; a system message is tracked by a flag,
// not by its text, because an empty system message still renders (gemma's "\n\n", llama2's
// <<SYS>> block, alpaca's blank system line), as the Jinja templates do.
std::string ollama_template(const ChatTemplate& t) {
    if (t.name == "chatml" || t.name == "qwen3")
        return "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
               "{{ .Content }}<|im_end|>\n"
               "{{ end }}<|im_start|>assistant\n";
    if (t.name == "llama3")
        return "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
               "{{ .Content }}<|eot_id|>"
               "{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n";
    if (t.name == "gemma")
        // Gemma has no system turn: the system text opens the first user turn.
        return "{{- $system := \"\" }}{{- $has_system := false }}{{- range .Messages }}"
               "{{- if eq .Role \"system\" }}{{ $system = .Content }}{{ $has_system = true }}"
               "{{ continue }}{{ end }}"
               "<start_of_turn>{{ if eq .Role \"assistant\" }}model{{ else }}{{ .Role }}{{ end }}\n"
               "{{ if $has_system }}{{ $system }}\n\n{{ $has_system = false }}{{ end }}"
               "{{ .Content }}<end_of_turn>\n"
               "{{ end }}<start_of_turn>model\n";
    if (t.name == "llama2")
        // BOS opens every user turn but the first (llama.cpp adds that one), as in the Jinja.
        return "{{- $system := \"\" }}{{- $has_system := false }}{{- $first := true }}"
               "{{- range .Messages }}"
               "{{- if eq .Role \"system\" }}{{ $system = .Content }}{{ $has_system = true }}"
               "{{- else if eq .Role \"user\" }}{{ if not $first }}" +
               t.bos_token +
               "{{ end }}{{ $first = false }}[INST] "
               "{{ if $has_system }}<<SYS>>\n{{ $system }}\n<</SYS>>\n\n"
               "{{ $has_system = false }}{{ end }}"
               "{{ .Content }} [/INST]"
               "{{- else }} {{ .Content }} " +
               t.eos_token + "{{ end }}{{ end }}";
    if (t.name == "alpaca")
        // The system message heads the prompt: ollama passes the Modelfile's SYSTEM (the
        // default text) as one when the conversation has none.
        return "{{- $system := \"\" }}{{- $has_system := false }}{{- range .Messages }}"
               "{{- if eq .Role \"system\" }}{{ $system = .Content }}{{ $has_system = true }}"
               "{{ end }}{{ end }}"
               "{{ if $has_system }}{{ $system }}{{ else }}" +
               t.default_system +
               "{{ end }}\n\n"
               "{{ range .Messages }}"
               "{{ if eq .Role \"user\" }}### Instruction:\n{{ .Content }}\n\n"
               "{{ else if eq .Role \"assistant\" }}### Response:\n{{ .Content }}" +
               t.eos_token + "\n\n{{ end }}{{ end }}### Response:\n";
    throw ConfigError("ollama Modelfile: no Go TEMPLATE for chat template '" + t.name +
                      "' (" + (t.engine ? "the tokenizer's own Jinja template, which is none of " : "not one of ") +
                      "the families slimtune derives one for: chatml, qwen3, llama3, gemma, llama2, alpaca); "
                      "export with --chat-template NAME, or as gguf and write the TEMPLATE by hand");
}

std::vector<std::string> ollama_stops(const ChatTemplate& t) {
    std::vector<std::string> stops;
    if (t.name == "chatml" || t.name == "qwen3")
        stops = {"<|im_end|>", "<|im_start|>"};
    else if (t.name == "llama3")
        stops = {"<|eot_id|>", "<|start_header_id|>"};
    else if (t.name == "gemma")
        stops = {"<end_of_turn>", "<start_of_turn>"};
    else if (t.name == "llama2")
        stops = {"[INST]", "[/INST]"};
    else if (t.name == "alpaca")
        stops = {"### Instruction:"};
    if (!t.eos_token.empty() && std::find(stops.begin(), stops.end(), t.eos_token) == stops.end())
        stops.push_back(t.eos_token);
    return stops;
}

std::string ollama_modelfile(const std::string& gguf_file, const ChatTemplate& t) {
    std::string m = "# Written by slimtune: ollama create NAME -f Modelfile\n";
    m += "FROM " + gguf_file + "\n";
    m += "TEMPLATE " + quoted(ollama_template(t)) + "\n";
    if (!t.default_system.empty())
        m += "SYSTEM " + quoted(t.default_system) + "\n";
    for (const std::string& s : ollama_stops(t))
        m += "PARAMETER stop " + quoted(s) + "\n";
    return m;
}

} // namespace slimtune::train
