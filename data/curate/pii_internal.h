// Helpers shared by pii.cpp and pii_validate.cpp: candidate kinds, byte classes (not public API).
#pragma once

#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace slimtune::data::curate::pii_detail {

// Built-in kinds in tie-break order (a more specific, checksum-validated type first); extra
// pattern i is kind kExtraBase + i.
enum Kind : int { kEmail, kCard, kIban, kSsn, kIp, kDob, kPhone, kExtraBase };

struct Candidate {
    std::size_t begin, end;
    int kind;
};

inline bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
inline bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
inline bool is_alpha(char c) {
    return is_upper(c) || (c >= 'a' && c <= 'z');
}
inline bool is_alnum(char c) {
    return is_digit(c) || is_alpha(c);
}
inline char lower(char c) {
    return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
inline bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Whether a letter, number or '_' code point starts at byte i / ends right before byte i. PII
// must not be glued to a word ("ID4111...", "v1.2.3.4"), in any script.
inline bool word_char_at(std::string_view s, std::size_t i) {
    if (i >= s.size())
        return false;
    if (static_cast<unsigned char>(s[i]) < 0x80)
        return is_alnum(s[i]) || s[i] == '_';
    return data::is_word_char(data::next_code_point(s, i));
}
inline bool word_char_before(std::string_view s, std::size_t i) {
    if (i == 0)
        return false;
    std::size_t j = i - 1;
    while (j > 0 && is_continuation(s[j]))
        --j;
    return word_char_at(s, j);
}

// Byte offset `count` code points before byte i (clamped to the text).
inline std::size_t back_code_points(std::string_view s, std::size_t i, std::size_t count) {
    while (i > 0 && count > 0) {
        --i;
        if (!is_continuation(s[i]))
            --count;
    }
    return i;
}

// ASCII case-insensitive search for a lower-case needle; `word` also requires that no ASCII
// letter touches it on either side.
inline bool contains_ci(std::string_view hay, std::string_view needle, bool word = false) {
    for (std::size_t i = 0, e = needle.size(); e <= hay.size(); ++i, ++e)
        if (std::equal(needle.begin(), needle.end(), hay.begin() + static_cast<std::ptrdiff_t>(i),
                       [](char a, char b) { return a == lower(b); }) &&
            (!word ||
             ((i == 0 || !is_alpha(hay[i - 1])) && (e == hay.size() || !is_alpha(hay[e])))))
            return true;
    return false;
}

// Parsers of the number-shaped types, defined in pii_validate.cpp.

// A dotted quad starting at p (a digit-run start); sets end and addr.
bool parse_ipv4(std::string_view s, std::size_t p, std::size_t& end, std::uint32_t& addr);
// IPv6 addresses around every ':' (public ones only unless any_address), as kIp candidates.
void find_ipv6(std::string_view s, bool any_address, std::vector<Candidate>& out);
// A card number starting at digit-run start p.
bool parse_card(std::string_view s, std::size_t p, std::size_t& end);
// A delimited or (with context) bare SSN starting at digit-run start p.
bool parse_ssn(std::string_view s, std::size_t p, std::size_t& end);
// An IBAN starting at b (two upper-case letters, then the digit run at b + 2).
bool parse_iban(std::string_view s, std::size_t b, std::size_t& end);

} // namespace slimtune::data::curate::pii_detail
