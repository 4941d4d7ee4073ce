#include "data/tokenizer/pre_tokenizer.h"

#include "common/error.h"
#include "data/tokenizer/json_parts.h"
#include "data/tokenizer/known_splits.h"
#include "data/tokenizer/regex.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

namespace slimtune::data {

using nlohmann::json;

const char* const kGpt2SplitPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {

struct ByteTables {
    std::array<char32_t, 256> to_unicode{};
    std::array<std::string, 256> to_utf8{};
    std::array<int, 256 + 68> to_byte{}; // inverse over U+0000..U+0143, -1 outside the map
    ByteTables() {
        to_byte.fill(-1);
        char32_t next = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
            to_unicode[b] = printable ? static_cast<char32_t>(b) : next++;
            to_byte[to_unicode[b]] = b;
            append_utf8(to_utf8[b], to_unicode[b]);
        }
    }
};

const ByteTables& byte_tables() {
    static const ByteTables t;
    return t;
}

} // namespace

char32_t byte_to_unicode(std::uint8_t byte) {
    return byte_tables().to_unicode[byte];
}

int unicode_to_byte(char32_t cp) {
    const auto& t = byte_tables().to_byte;
    return cp < t.size() ? t[cp] : -1;
}

std::string byte_level_encode(std::string_view text) {
    const auto& t = byte_tables();
    std::string out;
    out.reserve(text.size() * 2);
    for (char c : text)
        out += t.to_utf8[static_cast<unsigned char>(c)];
    return out;
}

std::vector<std::string>
split_spans(std::string_view text, const std::vector<Span>& spans, SplitBehavior behavior) {
    // Pieces as byte ranges first, then the behavior's merging rule (tokenizers' semantics).
    struct Range {
        std::size_t b, e;
        bool delim;
    };
    std::vector<Range> all;
    std::size_t pos = 0;
    for (const Span& s : spans) {
        if (s.begin > pos)
            all.push_back({pos, s.begin, false});
        if (s.end > s.begin)
            all.push_back({s.begin, s.end, s.delimiter});
        pos = s.end;
    }
    if (pos < text.size())
        all.push_back({pos, text.size(), false});

    std::vector<Range> out;
    switch (behavior) {
    case SplitBehavior::Removed:
        for (const Range& r : all)
            if (!r.delim)
                out.push_back(r);
        break;
    case SplitBehavior::Isolated:
        out = all;
        break;
    case SplitBehavior::Contiguous: {
        bool prev_delim = false;
        for (const Range& r : all) {
            if (r.delim && prev_delim && !out.empty())
                out.back().e = r.e;
            else
                out.push_back(r);
            prev_delim = r.delim;
        }
        break;
    }
    case SplitBehavior::MergedWithPrevious: {
        bool prev_delim = false;
        for (const Range& r : all) {
            if (r.delim && !prev_delim && !out.empty())
                out.back().e = r.e;
            else
                out.push_back(r);
            prev_delim = r.delim;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool next_delim = false;
        for (auto it = all.rbegin(); it != all.rend(); ++it) {
            if (it->delim && !next_delim && !out.empty())
                out.back().b = it->b;
            else
                out.push_back(*it);
            next_delim = it->delim;
        }
        std::reverse(out.begin(), out.end());
        break;
    }
    }
    std::vector<std::string> pieces;
    pieces.reserve(out.size());
    for (const Range& r : out)
        if (r.e > r.b)
            pieces.emplace_back(text.substr(r.b, r.e - r.b));
    return pieces;
}

namespace {

// Applies `split_one` to every piece and splices the results in order.
template <class F> void split_each(std::vector<std::string>& pieces, F&& split_one) {
    std::vector<std::string> out;
    out.reserve(pieces.size() * 4);
    for (const std::string& p : pieces)
        split_one(p, out);
    pieces.swap(out);
}

class ByteLevelPre final : public PreTokenizer {
public:
    ByteLevelPre(bool add_prefix_space, bool use_regex)
        : add_prefix_space_(add_prefix_space), use_regex_(use_regex),
          known_(known_splits_disabled() ? KnownSplit::None : KnownSplit::Gpt2),
          regex_(translate_js_pattern(kGpt2SplitPattern), "ByteLevel") {}
    void split(std::vector<std::string>& pieces, bool) const override {
        split_each(pieces, [&](const std::string& p, std::vector<std::string>& out) {
            std::string text = p;
            if (add_prefix_space_ && (text.empty() || text[0] != ' '))
                text.insert(text.begin(), ' ');
            if (!use_regex_) {
                out.push_back(byte_level_encode(text));
                return;
            }
            const auto emit = [&](std::size_t b, std::size_t e) {
                out.push_back(byte_level_encode(std::string_view(text).substr(b, e - b)));
            };
            if (known_ != KnownSplit::None)
                for_each_known_split(known_, text, emit);
            else
                regex_.for_each_match(text, emit);
        });
    }

private:
    bool add_prefix_space_, use_regex_;
    KnownSplit known_;
    Regex regex_;
};

class SplitPre final : public PreTokenizer {
public:
    SplitPre(Regex pattern, KnownSplit known, SplitBehavior behavior, bool invert)
        : pattern_(std::move(pattern)), known_(known), behavior_(behavior), invert_(invert) {}
    void split(std::vector<std::string>& pieces, bool) const override {
        split_each(pieces, [&](const std::string& p, std::vector<std::string>& out) {
            std::vector<Span> spans;
            std::size_t pos = 0;
            const auto collect = [&](std::size_t b, std::size_t e) {
                if (invert_ && b > pos)
                    spans.push_back({pos, b, true});
                spans.push_back({b, e, !invert_});
                pos = e;
            };
            if (known_ != KnownSplit::None)
                for_each_known_split(known_, p, collect);
            else
                pattern_.for_each_match(p, collect);
            if (invert_ && pos < p.size())
                spans.push_back({pos, p.size(), true});
            for (auto& s : split_spans(p, spans, behavior_))
                out.push_back(std::move(s));
        });
    }

private:
    Regex pattern_;
    KnownSplit known_;
    SplitBehavior behavior_;
    bool invert_;
};

class DigitsPre final : public PreTokenizer {
public:
    explicit DigitsPre(bool individual) : individual_(individual) {}
    void split(std::vector<std::string>& pieces, bool) const override {
        split_each(pieces, [&](const std::string& p, std::vector<std::string>& out) {
            std::vector<Span> spans;
            for (std::size_t i = 0; i < p.size(); ++i)
                if (p[i] >= '0' && p[i] <= '9')
                    spans.push_back({i, i + 1, true});
            for (auto& s : split_spans(
                     p, spans, individual_ ? SplitBehavior::Isolated : SplitBehavior::Contiguous))
                out.push_back(std::move(s));
        });
    }

private:
    bool individual_;
};

enum class PrependScheme { Always, First, Never };

class MetaspacePre final : public PreTokenizer {
public:
    MetaspacePre(std::string replacement, PrependScheme scheme, bool split)
        : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
    void split(std::vector<std::string>& pieces, bool first_section) const override {
        split_each(pieces, [&](const std::string& p, std::vector<std::string>& out) {
            std::string text;
            text.reserve(p.size() + 8);
            for (char c : p) {
                if (c == ' ')
                    text += replacement_;
                else
                    text += c;
            }
            const bool prepend = scheme_ == PrependScheme::Always ||
                                 (scheme_ == PrependScheme::First && first_section);
            if (prepend && text.compare(0, replacement_.size(), replacement_) != 0)
                text.insert(0, replacement_);
            if (!split_) {
                out.push_back(std::move(text));
                return;
            }
            std::vector<Span> spans;
            for (std::size_t at = text.find(replacement_); at != std::string::npos;
                 at = text.find(replacement_, at + replacement_.size()))
                spans.push_back({at, at + replacement_.size(), true});
            for (auto& s : split_spans(text, spans, SplitBehavior::MergedWithNext))
                out.push_back(std::move(s));
        });
    }

private:
    std::string replacement_;
    PrependScheme scheme_;
    bool split_;
};

// Whitespace: \w+|[^\w\s]+ ; WhitespaceSplit: split on whitespace, dropping it.
class WhitespacePre final : public PreTokenizer {
public:
    explicit WhitespacePre(bool words)
        : regex_(translate_js_pattern(words ? "\\w+|[^\\w\\s]+" : "\\S+"),
                 words ? "Whitespace" : "WhitespaceSplit") {}
    void split(std::vector<std::string>& pieces, bool) const override {
        split_each(pieces, [&](const std::string& p, std::vector<std::string>& out) {
            regex_.for_each_match(
                p, [&](std::size_t b, std::size_t e) { out.emplace_back(p.substr(b, e - b)); });
        });
    }

private:
    Regex regex_;
};

class SequencePre final : public PreTokenizer {
public:
    explicit SequencePre(std::vector<std::unique_ptr<PreTokenizer>> parts)
        : parts_(std::move(parts)) {}
    void split(std::vector<std::string>& pieces, bool first_section) const override {
        for (const auto& p : parts_)
            p->split(pieces, first_section);
    }

private:
    std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

SplitBehavior parse_behavior(const json& v, const std::string& where) {
    const std::string b = v.is_string() ? v.get<std::string>() : std::string();
    if (b == "Removed")
        return SplitBehavior::Removed;
    if (b == "Isolated")
        return SplitBehavior::Isolated;
    if (b == "MergedWithPrevious")
        return SplitBehavior::MergedWithPrevious;
    if (b == "MergedWithNext")
        return SplitBehavior::MergedWithNext;
    if (b == "Contiguous")
        return SplitBehavior::Contiguous;
    throw FormatError(where + ": unknown behavior '" + b +
                      "' (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
}

bool bool_field(const json& c, const char* key, bool fallback, const std::string& where) {
    if (!c.contains(key) || c[key].is_null())
        return fallback;
    if (!c[key].is_boolean())
        throw FormatError(where + ": \"" + key + "\" must be true or false");
    return c[key].get<bool>();
}

} // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json& config, const std::string& where) {
    if (config.is_null())
        return nullptr;
    const std::string type = component_type(config, "pre_tokenizer", where);
    const std::string here = where + ": pre_tokenizer " + type;
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelPre>(bool_field(config, "add_prefix_space", true, here),
                                              bool_field(config, "use_regex", true, here));
    if (type == "Split") {
        const json pattern = config.value("pattern", json());
        KnownSplit known = KnownSplit::None;
        if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string() &&
            !known_splits_disabled())
            known = known_split_of(pattern["Regex"].get<std::string>());
        return std::make_unique<SplitPre>(pattern_from_json(pattern, here), known,
                                          parse_behavior(config.value("behavior", json()), here),
                                          bool_field(config, "invert", false, here));
    }
    if (type == "Digits")
        return std::make_unique<DigitsPre>(bool_field(config, "individual_digits", false, here));
    if (type == "Metaspace") {
        std::string replacement = "\xE2\x96\x81"; // ▁
        if (config.contains("replacement")) {
            if (!config["replacement"].is_string() ||
                config["replacement"].get<std::string>().empty())
                throw FormatError(here + ": \"replacement\" must be a non-empty string");
            replacement = config["replacement"].get<std::string>();
        }
        // prepend_scheme wins; the legacy add_prefix_space maps to always / never.
        PrependScheme scheme = bool_field(config, "add_prefix_space", true, here)
                                   ? PrependScheme::Always
                                   : PrependScheme::Never;
        if (config.contains("prepend_scheme") && !config["prepend_scheme"].is_null()) {
            const std::string s = config["prepend_scheme"].is_string()
                                      ? config["prepend_scheme"].get<std::string>()
                                      : std::string();
            if (s == "always")
                scheme = PrependScheme::Always;
            else if (s == "first")
                scheme = PrependScheme::First;
            else if (s == "never")
                scheme = PrependScheme::Never;
            else
                throw FormatError(here + ": prepend_scheme must be always, first or never");
        }
        return std::make_unique<MetaspacePre>(std::move(replacement), scheme,
                                              bool_field(config, "split", true, here));
    }
    if (type == "Whitespace")
        return std::make_unique<WhitespacePre>(true);
    if (type == "WhitespaceSplit")
        return std::make_unique<WhitespacePre>(false);
    if (type == "Sequence") {
        return std::make_unique<SequencePre>(
            sequence_parts<PreTokenizer>(config, "pretokenizers", here, [&](const json& c) {
                return make_pre_tokenizer(c, where);
            }));
    }
    throw FormatError(where + ": unsupported pre_tokenizer type '" + type +
                      "' (supported: ByteLevel, Split, Digits, Metaspace, Whitespace, "
                      "WhitespaceSplit, Sequence)");
}

} // namespace slimtune::data
