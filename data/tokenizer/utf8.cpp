#include "data/tokenizer/utf8.h"

#include <utf8proc.h>

namespace slimtune::data {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

// The WHATWG decoder's bounds for the byte after a lead byte; subsequent bytes are 80..BF.
struct LeadInfo {
    int needed; // continuation bytes still to come, -1 for a byte that can never start a sequence
    unsigned char lower, upper;
};

LeadInfo lead_info(unsigned char b) {
    if (b < 0x80)
        return {0, 0x80, 0xBF};
    if (b >= 0xC2 && b <= 0xDF)
        return {1, 0x80, 0xBF};
    if (b == 0xE0)
        return {2, 0xA0, 0xBF};
    if (b == 0xED)
        return {2, 0x80, 0x9F};
    if (b >= 0xE1 && b <= 0xEF)
        return {2, 0x80, 0xBF};
    if (b == 0xF0)
        return {3, 0x90, 0xBF};
    if (b == 0xF4)
        return {3, 0x80, 0x8F};
    if (b >= 0xF1 && b <= 0xF3)
        return {3, 0x80, 0xBF};
    return {-1, 0, 0};
}

// Length of the well-formed sequence at s[i], or 0 with `consumed` set to the bytes the WHATWG
// decoder swallows before emitting one U+FFFD (the offending byte itself is not consumed unless
// it is a bad lead byte).
std::size_t sequence_length(std::string_view s, std::size_t i, std::size_t& consumed) {
    const auto b = static_cast<unsigned char>(s[i]);
    const LeadInfo info = lead_info(b);
    if (info.needed < 0) {
        consumed = 1;
        return 0;
    }
    std::size_t j = i + 1;
    unsigned char lower = info.lower, upper = info.upper;
    for (int k = 0; k < info.needed; ++k, ++j) {
        if (j >= s.size()) {
            consumed = j - i;
            return 0;
        }
        const auto c = static_cast<unsigned char>(s[j]);
        if (c < lower || c > upper) {
            consumed = j - i;
            return 0;
        }
        lower = 0x80;
        upper = 0xBF;
    }
    return j - i;
}

} // namespace

char32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
        ++i;
        return b;
    }
    const int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
    char32_t cp = b & (0x3F >> extra);
    if (i + static_cast<std::size_t>(extra) >= s.size()) {
        i = s.size();
        return kReplacement;
    }
    ++i;
    for (int k = 0; k < extra; ++k, ++i)
        cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::size_t code_point_count(std::string_view s) {
    std::size_t n = 0;
    for (char c : s)
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

bool is_valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        std::size_t consumed = 0;
        const std::size_t len = sequence_length(s, i, consumed);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

std::string sanitize_utf8(std::string_view s, std::size_t* replaced) {
    std::size_t count = 0;
    if (is_valid_utf8(s)) {
        if (replaced)
            *replaced = 0;
        return std::string(s);
    }
    std::string out;
    out.reserve(s.size() + 8);
    for (std::size_t i = 0; i < s.size();) {
        std::size_t consumed = 0;
        const std::size_t len = sequence_length(s, i, consumed);
        if (len > 0) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            append_utf8(out, kReplacement);
            ++count;
            i += consumed;
        }
    }
    if (replaced)
        *replaced = count;
    return out;
}

bool is_js_whitespace(char32_t cp) {
    switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

bool is_letter(char32_t cp) {
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return true;
    default:
        return false;
    }
}

bool is_number(char32_t cp) {
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

bool is_word_char(char32_t cp) {
    return cp == '_' || is_letter(cp) || is_number(cp);
}

} // namespace slimtune::data
