#include "data/ollama_modelfile.h"

#include "common/error.h"

#include <algorithm>

namespace slimtune::data {

namespace {

// A Modelfile string: double-quoted with \ and " escaped, or triple-quoted when multi-line.
std::string quoted(const std::string& s) {
    if (s.find('\n') != std::string::npos && s.find("\"\"\"") == std::string::npos)
        return "\"\"\"" + s + "\"\"\"";
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\')
            out.push_back('\\');
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out.push_back(c);
    }
    return out + "\"";
}

} // namespace

// The BOS token is not in the templates: llama.cpp adds it from tokenizer.ggml.add_bos_token.
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
        return "{{- $system := \"\" }}{{- range .Messages }}"
               "{{- if eq .Role \"system\" }}{{ $system = .Content }}{{ continue }}{{ end }}"
               "<start_of_turn>{{ if eq .Role \"assistant\" }}model{{ else }}{{ .Role }}{{ end }}\n"
               "{{ if $system }}{{ $system }}\n\n{{ $system = \"\" }}{{ end }}"
               "{{ .Content }}<end_of_turn>\n"
               "{{ end }}<start_of_turn>model\n";
    if (t.name == "llama2")
        return "{{- $system := \"\" }}{{- range .Messages }}"
               "{{- if eq .Role \"system\" }}{{ $system = .Content }}"
               "{{- else if eq .Role \"user\" }}[INST] "
               "{{ if $system }}<<SYS>>\n{{ $system }}\n<</SYS>>\n\n{{ $system = \"\" }}{{ end }}"
               "{{ .Content }} [/INST]"
               "{{- else }} {{ .Content }} " +
               t.eos_token + t.bos_token + "{{ end }}{{ end }}";
    if (t.name == "alpaca")
        return "{{- $system := \"\" }}{{- range .Messages }}"
               "{{- if eq .Role \"system\" }}{{ $system = .Content }}{{ end }}{{ end }}"
               "{{ if $system }}{{ $system }}{{ else }}" +
               t.default_system +
               "{{ end }}\n\n"
               "{{- range .Messages }}"
               "{{- if eq .Role \"user\" }}### Instruction:\n{{ .Content }}\n\n"
               "{{- else if eq .Role \"assistant\" }}### Response:\n{{ .Content }}" +
               t.eos_token + "\n\n{{ end }}{{ end }}### Response:\n";
    throw ConfigError("no ollama template for chat format '" + t.name + "'");
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

} // namespace slimtune::data
