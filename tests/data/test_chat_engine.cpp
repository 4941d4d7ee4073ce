// Chat templates through the Jinja engine (data/chat_engine.h): the real templates of the npm
// tokenizer packages and ours in tests/reference/templates/ (Llama-2, ChatML, Alpaca, Zephyr,
// Mistral, Phi-3, Granite, Llama-3.1 style), over the conversation corpus of tests/fixtures/chat/,
// byte for byte as Python's Jinja2 in transformers' environment renders them
// (tests/reference/gen_chat_engine.py), errors included; then the assistant-only masks: the
// trainable text of each reply against the incremental method (render the messages before the
// reply with the generation prompt, then with the reply, and take the difference) wherever
// that method is well-defined.
#include "common/error.h"
#include "common/text.h"
#include "data/chat_engine.h"
#include "tests/data/npm_tokenizers.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

using namespace slimtune;
using namespace slimtune::data;
using nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

constexpr std::time_t kFixedNow = 1721995200; // tests/reference/jinja_env.py FIXED_NOW

ordered_json read_json(const fs::path& p) {
    return ordered_json::parse(read_file(fs::path(SLIMTUNE_SOURCE_DIR) / p));
}

struct Setup {
    ChatEngine engine;
    std::vector<std::string> markers;
    ordered_json kwargs;
};

Setup setup(const ordered_json& entry) {
    const std::string tokenizer = entry["tokenizer"].get<std::string>();
    TokenizerConfig config = test::npm_config(tokenizer);
    if (entry.contains("file"))
        config.chat_template = test::reference_template(entry["file"].get<std::string>());
    if (entry.contains("eos_token"))
        config.eos_token = entry["eos_token"].get<std::string>();
    std::vector<std::string> markers = chat_end_markers(test::npm_tokenizer(tokenizer));
    const ordered_json extra = entry.value("end_markers", ordered_json::array());
    for (const auto& m : extra)
        markers.push_back(m.get<std::string>());
    if (config.eos_token)
        markers.push_back(*config.eos_token);
    ChatEngine engine(config.chat_template, entry["name"].get<std::string>(), config, markers);
    return {std::move(engine), markers, entry.value("kwargs", ordered_json::object())};
}

std::map<std::string, ordered_json> corpus() {
    std::map<std::string, ordered_json> out;
    for (const char* f : {"conversations.json", "conversations_tools.json"})
        for (const auto& c : read_json(fs::path("tests/fixtures/chat") / f))
            out[c["name"].get<std::string>()] = c;
    return out;
}

ChatEngineOptions options_for(const Setup& s, const ordered_json& conversation, bool gen) {
    ChatEngineOptions o;
    o.add_generation_prompt = gen;
    o.now = kFixedNow;
    o.kwargs = s.kwargs;
    if (conversation.contains("tools"))
        o.kwargs["tools"] = conversation["tools"];
    const ordered_json extra = conversation.value("kwargs", ordered_json::object());
    for (const auto& [k, v] : extra.items())
        o.kwargs[k] = v;
    return o;
}

// The first end-of-turn marker's end in `text`, npos when none.
std::size_t marker_end(const std::string& text, const std::vector<std::string>& markers) {
    std::size_t best = std::string::npos;
    for (const std::string& m : markers)
        if (!m.empty())
            if (const std::size_t at = text.find(m); at != std::string::npos)
                best = std::min(best, at + m.size());
    return best;
}

} // namespace

TEST_CASE("chat engine: real and house templates render as transformers renders them",
          "[chat][jinja]") {
    const auto conversations = corpus();
    std::map<std::string, Setup> setups;
    for (const auto& entry : read_json("tests/fixtures/chat/engine_templates.json"))
        setups.emplace(entry["name"].get<std::string>(), setup(entry));
    REQUIRE(setups.size() >= 12);
    const std::string lines =
        read_file(fs::path(SLIMTUNE_SOURCE_DIR) / "tests/golden/jinja/templates.jsonl");
    std::size_t records = 0, refused = 0;
    for (const std::string& line : split_list(lines, '\n')) {
        if (line.empty())
            continue;
        const ordered_json r = ordered_json::parse(line);
        const std::string name = r["template"].get<std::string>();
        const ordered_json& conv = conversations.at(r["conversation"].get<std::string>());
        const bool gen = r["add_generation_prompt"].get<bool>();
        const Setup& s = setups.at(name);
        INFO(name << " / " << r["conversation"].get<std::string>() << " / generation prompt "
                  << gen);
        ++records;
        if (r.contains("error")) {
            INFO("Jinja2: " << r["error"].get<std::string>());
            ++refused;
            CHECK_THROWS_AS(s.engine.render(conv["messages"], options_for(s, conv, gen)),
                            ConfigError);
            continue;
        }
        std::string got;
        try {
            got = s.engine.render(conv["messages"], options_for(s, conv, gen));
        } catch (const std::exception& e) {
            FAIL_CHECK("slimtune failed: " << e.what());
            continue;
        }
        CHECK(got == r["text"].get<std::string>());
    }
    CHECK(records == setups.size() * conversations.size() * 2);
    CHECK(refused >= 30); // the alternation rules of gemma, llama2, mistral ... raise
}

TEST_CASE("chat engine: masks are the replies plus their end-of-turn text", "[chat][jinja]") {
    const auto conversations = corpus();
    std::size_t compared = 0, replies = 0;
    for (const auto& entry : read_json("tests/fixtures/chat/engine_templates.json")) {
        const Setup s = setup(entry);
        for (const auto& [cname, conv] : conversations) {
            const ordered_json& messages = conv["messages"];
            INFO(s.engine.name() << " / " << cname);
            std::vector<ChatSegment> segments;
            try {
                segments = s.engine.segments(messages, options_for(s, conv, false));
            } catch (const ConfigError& e) {
                // Only the template's own refusals (raise_exception) are expected here.
                CHECK_THROWS(s.engine.render(messages, options_for(s, conv, false)));
                continue;
            }
            const std::string text = s.engine.render(messages, options_for(s, conv, false));
            std::string joined;
            std::map<std::size_t, std::string> trainable; // offset -> text
            for (const ChatSegment& seg : segments) {
                if (seg.trainable) {
                    trainable[joined.size()] = seg.text;
                    CHECK(
                        std::any_of(s.markers.begin(), s.markers.end(), [&](const std::string& m) {
                            return !m.empty() && seg.text.ends_with(m);
                        }));
                }
                joined += seg.text;
            }
            CHECK(joined == text);
            // The incremental method, for each reply where the prefix renderings line up.
            for (std::size_t a = 0; a < messages.size(); ++a) {
                if (messages[a]["role"] != "assistant")
                    continue;
                ++replies;
                const ordered_json before(messages.begin(),
                                          messages.begin() + static_cast<std::ptrdiff_t>(a));
                const ordered_json upto(messages.begin(),
                                        messages.begin() + static_cast<std::ptrdiff_t>(a + 1));
                std::string prompt, with_reply;
                try {
                    prompt = before.empty() ? std::string()
                                            : s.engine.render(before, options_for(s, conv, true));
                    with_reply = s.engine.render(upto, options_for(s, conv, false));
                } catch (const ConfigError&) {
                    continue;
                }
                if (before.empty() || !with_reply.starts_with(prompt) ||
                    !text.starts_with(with_reply))
                    continue;
                std::string expected = with_reply.substr(prompt.size());
                const std::size_t end = marker_end(expected, s.markers);
                if (end == std::string::npos)
                    continue;
                expected.resize(end);
                INFO("assistant message " << a + 1);
                const auto it = trainable.find(prompt.size());
                const std::string content = messages[a].value("content", "");
                const bool renders_tool_call =
                    messages[a].contains("tool_calls") &&
                    expected.find(
                        messages[a]["tool_calls"][0]["function"]["name"].get<std::string>()) !=
                        std::string::npos;
                if (content.empty() && !renders_tool_call)
                    continue; // an empty reply renders nothing of its own to anchor a mask on
                if (marker_end(content, s.markers) != std::string::npos)
                    continue; // markers inside the reply: the first marker is not its end
                REQUIRE(it != trainable.end());
                CHECK(it->second == expected);
                ++compared;
            }
        }
    }
    CHECK(compared >= 100);
    CHECK(replies >= compared);
}

TEST_CASE("chat engine: a reply mixed with other messages is refused, not guessed",
          "[chat][jinja]") {
    TokenizerConfig config;
    config.eos_token = "</s>";
    const ordered_json messages = ordered_json::parse(
        R"([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}])");
    // Every reply echoes the previous message inside itself.
    const ChatEngine echo(
        "{% for m in messages %}[{{ m.content }}{{ messages[0].content }}{{ m.content }}]</s>"
        "{% endfor %}",
        "echo.jinja", config, {});
    CHECK_THROWS_WITH(echo.segments(messages), Catch::Contains("echo.jinja") &&
                                                   Catch::Contains("interleaved with message 1"));
    // No end-of-turn marker after a reply: nothing says where the model must stop.
    const ChatEngine open_ended(
        "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}", "plain.jinja", config,
        {});
    CHECK_THROWS_WITH(open_ended.segments(messages), Catch::Contains("no end-of-turn marker"));
    CHECK(open_ended.render(messages) == "user: Q\nassistant: A\n");
    // The same without the echo is fine: "A</s>" is the reply.
    const ChatEngine plain("{% for m in messages %}[{{ m.content }}]</s>{% endfor %}", "p", config,
                           {});
    const std::vector<ChatSegment> segs = plain.segments(messages);
    REQUIRE(segs.size() == 2);
    CHECK(segs[0].text == "[Q]</s>");
    CHECK_FALSE(segs[0].trainable);
    CHECK(segs[1].text == "[A]</s>"); // what the template writes after the user turn
    CHECK(segs[1].trainable);
}

TEST_CASE("chat_template = auto renders a template of no named format through the engine",
          "[chat][jinja]") {
    // Qwen3's tokenizer carrying a Phi-3 style template: none of the named formats.
    TokenizerConfig config = test::npm_config("qwen3");
    config.chat_template = test::reference_template("zephyr.jinja");
    config.eos_token = "<|im_end|>";
    CHECK_THROWS(detect_chat_template(config, "zephyr"));
    const ChatTemplate t = chat_template_for("auto", config, "zephyr");
    CHECK(t.name == "jinja");
    REQUIRE(t.engine);
    const std::vector<ChatMessage> conversation = {
        {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello!"}};
    CHECK(render_chat(t, conversation) ==
          "<|system|>\nBe "
          "brief.<|im_end|>\n<|user|>\nHi<|im_end|>\n<|assistant|>\nHello!<|im_end|>\n");
    CHECK(render_chat(t, conversation, {.add_generation_prompt = true}).ends_with("<|assistant|>\n"));
    const std::vector<ChatSegment> segments = render_chat_segments(t, conversation);
    REQUIRE(segments.size() == 3);
    CHECK(segments[1].text == "Hello!<|im_end|>");
    CHECK(segments[1].trainable);
    CHECK(segments[2].text == "\n");
    // The export keeps the tokenizer's own text, and writes it for another tokenizer.
    CHECK(exported_chat_template_jinja(t, config, "zephyr").empty());
    CHECK(chat_template_jinja(t) == config.chat_template);
    CHECK(chat_template_for("jinja", config, "zephyr").jinja_source == config.chat_template);
    // A template that does not parse is refused with its line and column.
    config.chat_template = "{% for m in messages %}\n{{ m.content }\n{% endfor %}";
    CHECK_THROWS_WITH(chat_template_for("auto", config, "broken"),
                      Catch::Contains("broken chat_template:2:"));
}
