#include "data/chat_engine.h"

#include "common/error.h"

#include <algorithm>

namespace slimtune::data {

namespace jj = jinja;
using nlohmann::ordered_json;

ChatEngine::ChatEngine(const std::string& source,
                       std::string name,
                       const TokenizerConfig& config,
                       std::vector<std::string> end_markers)
    : template_(source, std::move(name)), end_markers_(std::move(end_markers)) {
    // transformers passes each special token that the config sets.
    const std::pair<const char*, const std::optional<std::string>*> specials[] = {
        {"bos_token", &config.bos_token},
        {"eos_token", &config.eos_token},
        {"pad_token", &config.pad_token},
        {"unk_token", &config.unk_token}};
    for (const auto& [key, value] : specials)
        if (*value && !(*value)->empty())
            specials_.set(jj::Value::of(key), jj::Value::of(**value));
    if (config.eos_token && !config.eos_token->empty() &&
        std::find(end_markers_.begin(), end_markers_.end(), *config.eos_token) ==
            end_markers_.end())
        end_markers_.push_back(*config.eos_token);
    std::erase(end_markers_, std::string());
}

jj::Text ChatEngine::render_tagged(const ordered_json& messages,
                                   const ChatEngineOptions& options,
                                   bool generation_prompt) const {
    if (!messages.is_array())
        throw ConfigError(name() + ": messages must be a JSON array");
    jj::Dict vars = specials_;
    // Message i's strings are tagged i + 1, except its role (the template's header text).
    jj::List list;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const ordered_json& m = messages[i];
        if (!m.is_object())
            throw ConfigError(name() + ": message " + std::to_string(i + 1) +
                              " is not a JSON object");
        auto d = std::make_shared<jj::Dict>();
        for (const auto& [k, v] : m.items())
            d->items.emplace_back(
                jj::Value::of(k),
                jj::from_json(v, k == "role" ? 0 : static_cast<std::int32_t>(i + 1)));
        list.push_back(jj::Value::of(std::move(d)));
    }
    vars.set(jj::Value::of("messages"), jj::Value::of(std::move(list)));
    // apply_chat_template passes tools and documents always (None when not given).
    vars.set(jj::Value::of("tools"), jj::Value::none());
    vars.set(jj::Value::of("documents"), jj::Value::none());
    vars.set(jj::Value::of("add_generation_prompt"), jj::Value::of(generation_prompt));
    for (const auto& [k, v] : options.kwargs.items())
        vars.set(jj::Value::of(k), jj::from_json(v));
    return template_.render(vars, options.now);
}

std::string ChatEngine::render(const ordered_json& messages,
                               const ChatEngineOptions& options) const {
    return render_tagged(messages, options, options.add_generation_prompt).str();
}

namespace {

struct Span {
    std::size_t begin, end;
};

[[noreturn]] void ambiguous(const std::string& name, const std::string& what) {
    throw ConfigError("chat template " + name + ": " + what +
                      "; slimtune cannot tell which text is the reply to learn (train on all "
                      "tokens with train_on_all, or pick another template)");
}

} // namespace

std::vector<ChatSegment> ChatEngine::segments(const ordered_json& messages,
                                              const ChatEngineOptions& options) const {
    const jj::Text out = render_tagged(messages, options, options.add_generation_prompt);
    const std::string& text = out.str();
    // The generation prompt of this conversation (what add_generation_prompt appends), computed
    // once when needed.
    std::optional<std::string> generation_prompt;
    auto prompt_text = [&]() -> const std::string& {
        if (!generation_prompt) {
            generation_prompt.emplace();
            try {
                const std::string with = render_tagged(messages, options, true).str();
                const std::string without = options.add_generation_prompt
                                                ? render_tagged(messages, options, false).str()
                                                : text;
                if (with.starts_with(without))
                    *generation_prompt = with.substr(without.size());
            } catch (const ConfigError&) {
                // A template may refuse a prompt after a reply: then there is none to skip.
            }
        }
        return *generation_prompt;
    };
    // Per byte: the message it came from (-1: the template).
    std::vector<std::int32_t> owner(text.size(), -1);
    std::size_t at = 0;
    for (const jj::Text::Run& r : out.runs()) {
        std::fill_n(owner.begin() + static_cast<std::ptrdiff_t>(at), r.length, r.tag - 1);
        at += r.length;
    }
    std::vector<Span> trainable;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (!messages[i].is_object() || messages[i].value("role", "") != "assistant")
            continue;
        const auto mine = static_cast<std::int32_t>(i);
        const auto first = std::find(owner.begin(), owner.end(), mine);
        if (first == owner.end())
            continue; // nothing of it is rendered (an empty reply): nothing to learn
        const auto begin = static_cast<std::size_t>(first - owner.begin());
        const auto end = static_cast<std::size_t>(
            owner.size() - (std::find(owner.rbegin(), owner.rend(), mine) - owner.rbegin()));
        for (std::size_t k = begin; k < end; ++k)
            if (owner[k] != -1 && owner[k] != mine)
                ambiguous(name(), "the text of assistant message " + std::to_string(i + 1) +
                                      " is interleaved with message " +
                                      std::to_string(owner[k] + 1) + "'s");
        // Template text right before the reply: what follows the generation prompt. Where the
        // messages before this reply render, with the prompt, as a prefix of the text ending in
        // this run, the reply starts right after that prefix (the incremental method); else
        // after the last copy of this conversation's generation prompt in the run.
        std::size_t run_start = begin;
        while (run_start > 0 && owner[run_start - 1] == -1)
            --run_start;
        std::size_t start = begin;
        std::optional<std::size_t> prefix;
        if (i > 0)
            try {
                ChatEngineOptions o = options;
                const std::string p =
                    render_tagged(ordered_json(messages.begin(),
                                               messages.begin() + static_cast<std::ptrdiff_t>(i)),
                                  o, true)
                        .str();
                if (p.size() >= run_start && p.size() <= begin && text.starts_with(p))
                    prefix = p.size();
            } catch (const ConfigError&) {
                // The template refuses the shorter conversation: use the generation prompt.
            }
        if (prefix) {
            start = *prefix;
        } else if (const std::string& g = prompt_text(); !g.empty()) {
            const std::string_view before(text.data() + run_start, begin - run_start);
            if (const std::size_t found = before.rfind(g); found != std::string_view::npos)
                start = run_start + found + g.size();
        }
        // Template text right after it, up to and including the first end-of-turn marker.
        std::size_t run_end = end;
        while (run_end < owner.size() && owner[run_end] == -1)
            ++run_end;
        const std::string_view after(text.data() + end, run_end - end);
        std::size_t stop = std::string_view::npos;
        for (const std::string& marker : end_markers_)
            if (const std::size_t m = after.find(marker); m != std::string_view::npos)
                stop = std::min(stop, m + marker.size());
        if (stop == std::string_view::npos)
            ambiguous(name(), "no end-of-turn marker (the EOS token or a special token) follows "
                              "assistant message " +
                                  std::to_string(i + 1));
        if (!trainable.empty() && trainable.back().end > start)
            ambiguous(name(), "assistant messages " + std::to_string(i) + " and " +
                                  std::to_string(i + 1) + " are rendered out of order");
        trainable.push_back({start, end + stop});
    }
    std::vector<ChatSegment> segments;
    std::size_t pos = 0;
    for (const Span& s : trainable) {
        if (s.begin > pos)
            segments.push_back({text.substr(pos, s.begin - pos), false});
        segments.push_back({text.substr(s.begin, s.end - s.begin), true});
        pos = s.end;
    }
    if (pos < text.size())
        segments.push_back({text.substr(pos), false});
    return segments;
}

std::vector<std::string> chat_end_markers(const Tokenizer& tok) {
    std::vector<std::string> markers;
    if (tok.config().eos_token)
        markers.push_back(*tok.config().eos_token);
    for (const AddedToken& a : tok.added_tokens())
        if (a.special && std::find(markers.begin(), markers.end(), a.content) == markers.end())
            markers.push_back(a.content);
    return markers;
}

ordered_json messages_json(std::span<const ChatMessage> messages) {
    ordered_json out = ordered_json::array();
    for (const ChatMessage& m : messages)
        out.push_back({{"role", m.role}, {"content", m.content}});
    return out;
}

} // namespace slimtune::data
