// Chat templates: the hand-written renderers against goldens that @huggingface/jinja rendered
// from each model's own chat_template (tests/reference/chat.mjs: text and token ids), template
// detection on the reference tokenizer configs, and the trainable segments used for loss masks.
#include "common/error.h"
#include "common/text.h"
#include "data/chat_template.h"
#include "data/tokenizer/tokenizer.h"
#include "tests/data/npm_tokenizers.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

using namespace slimtune;
using namespace slimtune::data;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using test::npm_config;
using test::npm_tokenizer;

json read_json(const fs::path& path) {
    return json::parse(slimtune::read_file(path));
}

// A golden file and where chat.mjs took its template and tokenizer from: the tokenizer's own
// chat_template, or a file of tests/reference/templates/ with that tokenizer's special tokens.
struct Golden {
    const char* name;
    const char* tokenizer;
    const char* template_file; // "" for the tokenizer's own template
    const char* end_of_turn;   // what every trainable segment ends with
};
constexpr Golden kGoldens[] = {
    {"qwen3", "qwen3", "", "<|im_end|>"},
    {"llama3", "llama3", "", "<|eot_id|>"},
    {"gemma3", "gemma3", "", "<end_of_turn>"},
    {"llama2", "llama2", "llama2.jinja", " </s>"},
    {"chatml", "qwen3", "chatml.jinja", "<|im_end|>"},
    {"alpaca", "llama2", "alpaca.jinja", "</s>"},
};

TokenizerConfig with_template(const std::string& tokenizer, const std::string& template_file) {
    TokenizerConfig config = npm_config(tokenizer);
    config.chat_template = test::reference_template(template_file);
    return config;
}

ChatTemplate golden_template(const Golden& g) {
    if (*g.template_file == '\0')
        return detect_chat_template(npm_config(g.tokenizer), g.tokenizer);
    return detect_chat_template(with_template(g.tokenizer, g.template_file), g.template_file);
}

std::map<std::string, std::vector<ChatMessage>> fixture_conversations() {
    std::map<std::string, std::vector<ChatMessage>> out;
    const json all = read_json(fs::path(SLIMTUNE_SOURCE_DIR) / "tests" / "fixtures" / "chat" /
                               "conversations.json");
    for (const json& c : all) {
        std::vector<ChatMessage>& messages = out[c.at("name").get<std::string>()];
        for (const json& m : c.at("messages"))
            messages.push_back(
                {m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    }
    return out;
}

std::string concat(const std::vector<ChatSegment>& segments) {
    std::string text;
    for (const ChatSegment& s : segments)
        text += s.text;
    return text;
}

std::vector<std::string> trainable_texts(const std::vector<ChatSegment>& segments) {
    std::vector<std::string> out;
    for (const ChatSegment& s : segments)
        if (s.trainable)
            out.push_back(s.text);
    return out;
}

} // namespace

TEST_CASE("chat templates render the goldens of @huggingface/jinja, text and ids", "[chat]") {
    const auto conversations = fixture_conversations();
    REQUIRE(conversations.size() >= 10);
    for (const Golden& g : kGoldens) {
        const ChatTemplate tmpl = golden_template(g);
        const Tokenizer& tok = npm_tokenizer(g.tokenizer);
        const std::string lines =
            slimtune::read_file(fs::path(SLIMTUNE_SOURCE_DIR) / "tests" / "golden" / "chat" /
                                (std::string(g.name) + ".jsonl"));
        std::size_t records = 0, pos = 0;
        while (pos < lines.size()) {
            std::size_t end = lines.find('\n', pos);
            if (end == std::string::npos)
                end = lines.size();
            const json record = json::parse(lines.substr(pos, end - pos));
            pos = end + 1;
            ++records;
            const std::string name = record.at("conversation").get<std::string>();
            const bool gen = record.at("add_generation_prompt").get<bool>();
            INFO(g.name << " (" << tmpl.name << "), conversation " << name
                        << ", add_generation_prompt " << gen);
            REQUIRE(conversations.count(name) == 1);
            const std::vector<ChatMessage>& messages = conversations.at(name);
            if (record.contains("error")) {
                INFO("the template raises: " << record["error"].get<std::string>());
                REQUIRE_THROWS_AS(render_chat(tmpl, messages, {gen}), ConfigError);
                continue;
            }
            const std::vector<ChatSegment> segments = render_chat_segments(tmpl, messages, {gen});
            const std::string text = concat(segments);
            REQUIRE(text == record.at("text").get<std::string>());
            REQUIRE(render_chat(tmpl, messages, {gen}) == text);
            REQUIRE(tok.encode(text, false) == record.at("ids").get<std::vector<std::int32_t>>());

            // One trainable segment per assistant reply, each closed by the end-of-turn marker.
            const std::vector<std::string> trainable = trainable_texts(segments);
            const auto replies =
                std::count_if(messages.begin(), messages.end(),
                              [](const ChatMessage& m) { return m.role == "assistant"; });
            REQUIRE(trainable.size() == static_cast<std::size_t>(replies));
            for (const std::string& t : trainable)
                CHECK(t.ends_with(g.end_of_turn));
        }
        CHECK(records == 2 * conversations.size());
    }
}

TEST_CASE("chat template detection from the reference tokenizer configs", "[chat]") {
    const ChatTemplate qwen3 = detect_chat_template(npm_config("qwen3"), "qwen3");
    CHECK(qwen3.name == "qwen3");
    CHECK(qwen3.bos_token.empty());
    CHECK(qwen3.eos_token == "<|im_end|>");
    CHECK(qwen3.default_system.empty());
    CHECK_FALSE(qwen3.always_generation_prompt);

    // This Llama-3 template has no add_generation_prompt test: the prompt is always rendered.
    const ChatTemplate llama3 = detect_chat_template(npm_config("llama3"), "llama3");
    CHECK(llama3.name == "llama3");
    CHECK(llama3.bos_token == "<|begin_of_text|>");
    CHECK(llama3.always_generation_prompt);
    const std::vector<ChatMessage> hi = {{"user", "Hi"}};
    CHECK(render_chat(llama3, hi).ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"));

    const ChatTemplate gemma = detect_chat_template(npm_config("gemma3"), "gemma3");
    CHECK(gemma.name == "gemma");
    CHECK(gemma.bos_token == "<bos>");
    CHECK(gemma.system_role);

    // llama2's tokenizer_config.json has no chat_template: the message says what to do.
    REQUIRE_THROWS_AS(detect_chat_template(npm_config("llama2"), "llama2"), ConfigError);
    REQUIRE_THROWS_WITH(detect_chat_template(npm_config("llama2"), "tok/llama2"),
                        Catch::Contains("tok/llama2") && Catch::Contains("--chat-template") &&
                            Catch::Contains("chatml, qwen3, llama3, gemma, llama2, alpaca"));

    CHECK(detect_chat_template(with_template("llama2", "llama2.jinja"), "t").name == "llama2");
    CHECK(detect_chat_template(with_template("llama2", "alpaca.jinja"), "t").name == "alpaca");
    const ChatTemplate chatml = detect_chat_template(with_template("qwen3", "chatml.jinja"), "t");
    CHECK(chatml.name == "chatml");
    CHECK(chatml.default_system ==
          "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
}

TEST_CASE("chat template detection reads options from the template text", "[chat]") {
    TokenizerConfig config;
    config.eos_token = "<|im_end|>";
    // Qwen2.5 writes its default system prompt with escaped newlines; SmolLM2 with raw ones.
    config.chat_template =
        "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + "
        "messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are "
        "Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
        "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + "
        "message.content + '<|im_end|>' + '\\n' }}{%- endfor %}";
    ChatTemplate t = detect_chat_template(config, "qwen2.5");
    CHECK(t.name == "chatml");
    CHECK(t.default_system ==
          "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
    const std::vector<ChatMessage> hi = {{"user", "Hi"}};
    CHECK(render_chat(t, hi, {.add_generation_prompt = true}) ==
          "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
          "assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

    config.chat_template = "{% for message in messages %}{% if loop.first and messages[0]['role'] "
                           "!= 'system' %}{{ '<|im_start|>system\nYou\\'re SmolLM<|im_end|>\n' }}"
                           "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
                           "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
    CHECK(detect_chat_template(config, "smollm2").default_system == "You're SmolLM");

    config.chat_template = "{% for message in messages %}{{'<|im_start|>' + message['role'] + "
                           "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    CHECK(detect_chat_template(config, "plain").default_system.empty());

    config.chat_template =
        "{% for m in messages %}<|start_header_id|>{{ m.role }}"
        "<|end_header_id|>{% endfor %}{% if add_generation_prompt %}x{% endif %}";
    CHECK_FALSE(detect_chat_template(config, "llama3").always_generation_prompt);
    config.chat_template += "Cutting Knowledge Date: December 2023";
    CHECK_THROWS_WITH(detect_chat_template(config, "llama3.1"), Catch::Contains("Llama 3.1"));

    // Gemma 1 raises on a system message; the renderer does the same.
    config.bos_token = "<bos>";
    config.chat_template = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ "
                           "raise_exception('System role not supported') }}{% endif %}"
                           "<start_of_turn>";
    t = detect_chat_template(config, "gemma1");
    CHECK(t.name == "gemma");
    CHECK_FALSE(t.system_role);
    const std::vector<ChatMessage> with_system = {{"system", "S"}, {"user", "Hi"}};
    CHECK_THROWS_AS(render_chat(t, with_system), ConfigError);

    config.chat_template = "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]"
                           "{% endfor %}";
    CHECK_THROWS_AS(detect_chat_template(config, "mistral"), ConfigError);
    config.chat_template = "{{ messages }}";
    CHECK_THROWS_WITH(detect_chat_template(config, "odd"),
                      Catch::Contains("odd") && Catch::Contains("not recognised"));
    config.chat_template.clear();
    CHECK_THROWS_WITH(detect_chat_template(config, "none"), Catch::Contains("no chat_template"));
}

TEST_CASE("chat templates by name, and input validation", "[chat]") {
    const std::vector<std::string> names = chat_template_names();
    REQUIRE(names ==
            std::vector<std::string>{"chatml", "qwen3", "llama3", "gemma", "llama2", "alpaca"});
    for (const std::string& n : names)
        CHECK(chat_template_by_name(n, npm_config("llama2")).name == n);
    const ChatTemplate alpaca = chat_template_by_name("alpaca", npm_config("llama2"));
    CHECK(alpaca.eos_token == "</s>");
    CHECK(alpaca.default_system.starts_with("Below is an instruction"));
    CHECK(chat_template_by_name("chatml", npm_config("qwen3")).default_system.empty());
    CHECK_THROWS_AS(chat_template_by_name("vicuna", npm_config("llama2")), ConfigError);
    CHECK_THROWS_WITH(chat_template_by_name("vicuna", npm_config("llama2")),
                      Catch::Contains("'vicuna'") &&
                          Catch::Contains("chatml, qwen3, llama3, gemma, llama2, alpaca"));

    const ChatTemplate chatml = chat_template_by_name("chatml", npm_config("qwen3"));
    CHECK_THROWS_WITH(render_chat(chatml, std::vector<ChatMessage>{}),
                      Catch::Contains("empty conversation"));
    const std::vector<ChatMessage> bot = {{"user", "Hi"}, {"bot", "Hello"}};
    CHECK_THROWS_WITH(render_chat(chatml, bot),
                      Catch::Contains("message 2") && Catch::Contains("'bot'"));
    const std::vector<ChatMessage> bad_utf8 = {{"user", "caf\xC3"}};
    CHECK_THROWS_AS(render_chat(chatml, bad_utf8), ConfigError);
    const std::vector<ChatMessage> two_users = {{"user", "a"}, {"user", "b"}};
    CHECK_THROWS_WITH(render_chat(chat_template_by_name("gemma", npm_config("gemma3")), two_users),
                      Catch::Contains("alternate") && Catch::Contains("message 2"));
    const std::vector<ChatMessage> late_system = {{"user", "a"}, {"system", "s"}};
    CHECK_THROWS_AS(render_chat(alpaca, late_system), ConfigError);
}

TEST_CASE("chat segments mark exactly the assistant replies as trainable", "[chat]") {
    const std::vector<ChatMessage> conversation = {{"system", "Be brief."},
                                                   {"user", "Hi"},
                                                   {"assistant", "Hello!"},
                                                   {"user", "Bye"},
                                                   {"assistant", " See you. "}};
    struct Case {
        const char* name;
        const char* tokenizer;
        std::vector<std::string> trainable;
        std::string gen_prompt;
    };
    const std::vector<Case> cases = {
        {"chatml",
         "qwen3",
         {"Hello!<|im_end|>", " See you. <|im_end|>"},
         "<|im_start|>assistant\n"},
        {"qwen3",
         "qwen3",
         {"Hello!<|im_end|>", "<think>\n\n</think>\n\n See you. <|im_end|>"},
         "<|im_start|>assistant\n"},
        {"llama3",
         "llama3",
         {"Hello!<|eot_id|>", "See you.<|eot_id|>"},
         "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {"gemma",
         "gemma3",
         {"Hello!<end_of_turn>", "See you.<end_of_turn>"},
         "<start_of_turn>model\n"},
        {"llama2", "llama2", {" Hello! </s>", " See you. </s>"}, ""},
        {"alpaca", "llama2", {"Hello!</s>", " See you. </s>"}, "### Response:\n"},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        const ChatTemplate t = chat_template_by_name(c.name, npm_config(c.tokenizer));
        const std::vector<ChatSegment> segments = render_chat_segments(t, conversation);
        CHECK(concat(segments) == render_chat(t, conversation));
        CHECK(trainable_texts(segments) == c.trainable);
        for (std::size_t i = 1; i < segments.size(); ++i) // neighbours are merged
            CHECK(segments[i].trainable != segments[i - 1].trainable);
        CHECK_FALSE(segments.front().trainable);

        // The generation prompt is one more untrainable piece at the end.
        const std::vector<ChatSegment> prompted =
            render_chat_segments(t, conversation, {.add_generation_prompt = true});
        CHECK(concat(prompted) == concat(segments) + c.gen_prompt);
        CHECK(trainable_texts(prompted) == c.trainable);
    }

    // The 2-turn chatml text piece by piece.
    const std::vector<ChatMessage> two = {{"user", "Hi"}, {"assistant", "Hello!"}};
    const std::vector<ChatSegment> s =
        render_chat_segments(chat_template_by_name("chatml", npm_config("qwen3")), two);
    REQUIRE(s.size() == 3);
    CHECK(s[0].text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    CHECK_FALSE(s[0].trainable);
    CHECK(s[1].text == "Hello!<|im_end|>");
    CHECK(s[1].trainable);
    CHECK(s[2].text == "\n");
    CHECK_FALSE(s[2].trainable);
}

TEST_CASE("qwen3 keeps reasoning after the last query and drops it before", "[chat]") {
    const ChatTemplate t = chat_template_by_name("qwen3", npm_config("qwen3"));
    const std::vector<ChatMessage> messages = {
        {"user", "Q1"},
        {"assistant", "<think>\nold\n</think>\n\nA1"},
        {"user", "Q2"},
        {"assistant", "<think>\nnew\n</think>\n\nA2"},
    };
    CHECK(render_chat(t, messages) ==
          "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n"
          "<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n<think>\nnew\n</think>\n\n"
          "A2<|im_end|>\n");
    const std::vector<ChatMessage> q = {{"user", "Q"}};
    CHECK(render_chat(t, q, {.add_generation_prompt = true, .enable_thinking = false}) ==
          "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    CHECK(render_chat(t, q, {.add_generation_prompt = true}) ==
          "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
}
