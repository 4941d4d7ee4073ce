// ollama Modelfiles: the Go template of each chat format carries the format's markers and no
// BOS (llama.cpp adds it), stops sit at end-of-turn markers and EOS, strings are quoted as the
// Modelfile parser reads them. tests/check_ollama_modelfile.sh renders the templates with Go's
// text/template and compares them with the chat renderer byte for byte.
#include "common/error.h"
#include "train/export/ollama_modelfile.h"

#include <catch2/catch.hpp>

using namespace slimtune;
using namespace slimtune::data;
using namespace slimtune::train;
using Catch::Matchers::Contains;

namespace {

TokenizerConfig config(const std::string& bos, const std::string& eos) {
    TokenizerConfig c;
    c.bos_token = bos;
    c.eos_token = eos;
    return c;
}

} // namespace

TEST_CASE("ollama: templates and stops per chat format", "[ollama]") {
    const ChatTemplate chatml = chat_template_by_name("chatml", config("", "<|im_end|>"));
    CHECK(ollama_template(chatml) == "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
                                     "{{ .Content }}<|im_end|>\n"
                                     "{{ end }}<|im_start|>assistant\n");
    CHECK(ollama_stops(chatml) == std::vector<std::string>{"<|im_end|>", "<|im_start|>"});

    const ChatTemplate l3 =
        chat_template_by_name("llama3", config("<|begin_of_text|>", "<|end_of_text|>"));
    CHECK_THAT(ollama_template(l3),
               Contains("<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n") &&
                   !Contains("<|begin_of_text|>"));
    CHECK(ollama_stops(l3) ==
          std::vector<std::string>{"<|eot_id|>", "<|start_header_id|>", "<|end_of_text|>"});

    const ChatTemplate gemma = chat_template_by_name("gemma", config("<bos>", "<eos>"));
    CHECK_THAT(ollama_template(gemma), Contains("model") && Contains("<end_of_turn>"));
    const ChatTemplate llama2 = chat_template_by_name("llama2", config("<s>", "</s>"));
    CHECK_THAT(ollama_template(llama2), Contains("[INST] ") && Contains("<<SYS>>") &&
                                            Contains(" [/INST]") && Contains(" </s>") &&
                                            Contains("{{ if not $first }}<s>{{ end }}"));
    const ChatTemplate alpaca = chat_template_by_name("alpaca", config("", "</s>"));
    CHECK_THAT(ollama_template(alpaca),
               Contains("### Instruction:\n{{ .Content }}") && Contains(alpaca.default_system));
    for (const std::string& name : chat_template_names()) {
        std::string text;
        CHECK_NOTHROW(text = ollama_template(chat_template_by_name(name, config("<s>", "</s>"))));
        // `{{-` trims the white space before it: a newline the format needs would vanish.
        CHECK_THAT(text, !Contains("\n{{-") && !Contains(" {{-"));
    }
    ChatTemplate bogus = chatml;
    bogus.name = "vicuna";
    CHECK_THROWS_AS(ollama_template(bogus), ConfigError);
}

TEST_CASE("ollama: the Modelfile", "[ollama]") {
    ChatTemplate t = chat_template_by_name("chatml", config("", "<|endoftext|>"));
    t.default_system = "You are \"careful\".";
    const std::string m = ollama_modelfile("model-Q4_K_M.gguf", t);
    // ollama's parser cuts the outer quotes off and unescapes nothing.
    CHECK_THAT(m, Contains("FROM model-Q4_K_M.gguf\n") &&
                      Contains("TEMPLATE \"\"\"{{- range .Messages }}") &&
                      Contains("SYSTEM \"You are \"careful\".\"\n") &&
                      Contains("PARAMETER stop \"<|im_end|>\"\n") &&
                      Contains("PARAMETER stop \"<|endoftext|>\"\n"));
}

TEST_CASE("ollama: Modelfile strings are quoted as ollama's parser reads them", "[ollama]") {
    ChatTemplate t = chat_template_by_name("chatml", config("", "<|im_end|>"));
    const auto system_line = [&](const std::string& system) {
        t.default_system = system;
        const std::string m = ollama_modelfile("m.gguf", t);
        const std::size_t at = m.find("SYSTEM ");
        REQUIRE(at != std::string::npos);
        return m.substr(at, m.find("\nPARAMETER", at) - at);
    };
    // One line: "...", backslashes and inner quotes as they are.
    CHECK(system_line(R"(Paths like C:\tmp\ and "quotes" stay.)") ==
          R"(SYSTEM "Paths like C:\tmp\ and "quotes" stay.")");
    // A line that starts with a quote: "" would open a """ value.
    CHECK(system_line(R"("Quill" is careful.)") == R"(SYSTEM """"Quill" is careful.""")");
    CHECK(system_line("\"") == R"(SYSTEM """"""")");
    // Several lines: """...""", even with quotes at a line's end.
    CHECK(system_line("Be \"plain\"\n\tand brief.\n") ==
          "SYSTEM \"\"\"Be \"plain\"\n\tand brief.\n\"\"\"");
    // A line ending in """ would close the value early; a control character would be dropped.
    t.default_system = "say \"\"\"  \nthen";
    CHECK_THROWS_AS(ollama_modelfile("m.gguf", t), ConfigError);
    t.default_system = "bell \a";
    CHECK_THROWS_AS(ollama_modelfile("m.gguf", t), ConfigError);
}

TEST_CASE("ollama Modelfile: a template of no known family is refused, not guessed", "[ollama]") {
    TokenizerConfig config;
    config.eos_token = "</s>";
    config.chat_template = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}</s>\n"
                           "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}";
    const ChatTemplate t = chat_template_for("auto", config, "zephyr-like");
    REQUIRE(t.name == "jinja");
    CHECK_THROWS_WITH(ollama_modelfile("./m.gguf", t),
                      Contains("no Go TEMPLATE") && Contains("the tokenizer's own Jinja template") &&
                          Contains("chatml, qwen3, llama3, gemma, llama2, alpaca") &&
                          Contains("--chat-template"));
}
