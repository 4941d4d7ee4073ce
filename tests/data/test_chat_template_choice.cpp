// Which chat template a run trains with, on the real tokenizers: "auto" is the tokenizer's own;
// a named template whose role/turn markers are not special tokens of the tokenizer is found
// (ChatML's <|im_start|> on a Llama-3 tokenizer is six ordinary tokens: issue 15); the Jinja
// text an export writes for a template that is not the tokenizer's own reads back as the same
// template (its rendering is checked against the renderer by tests/check_chat_jinja.sh).
#include "common/error.h"
#include "common/text.h"
#include "data/chat_template.h"
#include "tests/data/npm_tokenizers.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace slimtune;
using namespace slimtune::data;
using Catch::Matchers::Contains;
using test::npm_config;
using test::npm_tokenizer;

TEST_CASE("chat template markers must be special tokens of the tokenizer", "[chat]") {
    struct Case {
        const char* tokenizer;
        const char* tmpl;
        const char* bad_marker; // "" : every marker is one special token
    };
    const Case cases[] = {
        {"llama3", "llama3", ""},
        {"llama3", "chatml", "<|im_start|>"},
        {"llama3", "qwen3", "<|im_start|>"},
        {"llama3", "gemma", "<start_of_turn>"},
        {"llama3", "llama2", ""}, // [INST] is text by design
        {"llama3", "alpaca", ""},
        {"qwen3", "chatml", ""},
        {"qwen3", "qwen3", ""},
        {"qwen3", "llama3", "<|start_header_id|>"},
        {"gemma3", "gemma", ""},
        {"gemma3", "chatml", "<|im_start|>"},
        {"llama2", "chatml", "<|im_start|>"},
    };
    for (const Case& c : cases) {
        INFO(c.tokenizer << " with " << c.tmpl);
        const Tokenizer& tok = npm_tokenizer(c.tokenizer);
        const std::string problem =
            unregistered_marker_problem(chat_template_by_name(c.tmpl, tok.config()), tok);
        if (*c.bad_marker == '\0')
            CHECK(problem.empty());
        else
            CHECK_THAT(problem, Contains(std::string("marker ") + c.bad_marker + " is not") &&
                                    Contains(tok.source()));
    }
    // The issue's case, in full: six ordinary tokens.
    const Tokenizer& llama3 = npm_tokenizer("llama3");
    CHECK(unregistered_marker_problem(chat_template_by_name("chatml", llama3.config()), llama3) ==
          "chat template chatml: marker <|im_start|> is not a special token of tokenizer " +
              llama3.source() + " (it encodes as 6 ordinary tokens)");
    CHECK(chat_template_markers(chat_template_by_name("llama3", llama3.config())) ==
          std::vector<std::string>{"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"});
}

TEST_CASE("choose_chat_template: auto is the tokenizer's own, a name overrides it", "[chat]") {
    const Tokenizer& llama3 = npm_tokenizer("llama3");
    for (const char* automatic : {"auto", ""}) {
        const ChatTemplateChoice c = choose_chat_template(automatic, llama3);
        REQUIRE(c.used);
        CHECK(c.used->name == "llama3");
        CHECK(c.used->always_generation_prompt); // the detected template's own option
        CHECK_FALSE(c.named);
        CHECK(c.tokenizer_default == "llama3");
        CHECK(c.marker_problem.empty());
    }
    const ChatTemplateChoice chatml = choose_chat_template("chatml", llama3);
    REQUIRE(chatml.used);
    CHECK(chatml.used->name == "chatml");
    CHECK(chatml.named);
    CHECK(chatml.tokenizer_default == "llama3");
    CHECK_THAT(chatml.marker_problem, Contains("<|im_start|>"));

    // Llama 2's config has no template: auto has none, and says why.
    const ChatTemplateChoice none = choose_chat_template("auto", npm_tokenizer("llama2"));
    CHECK_FALSE(none.used);
    CHECK(none.tokenizer_default.empty());
    CHECK_THAT(none.no_default_reason, Contains("no chat_template"));
    CHECK_THROWS_WITH(choose_chat_template("vicuna", llama3), Contains("unknown name 'vicuna'"));
}

TEST_CASE("chat_template_for keeps the tokenizer's options for its own format", "[chat]") {
    TokenizerConfig smollm2 = npm_config("qwen3"); // Qwen's tokens, SmolLM2's ChatML template
    smollm2.chat_template = test::reference_template("chatml.jinja");
    const std::string smol_system =
        "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
    CHECK(chat_template_for("chatml", smollm2, "smollm2").default_system == smol_system);
    CHECK(chat_template_for("auto", smollm2, "smollm2").default_system == smol_system);
    CHECK(chat_template_for("chatml", npm_config("qwen3"), "qwen3").default_system.empty());
    CHECK(chat_template_for("alpaca", smollm2, "smollm2").name == "alpaca");
    CHECK_THROWS_AS(chat_template_for("auto", npm_config("llama2"), "llama2"), ConfigError);
}

TEST_CASE("chat_template_jinja reads back as the template it was written for", "[chat]") {
    TokenizerConfig config = npm_config("llama2");
    std::vector<ChatTemplate> templates;
    for (const std::string& name : chat_template_names())
        templates.push_back(chat_template_by_name(name, config));
    ChatTemplate always = chat_template_by_name("llama3", config);
    always.always_generation_prompt = true;
    ChatTemplate no_system = chat_template_by_name("gemma", config);
    no_system.system_role = false;
    ChatTemplate smol = chat_template_by_name("chatml", config);
    smol.default_system = "You're \"Smol\";\na\\b\ttab";
    templates.insert(templates.end(), {always, no_system, smol});
    for (const ChatTemplate& t : templates) {
        INFO(t.name << " always " << t.always_generation_prompt << " system " << t.system_role
                    << " default system " << t.default_system);
        config.chat_template = chat_template_jinja(t);
        const ChatTemplate back = detect_chat_template(config, "exported");
        CHECK(back.name == t.name);
        CHECK(back.default_system == t.default_system);
        CHECK(back.always_generation_prompt == t.always_generation_prompt);
        CHECK(back.system_role == t.system_role);
    }

    // An export keeps the tokenizer's own text for its own format, and writes ours otherwise.
    const Tokenizer& qwen3 = npm_tokenizer("qwen3");
    const auto exported = [&](const char* name) {
        return exported_chat_template_jinja(chat_template_for(name, qwen3.config(), "q"),
                                            qwen3.config(), qwen3.source());
    };
    CHECK(exported("qwen3").empty());
    CHECK(exported("auto").empty());
    const std::string chatml = exported("chatml");
    CHECK(chatml == chat_template_jinja(chat_template_by_name("chatml", qwen3.config())));
    CHECK_THAT(chatml, Contains("<|im_start|>") && !Contains("<think>"));
}

TEST_CASE("write_tokenizer_chat_template rewrites the template where a directory has one",
          "[chat]") {
    test::TempDir dir("tokenizer_chat_template");
    std::ofstream(dir.path / "tokenizer_config.json")
        << R"({"z_first": 1, "chat_template": [{"name": "default", "template": "old"}], "a": 2})";
    std::ofstream(dir.path / "chat_template.jinja") << "old";
    write_tokenizer_chat_template(dir.str(), "new {{ x }}");
    const nlohmann::ordered_json cfg =
        nlohmann::ordered_json::parse(read_file(dir.path / "tokenizer_config.json"));
    CHECK(cfg["chat_template"] == "new {{ x }}");
    CHECK(cfg.begin().key() == "z_first"); // the other keys keep their order
    CHECK(cfg["a"] == 2);
    CHECK(read_file(dir.path / "chat_template.jinja") == "new {{ x }}");

    test::TempDir empty("tokenizer_chat_template_none");
    write_tokenizer_chat_template(empty.str(), "x"); // no tokenizer files: nothing written
    CHECK(std::filesystem::is_empty(empty.path));
    std::ofstream(empty.path / "tokenizer_config.json") << "[1]";
    CHECK_THROWS_WITH(write_tokenizer_chat_template(empty.str(), "x"),
                      Contains("tokenizer_config.json: not a JSON object"));
}
