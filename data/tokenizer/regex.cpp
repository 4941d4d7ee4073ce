#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/tokenizer/regex.h"

#include "common/error.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <pcre2.h>

namespace slimtune::data {

namespace {

// JavaScript's \s members beyond ASCII, as a PCRE2 class body.
constexpr std::string_view kJsSpaceExtra =
    "\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";

std::string pcre2_message(int code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof buf);
    return reinterpret_cast<const char*>(buf);
}

} // namespace

std::string translate_js_pattern(std::string_view pattern) {
    std::string p(pattern);
    // transformers.js spells out the inline case-insensitive group that JavaScript lacks; doing
    // the same keeps e.g. U+017F (long s) from matching 's' under Unicode case folding.
    constexpr std::string_view kCaseless = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    constexpr std::string_view kSpelled = "(?:'([sS]|[tT]|[rR][eE]|[vV][eE]|[mM]|[lL][lL]|[dD]))";
    for (std::size_t at = p.find(kCaseless); at != std::string::npos;
         at = p.find(kCaseless, at + kSpelled.size()))
        p.replace(at, kCaseless.size(), kSpelled);

    std::string out;
    out.reserve(p.size() + 64);
    bool in_class = false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            const char e = p[i + 1];
            ++i;
            if (e == 's') {
                if (in_class) {
                    out += "\\s";
                    out += kJsSpaceExtra;
                } else {
                    out += "[\\s";
                    out += kJsSpaceExtra;
                    out += ']';
                }
            } else if (e == 'S') {
                if (in_class)
                    throw FormatError("regex '" + std::string(pattern) +
                                      "': \\S inside a character class is not supported");
                out += "[^\\s";
                out += kJsSpaceExtra;
                out += ']';
            } else {
                out += c;
                out += e;
            }
            continue;
        }
        if (in_class) {
            if (c == ']')
                in_class = false;
            out += c;
            continue;
        }
        if (c == '[') {
            in_class = true;
            out += c;
            // A ']' right after '[' or '[^' is a literal member, not the end of the class.
            if (i + 1 < p.size() && p[i + 1] == '^')
                out += p[++i];
            if (i + 1 < p.size() && p[i + 1] == ']')
                out += p[++i];
            continue;
        }
        if (c == '.') {
            out += "[^\\n\\r\\x{2028}\\x{2029}]";
            continue;
        }
        out += c;
    }
    return out;
}

struct Regex::Impl {
    pcre2_code* code = nullptr;
    bool jit = false;
    ~Impl() {
        if (code)
            pcre2_code_free(code);
    }
};

Regex::Regex(std::string_view pattern, std::string_view where)
    : pattern_(pattern), impl_(std::make_unique<Impl>()) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    // No PCRE2_UCP: \d and \w stay ASCII as in JavaScript; \p{..} classes are Unicode anyway.
    impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                                PCRE2_UTF | PCRE2_NO_UTF_CHECK | PCRE2_DOLLAR_ENDONLY, &err,
                                &offset, nullptr);
    if (!impl_->code)
        throw FormatError(std::string(where) + ": bad regex '" + pattern_ + "' at offset " +
                          std::to_string(offset) + ": " + pcre2_message(err));
    impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex Regex::literal(std::string_view text, std::string_view where) {
    std::string quoted = "\\Q";
    // \Q...\E cannot contain \E itself: close, emit it escaped, reopen.
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'E') {
            quoted += "\\E\\\\E\\Q";
            ++i;
        } else {
            quoted += text[i];
        }
    }
    quoted += "\\E";
    return Regex(quoted, where);
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

bool Regex::find(std::string_view subject,
                 std::size_t start,
                 std::size_t& match_begin,
                 std::size_t& match_end) const {
    // One match-data block per thread and call site; ovector size 1 pair is all we read.
    thread_local struct Data {
        pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
        ~Data() { pcre2_match_data_free(md); }
    } data;
    const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    const int rc = impl_->jit
                       ? pcre2_jit_match(impl_->code, s, subject.size(), start, 0, data.md, nullptr)
                       : pcre2_match(impl_->code, s, subject.size(), start, PCRE2_NO_UTF_CHECK,
                                     data.md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
        return false;
    if (rc < 0)
        throw Error("regex '" + pattern_ + "': match failed: " + pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.md);
    match_begin = ov[0];
    match_end = ov[1];
    return true;
}

void Regex::for_each_match(std::string_view subject,
                           const std::function<void(std::size_t, std::size_t)>& on_match) const {
    std::size_t pos = 0, b = 0, e = 0;
    while (pos <= subject.size() && find(subject, pos, b, e)) {
        if (e > b) {
            on_match(b, e);
            pos = e;
        } else {
            // Step past an empty match by one whole code point.
            pos = b + 1;
            while (pos < subject.size() &&
                   (static_cast<unsigned char>(subject[pos]) & 0xC0) == 0x80)
                ++pos;
        }
    }
}

std::string Regex::replace_all(std::string_view subject, std::string_view content) const {
    std::string out;
    std::size_t last = 0;
    for_each_match(subject, [&](std::size_t b, std::size_t e) {
        out.append(subject.substr(last, b - last));
        out.append(content);
        last = e;
    });
    out.append(subject.substr(last));
    return out;
}

double replace_growth(const nlohmann::json& pattern, std::string_view content) {
    double shortest = 1;
    if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
        shortest =
            std::max<double>(1, static_cast<double>(pattern["String"].get<std::string>().size()));
    return std::max(1.0, static_cast<double>(content.size()) / shortest);
}

namespace {

std::string format_growth(double growth) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", growth);
    return buf;
}

} // namespace

void check_replace_growth(double growth, const std::string& where) {
    if (growth > kMaxReplaceGrowth)
        throw FormatError(where + ": its Replace steps can make a text " + format_growth(growth) +
                          " times longer; at most " +
                          std::to_string(static_cast<int>(kMaxReplaceGrowth)) + " is accepted");
}

Regex pattern_from_json(const nlohmann::json& pattern, const std::string& where) {
    if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
        return Regex::literal(pattern["String"].get<std::string>(), where);
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string())
        return Regex(translate_js_pattern(pattern["Regex"].get<std::string>()), where);
    throw FormatError(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
}

} // namespace slimtune::data
