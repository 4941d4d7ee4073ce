// ollama Modelfiles: the Go template of each chat format carries the format's markers and no
// BOS (llama.cpp adds it), stops sit at end-of-turn markers and EOS, strings are quoted as the
// Modelfile parser reads them.
#include "common/error.h"
#include "data/ollama_modelfile.h"

#include <catch2/catch.hpp>

using namespace slimtune;
using namespace slimtune::data;
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
                                            Contains(" [/INST]") && Contains("</s><s>"));
    const ChatTemplate alpaca = chat_template_by_name("alpaca", config("", "</s>"));
    CHECK_THAT(ollama_template(alpaca),
               Contains("### Instruction:\n{{ .Content }}") && Contains(alpaca.default_system));
    for (const std::string& name : chat_template_names())
        CHECK_NOTHROW(ollama_template(chat_template_by_name(name, config("<s>", "</s>"))));
    ChatTemplate bogus = chatml;
    bogus.name = "vicuna";
    CHECK_THROWS_AS(ollama_template(bogus), ConfigError);
}

TEST_CASE("ollama: the Modelfile", "[ollama]") {
    ChatTemplate t = chat_template_by_name("chatml", config("", "<|endoftext|>"));
    t.default_system = "You are \"careful\".";
    const std::string m = ollama_modelfile("model-Q4_K_M.gguf", t);
    CHECK_THAT(m, Contains("FROM model-Q4_K_M.gguf\n") &&
                      Contains("TEMPLATE \"\"\"{{- range .Messages }}") &&
                      Contains("SYSTEM \"You are \\\"careful\\\".\"\n") &&
                      Contains("PARAMETER stop \"<|im_end|>\"\n") &&
                      Contains("PARAMETER stop \"<|endoftext|>\"\n"));
}
