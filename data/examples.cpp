#include "data/examples.h"

#include "common/error.h"
#include "data/chat_engine.h"

#include <algorithm>
#include <span>
#include <tuple>

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

// The template a conversation renders with: the configured one, else "alpaca" for Alpaca
// records.
ChatTemplate chat_template_for(const Record& r, const ExampleOptions& o, const Tokenizer& tok) {
    if (o.chat_template)
        return *o.chat_template;
    if (r.format == DatasetFormat::alpaca)
        return chat_template_by_name("alpaca", tok.config());
    std::string names;
    for (const auto& n : chat_template_names())
        names += (names.empty() ? "" : ", ") + n;
    throw ConfigError("a " + format_name(r.format) +
                      " example needs a chat template: the tokenizer has none that slimtune "
                      "reproduces; set data.chat_template (" +
                      names + ")");
}

// The conversation's segments; a conversation the template rejects is a malformed record.
std::vector<ChatSegment> render_segments(const ChatTemplate& tmpl,
                                         const Record& r,
                                         std::span<const ChatMessage> messages,
                                         const ChatRenderOptions& options = {}) {
    try {
        return render_chat_segments(tmpl, messages, options);
    } catch (const ConfigError& err) {
        const char* field = r.format == DatasetFormat::sharegpt            ? "conversations"
                            : r.format == DatasetFormat::prompt_completion ? "prompt"
                                                                           : "messages";
        throw RecordError{field, err.what()};
    }
}

// A conversational prompt/completion record, as TRL trains it: the prompt rendered on its own
// (with the generation prompt, unless it ends with an assistant turn) is the masked prefix of
// the whole conversation's rendering; what follows it, up to the end of the last reply the
// template marks trainable (not a trailing generation prompt), is learned. The text is cut at
// the same segment boundaries as for a messages record, so both give the same ids.
void append_prompt_completion(const Tokenizer& tok,
                              const ChatTemplate& tmpl,
                              const Record& r,
                              const std::vector<ChatMessage>& messages,
                              const ExampleOptions& o,
                              TokenExample& e) {
    const std::span<const ChatMessage> prompt(messages.data(), r.value["prompt"].size());
    const bool ends_with_reply = prompt.back().role == "assistant";
    std::string prompt_text;
    for (const ChatSegment& s :
         render_segments(tmpl, r, prompt, {.add_generation_prompt = !ends_with_reply}))
        prompt_text += s.text;
    const std::vector<ChatSegment> segments = render_segments(tmpl, r, messages);
    std::string text;
    std::size_t learned_end = 0;
    for (const ChatSegment& s : segments) {
        text += s.text;
        if (s.trainable)
            learned_end = text.size();
    }
    if (!text.starts_with(prompt_text))
        throw RecordError{"prompt", "the chat template '" + tmpl.name +
                                        "' renders the prompt differently on its own than as "
                                        "the start of the conversation"};
    const std::size_t learned_begin = prompt_text.size();
    if (learned_end <= learned_begin)
        learned_end = text.size();
    std::size_t at = 0; // offset of the segment in `text`
    for (const ChatSegment& s : segments) {
        // The segment's pieces before, inside and after [learned_begin, learned_end).
        const std::size_t end = at + s.text.size();
        const std::size_t cut1 = std::clamp(learned_begin, at, end);
        const std::size_t cut2 = std::clamp(learned_end, at, end);
        using Piece = std::tuple<std::size_t, std::size_t, bool>;
        for (const auto& [from, to, learned] :
             {Piece{at, cut1, false}, Piece{cut1, cut2, true}, Piece{cut2, end, false}})
            if (to > from)
                append_text(tok, text.substr(from, to - from), learned || o.train_on_all, e);
        at = end;
    }
}

// Alpaca, messages, ShareGPT and conversational prompt/completion records through the chat
// template: the assistant turns (and each turn's end-of-turn token) are learned, or the
// completion's turns.
void append_conversation(const Tokenizer& tok,
                         const ChatTemplate& tmpl,
                         const Record& r,
                         const ExampleOptions& o,
                         TokenExample& e) {
    const std::vector<ChatMessage> messages = record_messages(r, o.record);
    if (is_conversational_prompt_completion(r))
        return append_prompt_completion(tok, tmpl, r, messages, o, e);
    for (const ChatSegment& s : render_segments(tmpl, r, messages))
        append_text(tok, s.text, s.trainable || o.train_on_all, e);
}

} // namespace

TokenExample record_to_example(const Record& r, const ExampleOptions& o) {
    const json& j = r.value;
    TokenExample e;
    if (is_conversation(r)) {
        const Tokenizer& tok = need_tokenizer(o, r.format);
        append_conversation(tok, chat_template_for(r, o, tok), r, o, e);
    } else if (r.format == DatasetFormat::tokens) {
        e.ids = id_list(j["input_ids"], "input_ids", o.vocab_size);
        if (j.contains("labels") && !o.train_on_all)
            e.labels = id_list(j["labels"], "labels", o.vocab_size);
    } else if (r.format == DatasetFormat::prompt_completion) {
        const Tokenizer& tok = need_tokenizer(o, r.format);
        add_bos(tok, e);
        append_text(tok, j["prompt"].get<std::string>(), o.train_on_all, e);
        append_text(tok, j["completion"].get<std::string>(), true, e);
        add_eos(tok, e);
    } else if (r.format == DatasetFormat::text) {
        const Tokenizer& tok = need_tokenizer(o, r.format);
        add_bos(tok, e);
        append_text(tok, j[o.record.text_field].get<std::string>(), true, e);
        add_eos(tok, e);
    }
    if (o.train_on_all && !e.labels.empty())
        e.labels = e.ids;
    return e;
}

void for_each_token_example(const std::string& path,
                            const ExampleOptions& o,
                            const std::function<void(TokenExample&&)>& sink,
                            ExampleStats* stats) {
    ExampleStats st;
    RecordReadStats read;
    for_each_record(
        path, o.record, o.skip_bad_lines,
        [&](const Record& r, std::int64_t) {
            TokenExample e = record_to_example(r, o);
            ++st.formats[format_name(r.format)];
            sink(std::move(e));
        },
        &read);
    st.lines = read.lines;
    st.examples = read.records;
    st.bad_lines = read.bad_lines;
    st.first_bad = read.first_bad;
    st.bad_line_numbers = std::move(read.bad_line_numbers);
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
    if (tokenizer && chat_template == kJinjaChatTemplate)
        eo.chat_template = jinja_chat_template(tokenizer->config(), tokenizer->source(),
                                               chat_end_markers(*tokenizer));
    else if (tokenizer && !automatic)
        eo.chat_template =
            chat_template_for(chat_template, tokenizer->config(), tokenizer->source());
    else if (tokenizer && !tokenizer->config().chat_template.empty())
        try {
            eo.chat_template = detect_chat_template(tokenizer->config(), tokenizer->source());
        } catch (const ConfigError&) {
            // None of the named formats: the Jinja engine renders the tokenizer's own.
            try {
                eo.chat_template = jinja_chat_template(tokenizer->config(), tokenizer->source(),
                                                       chat_end_markers(*tokenizer));
            } catch (const ConfigError&) {
                // Only chat examples need it; they report the missing template themselves.
            }
        }
    return eo;
}

} // namespace slimtune::data
