#include "data/tokenizer/decoder.h"

#include "common/error.h"
#include "data/tokenizer/json_parts.h"
#include "data/tokenizer/pre_tokenizer.h"
#include "data/tokenizer/regex.h"
#include "data/tokenizer/utf8.h"

#include <nlohmann/json.hpp>

namespace slimtune::data {

using nlohmann::json;

namespace {

// Byte-level tokens back to text; runs of ordinary tokens are joined before the UTF-8 decode so
// that a character split across tokens comes back whole. Added tokens pass through verbatim.
class ByteLevelDecoder final : public Decoder {
public:
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>& is_added) const override {
        std::vector<std::string> out;
        std::string bytes;
        auto flush = [&] {
            if (!bytes.empty())
                out.push_back(sanitize_utf8(bytes));
            bytes.clear();
        };
        for (std::size_t t = 0; t < tokens.size(); ++t) {
            if (t < is_added.size() && is_added[t]) {
                flush();
                out.push_back(std::move(tokens[t]));
                continue;
            }
            const std::string& tok = tokens[t];
            for (std::size_t i = 0; i < tok.size();) {
                const std::size_t b = i;
                const int byte = unicode_to_byte(next_code_point(tok, i));
                if (byte >= 0)
                    bytes.push_back(static_cast<char>(byte));
                else
                    bytes.append(tok, b, i - b); // not a byte-level character: keep as is
            }
        }
        flush();
        return out;
    }
};

// <0xNN> tokens back to bytes; consecutive ones are decoded together as UTF-8 (ill-formed
// bytes become U+FFFD, maximal-subpart rule).
class ByteFallbackDecoder final : public Decoder {
public:
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>&) const override {
        std::vector<std::string> out;
        std::string bytes;
        for (std::string& t : tokens) {
            int value = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                auto hex = [](char c) {
                    if (c >= '0' && c <= '9')
                        return c - '0';
                    if (c >= 'A' && c <= 'F')
                        return c - 'A' + 10;
                    if (c >= 'a' && c <= 'f')
                        return c - 'a' + 10;
                    return -1;
                };
                const int hi = hex(t[3]), lo = hex(t[4]);
                if (hi >= 0 && lo >= 0)
                    value = hi * 16 + lo;
            }
            if (value >= 0) {
                bytes.push_back(static_cast<char>(value));
                continue;
            }
            if (!bytes.empty()) {
                out.push_back(sanitize_utf8(bytes));
                bytes.clear();
            }
            out.push_back(std::move(t));
        }
        if (!bytes.empty())
            out.push_back(sanitize_utf8(bytes));
        return out;
    }
};

class FuseDecoder final : public Decoder {
public:
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>&) const override {
        std::string all;
        for (const auto& t : tokens)
            all += t;
        return {std::move(all)};
    }
};

// Removes up to `start` leading and `stop` trailing copies of the character `content`.
class StripDecoder final : public Decoder {
public:
    StripDecoder(std::string content, int start, int stop)
        : content_(std::move(content)), start_(start), stop_(stop) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>&) const override {
        for (std::string& t : tokens) {
            std::size_t b = 0, e = t.size();
            for (int i = 0; i < start_ && e - b >= content_.size() &&
                            t.compare(b, content_.size(), content_) == 0;
                 ++i)
                b += content_.size();
            for (int i = 0; i < stop_ && e - b >= content_.size() &&
                            t.compare(e - content_.size(), content_.size(), content_) == 0;
                 ++i)
                e -= content_.size();
            t = t.substr(b, e - b);
        }
        return tokens;
    }

private:
    std::string content_;
    int start_, stop_;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(Regex pattern, std::string content, double growth)
        : pattern_(std::move(pattern)), content_(std::move(content)), growth_(growth) {}
    double replace_growth() const override { return growth_; }
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>&) const override {
        for (std::string& t : tokens)
            t = pattern_.replace_all(t, content_);
        return tokens;
    }

private:
    Regex pattern_;
    std::string content_;
    double growth_;
};

// Replacement character back to spaces; the first token loses the space Metaspace prepended.
class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(std::string replacement, bool strip_first)
        : replacement_(std::move(replacement)), strip_first_(strip_first) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>&) const override {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            std::string s;
            const std::string& t = tokens[i];
            for (std::size_t at = 0; at < t.size();) {
                if (t.compare(at, replacement_.size(), replacement_) == 0) {
                    s += ' ';
                    at += replacement_.size();
                } else {
                    s += t[at++];
                }
            }
            if (i == 0 && strip_first_ && !s.empty() && s[0] == ' ')
                s.erase(0, 1);
            tokens[i] = std::move(s);
        }
        return tokens;
    }

private:
    std::string replacement_;
    bool strip_first_;
};

class SequenceDecoder final : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
        : parts_(std::move(parts)) {}
    std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                          const std::vector<bool>& is_added) const override {
        // Only the first decoder sees tokens 1:1; later ones get whatever the chain made.
        bool first = true;
        for (const auto& p : parts_) {
            tokens = p->decode_chain(std::move(tokens), first ? is_added : std::vector<bool>{});
            first = false;
        }
        return tokens;
    }
    double replace_growth() const override {
        double g = 1;
        for (const auto& p : parts_)
            g *= p->replace_growth();
        return g;
    }

private:
    std::vector<std::unique_ptr<Decoder>> parts_;
};

std::string string_field(const json& c, const char* key, const std::string& where) {
    if (!c.contains(key) || !c[key].is_string())
        throw FormatError(where + ": missing string \"" + key + "\"");
    return c[key].get<std::string>();
}

} // namespace

std::unique_ptr<Decoder> make_decoder(const json& config, const std::string& where) {
    if (config.is_null())
        return nullptr;
    const std::string type = component_type(config, "decoder", where);
    const std::string here = where + ": decoder " + type;
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback")
        return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse")
        return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        const int start = config.value("start", 0), stop = config.value("stop", 0);
        return std::make_unique<StripDecoder>(string_field(config, "content", here), start, stop);
    }
    if (type == "Replace") {
        const json pattern = config.value("pattern", json());
        const std::string content = string_field(config, "content", here);
        const double growth = replace_growth(pattern, content);
        check_replace_growth(growth, here);
        return std::make_unique<ReplaceDecoder>(pattern_from_json(pattern, here), content, growth);
    }
    if (type == "Metaspace") {
        const std::string replacement = config.contains("replacement")
                                            ? string_field(config, "replacement", here)
                                            : "\xE2\x96\x81";
        bool strip = config.value("add_prefix_space", true);
        if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string())
            strip = config["prepend_scheme"].get<std::string>() != "never";
        return std::make_unique<MetaspaceDecoder>(replacement, strip);
    }
    if (type == "Sequence") {
        auto seq = std::make_unique<SequenceDecoder>(sequence_parts<Decoder>(
            config, "decoders", here, [&](const json& c) { return make_decoder(c, where); }));
        check_replace_growth(seq->replace_growth(), here);
        return seq;
    }
    throw FormatError(where + ": unsupported decoder type '" + type +
                      "' (supported: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, "
                      "Sequence)");
}

} // namespace slimtune::data
