#include "data/tokenizer/normalizer.h"

#include "common/error.h"
#include "data/tokenizer/json_parts.h"
#include "data/tokenizer/regex.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utf8proc.h>
#include <vector>

namespace slimtune::data {

using nlohmann::json;

std::string unicode_normalize(std::string_view text, UnicodeForm form) {
    int options = UTF8PROC_STABLE;
    switch (form) {
    case UnicodeForm::NFC:
        options |= UTF8PROC_COMPOSE;
        break;
    case UnicodeForm::NFD:
        options |= UTF8PROC_DECOMPOSE;
        break;
    case UnicodeForm::NFKC:
        options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
    case UnicodeForm::NFKD:
        options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
    // ASCII is invariant under every form: skip the library call.
    bool ascii = true;
    for (char c : text)
        ascii &= static_cast<unsigned char>(c) < 0x80;
    if (ascii)
        return std::string(text);
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &out,
                                            static_cast<utf8proc_option_t>(options));
    if (n < 0)
        throw Error(std::string("unicode normalization failed: ") + utf8proc_errmsg(n));
    std::string result(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
    std::free(out);
    return result;
}

namespace {

// Unicode's Cased and Case_Ignorable properties, as far as utf8proc exposes them: cased letters
// plus anything with a case mapping; Mn/Me/Cf/Lm/Sk plus the Word_Break MidLetter, MidNumLet and
// Single_Quote characters.
bool is_cased(char32_t cp) {
    const auto c = static_cast<utf8proc_int32_t>(cp);
    const auto cat = utf8proc_category(c);
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

bool is_case_ignorable(char32_t cp) {
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    constexpr std::array<char32_t, 16> mid = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x5F4,
                                              0x2018, 0x2019, 0x2024, 0x2027, 0xFE13, 0xFE52,
                                              0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    return std::find(mid.begin(), mid.end(), cp) != mid.end();
}

// Start of the code point that ends just before byte `i` (valid UTF-8, i > 0).
std::size_t previous_start(std::string_view s, std::size_t i) {
    do
        --i;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80);
    return i;
}

bool final_sigma_at(std::string_view s, std::size_t begin, std::size_t end) {
    bool cased_before = false;
    for (std::size_t i = begin; i > 0;) {
        i = previous_start(s, i);
        std::size_t next = i;
        const char32_t cp = next_code_point(s, next);
        if (is_case_ignorable(cp))
            continue;
        cased_before = is_cased(cp);
        break;
    }
    if (!cased_before)
        return false;
    for (std::size_t i = end; i < s.size();) {
        const char32_t cp = next_code_point(s, i);
        if (is_case_ignorable(cp))
            continue;
        return !is_cased(cp);
    }
    return true;
}

} // namespace

bool is_final_sigma(std::string_view text, std::size_t begin, std::size_t end) {
    return final_sigma_at(text, begin, end);
}

std::string to_lower(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t begin = i;
        const char32_t cp = next_code_point(text, i);
        if (cp == 0x130) { // İ lowercases to i + combining dot above
            append_utf8(out, 'i');
            append_utf8(out, 0x307);
        } else if (cp == 0x3A3) {
            append_utf8(out, final_sigma_at(text, begin, i) ? 0x3C2 : 0x3C3);
        } else {
            append_utf8(out,
                        static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
        }
    }
    return out;
}

std::string strip_marks(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(text, i);
        const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
        if (cat != UTF8PROC_CATEGORY_MN && cat != UTF8PROC_CATEGORY_MC &&
            cat != UTF8PROC_CATEGORY_ME)
            out.append(text.substr(start, i - start));
    }
    return out;
}

std::string_view trim_js(std::string_view text, bool left, bool right) {
    std::size_t b = 0, e = text.size();
    if (left) {
        while (b < e) {
            std::size_t i = b;
            if (!is_js_whitespace(next_code_point(text, i)))
                break;
            b = i;
        }
    }
    if (right) {
        while (e > b) {
            std::size_t s = e - 1;
            while (s > b && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80)
                --s;
            std::size_t i = s;
            if (!is_js_whitespace(next_code_point(text, i)))
                break;
            e = s;
        }
    }
    return text.substr(b, e - b);
}

namespace {

class FormNormalizer final : public Normalizer {
public:
    explicit FormNormalizer(UnicodeForm f) : form_(f) {}
    std::string normalize(std::string_view t) const override { return unicode_normalize(t, form_); }

private:
    UnicodeForm form_;
};

class LowercaseNormalizer final : public Normalizer {
public:
    std::string normalize(std::string_view t) const override { return to_lower(t); }
};

class StripAccentsNormalizer final : public Normalizer {
public:
    std::string normalize(std::string_view t) const override { return strip_marks(t); }
};

class StripNormalizer final : public Normalizer {
public:
    StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
    std::string normalize(std::string_view t) const override {
        return std::string(trim_js(t, left_, right_));
    }

private:
    bool left_, right_;
};

class PrependNormalizer final : public Normalizer {
public:
    explicit PrependNormalizer(std::string p) : prepend_(std::move(p)) {}
    std::string normalize(std::string_view t) const override {
        // Rust's Prepend leaves an empty string empty; transformers.js never sees one (empty
        // sections are skipped before normalization).
        if (t.empty())
            return {};
        return prepend_ + std::string(t);
    }

private:
    std::string prepend_;
};

class SequenceNormalizer final : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
        : parts_(std::move(parts)) {}
    std::string normalize(std::string_view t) const override {
        std::string s(t);
        for (const auto& p : parts_)
            s = p->normalize(s);
        return s;
    }
    double replace_growth() const override {
        double g = 1;
        for (const auto& p : parts_)
            g *= p->replace_growth();
        return g;
    }

private:
    std::vector<std::unique_ptr<Normalizer>> parts_;
};

} // namespace

class ReplaceNormalizer final : public Normalizer {
public:
    ReplaceNormalizer(Regex pattern, std::string content, double growth)
        : pattern_(std::move(pattern)), content_(std::move(content)), growth_(growth) {}
    std::string normalize(std::string_view t) const override {
        return pattern_.replace_all(t, content_);
    }
    double replace_growth() const override { return growth_; }

private:
    Regex pattern_;
    std::string content_;
    double growth_;
};

std::unique_ptr<Normalizer> make_normalizer(const json& config, const std::string& where) {
    if (config.is_null())
        return nullptr;
    const std::string type = component_type(config, "normalizer", where);
    const std::string here = where + ": normalizer " + type;
    if (type == "NFC")
        return std::make_unique<FormNormalizer>(UnicodeForm::NFC);
    if (type == "NFD")
        return std::make_unique<FormNormalizer>(UnicodeForm::NFD);
    if (type == "NFKC")
        return std::make_unique<FormNormalizer>(UnicodeForm::NFKC);
    if (type == "NFKD")
        return std::make_unique<FormNormalizer>(UnicodeForm::NFKD);
    if (type == "Lowercase")
        return std::make_unique<LowercaseNormalizer>();
    if (type == "StripAccents")
        return std::make_unique<StripAccentsNormalizer>();
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(config.value("strip_left", true),
                                                 config.value("strip_right", true));
    if (type == "Prepend") {
        if (!config.contains("prepend") || !config["prepend"].is_string())
            throw FormatError(here + ": missing string \"prepend\"");
        return std::make_unique<PrependNormalizer>(config["prepend"].get<std::string>());
    }
    if (type == "Replace") {
        if (!config.contains("content") || !config["content"].is_string())
            throw FormatError(here + ": missing string \"content\"");
        const json pattern = config.value("pattern", json());
        const std::string content = config["content"].get<std::string>();
        const double growth = replace_growth(pattern, content);
        check_replace_growth(growth, here);
        return std::make_unique<ReplaceNormalizer>(pattern_from_json(pattern, here), content,
                                                   growth);
    }
    if (type == "Sequence") {
        auto seq = std::make_unique<SequenceNormalizer>(sequence_parts<Normalizer>(
            config, "normalizers", here, [&](const json& c) { return make_normalizer(c, where); }));
        check_replace_growth(seq->replace_growth(), here);
        return seq;
    }
    throw FormatError(where + ": unsupported normalizer type '" + type +
                      "' (supported: NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, "
                      "Prepend, Replace, Sequence)");
}

} // namespace slimtune::data
