#include "data/tokenizer/known_splits.h"

#include "data/tokenizer/utf8.h"

#include <cstdlib>
#include <cstring>

namespace slimtune::data {

namespace {

constexpr std::string_view kGpt2 =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kLlama3 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kQwen2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

enum Class : unsigned char { kOther, kLetter, kNumber, kSpace };

Class classify(char32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return kLetter;
        if (cp >= '0' && cp <= '9')
            return kNumber;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D))
            return kSpace;
        return kOther;
    }
    if (is_js_whitespace(cp))
        return kSpace;
    if (is_letter(cp))
        return kLetter;
    return is_number(cp) ? kNumber : kOther;
}

// The text as code points with their classes and byte offsets, decoded once.
struct Scan {
    std::string_view text;
    // Class and end offset of the character at byte offset p (p < size).
    Class at(std::size_t p, std::size_t& next) const {
        next = p;
        return classify(next_code_point(text, next));
    }
    bool is_cr_lf(std::size_t p) const { return text[p] == '\r' || text[p] == '\n'; }
    // End of the run of characters of class c starting at p.
    std::size_t run(std::size_t p, Class c) const {
        while (p < text.size()) {
            std::size_t n;
            if (at(p, n) != c)
                break;
            p = n;
        }
        return p;
    }
    // Start offset of the character that ends at e (e > 0).
    std::size_t prev_start(std::size_t e) const {
        std::size_t s = e - 1;
        while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80)
            --s;
        return s;
    }
};

// 's 't 're 've 'm 'll 'd at p; case-insensitive (ASCII only, as transformers.js spells it).
std::size_t contraction(std::string_view t, std::size_t p, bool caseless) {
    if (t[p] != '\'' || p + 1 >= t.size())
        return 0;
    auto low = [&](std::size_t i) -> char {
        const char c = t[i];
        return caseless && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    };
    const char a = low(p + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (p + 2 < t.size()) {
        const char b = low(p + 2);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return 3;
    }
    return 0;
}

// \s+(?!\S) then \s+ at p (p is whitespace): the run, less its last character when a
// non-space follows and the run is longer than one character.
std::size_t whitespace_tail(const Scan& s, std::size_t p) {
    const std::size_t end = s.run(p, kSpace);
    if (end == s.text.size())
        return end;
    const std::size_t last = s.prev_start(end);
    return last > p ? last : end;
}

std::size_t gpt2_match(const Scan& s, std::size_t p) {
    const std::string_view t = s.text;
    if (const std::size_t c = contraction(t, p, false))
        return p + c;
    std::size_t q = p, n;
    if (t[p] == ' ' && p + 1 < t.size())
        q = p + 1;
    for (int attempt = 0; attempt < 2; ++attempt) {
        // attempt 0: with the optional leading space (when there is one), 1: without.
        const std::size_t start = attempt == 0 ? q : p;
        if (attempt == 1 && start == q)
            break;
        const Class c = s.at(start, n);
        if (c == kLetter || c == kNumber)
            return s.run(start, c);
        if (c == kOther)
            return s.run(start, kOther);
    }
    return whitespace_tail(s, p);
}

std::size_t llama3_match(const Scan& s, std::size_t p, int max_digits) {
    const std::string_view t = s.text;
    if (const std::size_t c = contraction(t, p, true))
        return p + c;
    std::size_t n;
    const Class c = s.at(p, n);
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c == kLetter)
        return s.run(p, kLetter);
    if (c != kNumber && !s.is_cr_lf(p) && n < t.size()) {
        std::size_t n2;
        if (s.at(n, n2) == kLetter)
            return s.run(n, kLetter);
    }
    // \p{N}{1,max}
    if (c == kNumber) {
        std::size_t e = p;
        for (int k = 0; k < max_digits && e < t.size(); ++k) {
            std::size_t ne;
            if (s.at(e, ne) != kNumber)
                break;
            e = ne;
        }
        return e;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    std::size_t q = p;
    if (t[p] == ' ' && p + 1 < t.size())
        q = p + 1;
    for (std::size_t start : {q, p}) {
        std::size_t ns;
        if (s.at(start, ns) == kOther) {
            std::size_t e = s.run(start, kOther);
            while (e < t.size() && s.is_cr_lf(e))
                ++e;
            return e;
        }
        if (start == p)
            break;
    }
    // \s*[\r\n]+ : through the last CR/LF of the whitespace run.
    const std::size_t end = s.run(p, kSpace);
    for (std::size_t e = end; e > p; e = s.prev_start(e))
        if (s.is_cr_lf(s.prev_start(e)))
            return e;
    return whitespace_tail(s, p);
}

} // namespace

KnownSplit known_split_of(std::string_view pattern) {
    if (pattern == kGpt2)
        return KnownSplit::Gpt2;
    if (pattern == kLlama3)
        return KnownSplit::Llama3;
    if (pattern == kQwen2)
        return KnownSplit::Qwen2;
    return KnownSplit::None;
}

bool known_splits_disabled() {
    const char* v = std::getenv("SLIMTUNE_TOKENIZER_REGEX");
    return v && std::strcmp(v, "pcre2") == 0;
}

void for_each_known_split(KnownSplit kind,
                          std::string_view text,
                          const std::function<void(std::size_t, std::size_t)>& on_match) {
    const Scan s{text};
    for (std::size_t p = 0; p < text.size();) {
        const std::size_t e = kind == KnownSplit::Gpt2     ? gpt2_match(s, p)
                              : kind == KnownSplit::Llama3 ? llama3_match(s, p, 3)
                                                           : llama3_match(s, p, 1);
        on_match(p, e);
        p = e;
    }
}

} // namespace slimtune::data
