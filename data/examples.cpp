#include "data/examples.h"

#include "common/error.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace slimtune::data {

using nlohmann::json;

namespace {

// Appends the ids of `text` (no BOS/EOS) with labels learned or masked.
void append_text(const Tokenizer& tok, const std::string& text, bool learned, TokenExample& e) {
    const auto ids = tok.encode(text, false);
    e.ids.insert(e.ids.end(), ids.begin(), ids.end());
    if (learned)
        e.labels.insert(e.labels.end(), ids.begin(), ids.end());
    else
        e.labels.insert(e.labels.end(), ids.size(), kIgnoreLabel);
}

void add_bos(const Tokenizer& tok, TokenExample& e) {
    // The tokenizer's post-processor decides (Llama adds BOS, Qwen/GPT-2 do not).
    for (std::int32_t id : tok.prefix_ids()) {
        e.ids.push_back(id);
        e.labels.push_back(kIgnoreLabel);
    }
}

void add_eos(const Tokenizer& tok, TokenExample& e, const std::string& where) {
    if (!tok.eos_id())
        throw ConfigError(where + ": the tokenizer has no eos_token to end the example with");
    e.ids.push_back(*tok.eos_id());
    e.labels.push_back(*tok.eos_id());
}

} // namespace

std::vector<TokenExample> read_token_examples(const std::string& path, const ExampleOptions& o) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open file");
    std::vector<TokenExample> out;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string where = path + ":" + std::to_string(line_no);
        json j;
        try {
            j = json::parse(line);
        } catch (const json::parse_error& e) {
            throw FormatError(where + ": not valid JSON (" + std::string(e.what()) + ")");
        }
        if (!j.is_object())
            throw FormatError(where + ": expected a JSON object");
        auto need_tokenizer = [&](const char* format) -> const Tokenizer& {
            if (!o.tokenizer)
                throw ConfigError(where + ": a " + format + " example needs a tokenizer");
            return *o.tokenizer;
        };
        auto string_field = [&](const char* field) {
            if (!j.contains(field) || !j[field].is_string())
                throw FormatError(where + ": field '" + field + "' must be a string");
            return j[field].get<std::string>();
        };
        TokenExample e;
        if (j.contains("input_ids")) {
            auto ints = [&](const char* field, bool allow_ignore) {
                const json& a = j[field];
                if (!a.is_array())
                    throw FormatError(where + ": field '" + field + "' must be a list of integers");
                std::vector<std::int32_t> v;
                for (const json& x : a) {
                    const bool ok =
                        x.is_number_integer() &&
                        ((x.get<std::int64_t>() >= 0 &&
                          (o.vocab_size <= 0 || x.get<std::int64_t>() < o.vocab_size)) ||
                         (allow_ignore && x.get<std::int64_t>() == kIgnoreLabel));
                    if (!ok)
                        throw FormatError(where + ": field '" + field + "' holds " + x.dump() +
                                          ", not a token id" +
                                          (o.vocab_size > 0
                                               ? " in [0, " + std::to_string(o.vocab_size) + ")"
                                               : std::string()));
                    v.push_back(x.get<std::int32_t>());
                }
                return v;
            };
            e.ids = ints("input_ids", false);
            if (j.contains("labels")) {
                e.labels = ints("labels", true);
                if (e.labels.size() != e.ids.size())
                    throw FormatError(where + ": 'labels' has " + std::to_string(e.labels.size()) +
                                      " entries for " + std::to_string(e.ids.size()) +
                                      " input_ids");
            }
        } else if (j.contains("messages")) {
            const Tokenizer& tok = need_tokenizer("chat");
            if (!o.chat_template)
                throw ConfigError(where + ": a chat example needs a chat template");
            if (!j["messages"].is_array())
                throw FormatError(where + ": field 'messages' must be a list");
            std::vector<ChatMessage> msgs;
            for (const json& m : j["messages"]) {
                if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
                    !m.contains("content") || !m["content"].is_string())
                    throw FormatError(where + ": each message needs string 'role' and 'content'");
                msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
            }
            for (const ChatSegment& s : render_chat_segments(*o.chat_template, msgs))
                append_text(tok, s.text, s.trainable, e);
        } else if (j.contains("prompt") || j.contains("completion")) {
            const Tokenizer& tok = need_tokenizer("prompt/completion");
            add_bos(tok, e);
            append_text(tok, string_field("prompt"), false, e);
            append_text(tok, string_field("completion"), true, e);
            add_eos(tok, e, where);
        } else if (j.contains(o.text_field)) {
            const Tokenizer& tok = need_tokenizer("text");
            add_bos(tok, e);
            append_text(tok, string_field(o.text_field.c_str()), true, e);
            add_eos(tok, e, where);
        } else {
            throw FormatError(where + ": no 'input_ids', '" + o.text_field +
                              "', 'prompt'/'completion' or 'messages' field");
        }
        out.push_back(std::move(e));
    }
    if (in.bad())
        throw Error(path + ": read error");
    return out;
}

} // namespace slimtune::data
