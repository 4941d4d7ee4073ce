// A compiled regular expression for tokenizer patterns (Split pre-tokenizer, Replace
// normalizer/decoder, ByteLevel's built-in pattern), on PCRE2 with UTF and JIT.
//
// Patterns in tokenizer.json are written for Rust's Oniguruma; the reference encoder for
// slimtune is transformers.js, which runs them as JavaScript `u` regexes. translate_js_pattern
// rewrites a pattern so that PCRE2 gives JavaScript's answers: \s and \S use JavaScript's
// whitespace set, `.` excludes JavaScript's line terminators, and the case-insensitive
// contraction group is spelled out as transformers.js does. \d and \w stay ASCII (as in JS).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace slimtune::data {

std::string translate_js_pattern(std::string_view pattern);

class Regex;
// A tokenizer.json pattern, {"String": "..."} (literal) or {"Regex": "..."} (translated with
// translate_js_pattern). Throws FormatError naming `where` for anything else.
// How many times longer a text can get through the Replace of `pattern` (as pattern_from_json
// takes it) and `content`: content's length over the shortest match (a literal's length; 1 for
// a regex, whose matches are never empty). At least 1.
double replace_growth(const nlohmann::json& pattern, std::string_view content);
// The most a chain of Replace steps (in one normalizer or decoder, Sequences multiplied through)
// may grow a text. A Metaspace-style " " -> U+2581 is 3; a 1 KB tokenizer.json of chained
// expanding Replaces made a short text 10^10 times longer, so such a chain is refused at load.
inline constexpr double kMaxReplaceGrowth = 64;
// FormatError "<where>: its Replace steps can make a text G times longer; at most 64 is
// accepted" when growth > kMaxReplaceGrowth.
void check_replace_growth(double growth, const std::string& where);

Regex pattern_from_json(const nlohmann::json& pattern, const std::string& where);

class Regex {
public:
    // `pattern` is used as written (call translate_js_pattern first for tokenizer.json
    // patterns). Throws FormatError naming `where` when PCRE2 rejects it.
    Regex(std::string_view pattern, std::string_view where);
    static Regex literal(std::string_view text, std::string_view where);
    ~Regex();
    Regex(Regex&&) noexcept;
    Regex& operator=(Regex&&) noexcept;

    // Finds the first match at or after byte `start` of valid UTF-8 `subject`; returns false
    // when there is none. Empty matches are reported (callers decide how to step past them).
    bool find(std::string_view subject,
              std::size_t start,
              std::size_t& match_begin,
              std::size_t& match_end) const;

    // Calls `on_match(begin, end)` for every non-overlapping non-empty match, left to right
    // (empty matches are stepped over by one code point, as JavaScript's matchAll does).
    void for_each_match(std::string_view subject,
                        const std::function<void(std::size_t, std::size_t)>& on_match) const;

    // Every match replaced by `content` (no group references, as in tokenizers' Replace).
    std::string replace_all(std::string_view subject, std::string_view content) const;

    const std::string& pattern() const { return pattern_; }

private:
    struct Impl;
    std::string pattern_;
    std::unique_ptr<Impl> impl_;
};

} // namespace slimtune::data
