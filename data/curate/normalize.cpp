#include "data/curate/normalize.h"

#include "common/error.h"
#include "data/tokenizer/normalizer.h"
#include "data/tokenizer/utf8.h"

#include <utf8proc.h>

namespace slimtune::data::curate {

namespace {

bool is_removed_control(char32_t cp) {
    if (cp == U'\t' || cp == U'\n')
        return false;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
        return true;
    return cp == 0x200B || cp == 0x2060 || cp == 0xFEFF || cp == 0x00AD;
}

// Horizontal whitespace that becomes ' ' (LF, CR and the line/paragraph separators are handled
// as line ends).
bool is_space(char32_t cp) {
    return cp == U' ' || cp == U'\t' || cp == 0x0B || cp == 0x0C ||
           (cp != U'\n' && cp != U'\r' && cp != 0x2028 && cp != 0x2029 && cp != 0x85 &&
            is_js_whitespace(cp) && cp != 0xFEFF);
}

// Step 4 (and CR line ends, step 3, when whitespace is not normalised).
std::string strip_controls(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(s, i);
        if (!is_removed_control(cp) || cp == U'\r')
            out.append(s.substr(start, i - start));
    }
    return out;
}

// Steps 3 and 5: one pass that holds back spaces and line breaks until the next visible
// character shows whether they are inner (kept, collapsed) or trailing (dropped). A line's
// indentation is kept as it is (code), other runs become one space.
std::string normalize_whitespace(std::string_view s) {
    std::string out, indent;
    out.reserve(s.size());
    std::size_t spaces = 0, newlines = 0;
    bool line_start = true;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(s, i);
        if (cp == U'\r' || cp == U'\n' || cp == 0x2028 || cp == 0x2029 || cp == 0x85) {
            if (cp == U'\r' && i < s.size() && s[i] == '\n')
                ++i; // CRLF is one line end
            spaces = 0;
            indent.clear();
            ++newlines;
            line_start = true;
            continue;
        }
        if (is_space(cp)) {
            if (line_start)
                indent.push_back(cp == U'\t' ? '\t' : ' ');
            ++spaces;
            continue;
        }
        if (!out.empty()) {
            out.append(std::min<std::size_t>(newlines, 2), '\n');
            if (line_start && newlines > 0)
                out += indent;
            else if (spaces > 0)
                out.push_back(' ');
        }
        spaces = newlines = 0;
        indent.clear();
        line_start = false;
        out.append(s.substr(start, i - start));
    }
    return out;
}

} // namespace

void check_normalize_config(const NormalizeConfig& c) {
    if (c.unicode_form != "nfc" && c.unicode_form != "nfkc" && c.unicode_form != "none")
        throw ConfigError("curate.normalize.unicode_form is '" + c.unicode_form +
                          "'; expected nfc, nfkc or none");
    if (c.invalid_utf8 != "repair" && c.invalid_utf8 != "drop")
        throw ConfigError("curate.normalize.invalid_utf8 is '" + c.invalid_utf8 +
                          "'; expected repair or drop");
}

NormalizeResult normalize_text(std::string_view text, const NormalizeConfig& c) {
    NormalizeResult r;
    if (!c.enabled) {
        r.text = std::string(text);
        return r;
    }
    std::string s;
    if (is_valid_utf8(text)) {
        s = std::string(text);
    } else {
        r.invalid_utf8 = true;
        std::size_t replaced = 0;
        s = sanitize_utf8(text, &replaced);
        r.replaced = static_cast<std::int64_t>(replaced);
    }
    if (c.unicode_form != "none") {
        std::string n =
            unicode_normalize(s, c.unicode_form == "nfkc" ? UnicodeForm::NFKC : UnicodeForm::NFC);
        r.changed_form = n != s;
        s = std::move(n);
    }
    if (c.strip_control) {
        std::string stripped = strip_controls(s);
        r.removed_control = stripped.size() != s.size();
        s = std::move(stripped);
    }
    std::string cleaned = c.normalize_whitespace ? normalize_whitespace(s) : s;
    r.changed_whitespace = cleaned != s;
    r.text = std::move(cleaned);
    return r;
}

} // namespace slimtune::data::curate
