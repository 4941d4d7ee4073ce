#include "data/examples.h"

#include "common/error.h"

#include <fstream>

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

void add_eos(const Tokenizer& tok, TokenExample& e) {
    if (!tok.eos_id())
        throw ConfigError("the tokenizer has no eos_token to end an example with");
    e.ids.push_back(*tok.eos_id());
    e.labels.push_back(*tok.eos_id());
}

const Tokenizer& need_tokenizer(const ExampleOptions& o, DatasetFormat f) {
    if (!o.tokenizer)
        throw ConfigError("a " + format_name(f) + " example needs a tokenizer");
    return *o.tokenizer;
}

std::vector<std::int32_t> id_list(const json& a, const char* field, std::int64_t vocab) {
    std::vector<std::int32_t> v;
    v.reserve(a.size());
    for (const json& x : a) {
        const auto id = x.get<std::int64_t>();
        if (vocab > 0 && id >= vocab)
            throw RecordError{field, "holds " + std::to_string(id) + ", not a token id in [0, " +
                                         std::to_string(vocab) + ")"};
        v.push_back(static_cast<std::int32_t>(id));
    }
    return v;
}

} // namespace

TokenExample record_to_example(const Record& r, const ExampleOptions& o) {
    const json& j = r.value;
    TokenExample e;
    switch (r.format) {
    case DatasetFormat::tokens:
        e.ids = id_list(j["input_ids"], "input_ids", o.vocab_size);
        if (j.contains("labels") && !o.train_on_all)
            e.labels = id_list(j["labels"], "labels", o.vocab_size);
        break;
    case DatasetFormat::alpaca:
    case DatasetFormat::messages:
    case DatasetFormat::sharegpt: {
        const Tokenizer& tok = need_tokenizer(o, r.format);
        std::optional<ChatTemplate> tmpl = o.chat_template;
        if (!tmpl && r.format == DatasetFormat::alpaca)
            tmpl = chat_template_by_name("alpaca", tok.config());
        if (!tmpl)
            throw ConfigError("a " + format_name(r.format) +
                              " example needs a chat template: the tokenizer has none that "
                              "slimtune reproduces; set data.chat_template (" +
                              [] {
                                  std::string s;
                                  for (const auto& n : chat_template_names())
                                      s += (s.empty() ? "" : ", ") + n;
                                  return s;
                              }() +
                              ")");
        std::vector<ChatSegment> segments;
        try {
            segments = render_chat_segments(*tmpl, record_messages(r, o.record));
        } catch (const ConfigError& err) { // a conversation this template rejects
            throw RecordError{r.format == DatasetFormat::sharegpt ? "conversations" : "messages",
                              err.what()};
        }
        for (const ChatSegment& s : segments)
            append_text(tok, s.text, s.trainable || o.train_on_all, e);
        break;
    }
    case DatasetFormat::prompt_completion: {
        const Tokenizer& tok = need_tokenizer(o, r.format);
        add_bos(tok, e);
        append_text(tok, j["prompt"].get<std::string>(), o.train_on_all, e);
        append_text(tok, j["completion"].get<std::string>(), true, e);
        add_eos(tok, e);
        break;
    }
    case DatasetFormat::text: {
        const Tokenizer& tok = need_tokenizer(o, r.format);
        add_bos(tok, e);
        append_text(tok, j[o.record.text_field].get<std::string>(), true, e);
        add_eos(tok, e);
        break;
    }
    case DatasetFormat::automatic:
        break;
    }
    if (o.train_on_all && !e.labels.empty())
        e.labels = e.ids;
    return e;
}

void for_each_token_example(const std::string& path,
                            const ExampleOptions& o,
                            const std::function<void(TokenExample&&)>& sink,
                            ExampleStats* stats) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open file");
    ExampleStats st;
    std::string line;
    while (std::getline(in, line)) {
        ++st.lines;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        TokenExample e;
        std::string format;
        try {
            const Record r = parse_record(line, o.record);
            format = format_name(r.format);
            e = record_to_example(r, o);
        } catch (const RecordError& bad) {
            const std::string msg = path + ":" + std::to_string(st.lines) + ": " +
                                    (bad.field.empty() ? "" : "field '" + bad.field + "' ") +
                                    bad.what;
            if (!o.skip_bad_lines)
                throw FormatError(msg);
            if (st.bad_lines++ == 0)
                st.first_bad = msg;
            continue;
        } catch (const ConfigError& err) {
            throw ConfigError(path + ":" + std::to_string(st.lines) + ": " + err.what());
        }
        ++st.examples;
        ++st.formats[format];
        sink(std::move(e));
    }
    if (in.bad())
        throw Error(path + ": read error");
    if (stats)
        *stats = st;
}

ExampleOptions example_options(ExampleOptions settings,
                               const std::string& chat_template,
                               const Tokenizer* tokenizer,
                               int64_t vocab_size) {
    ExampleOptions eo = std::move(settings);
    eo.tokenizer = tokenizer;
    eo.vocab_size = vocab_size;
    eo.chat_template.reset();
    const bool automatic = chat_template.empty() || chat_template == kAutoChatTemplate;
    if (tokenizer && !automatic)
        eo.chat_template =
            chat_template_for(chat_template, tokenizer->config(), tokenizer->source());
    else if (tokenizer && !tokenizer->config().chat_template.empty())
        try {
            eo.chat_template = detect_chat_template(tokenizer->config(), tokenizer->source());
        } catch (const ConfigError&) {
            // Only chat examples need it; they report the missing template themselves.
        }
    return eo;
}

} // namespace slimtune::data
