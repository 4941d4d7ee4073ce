// The Gopher tokenizer's entry points (gopher_tokens, is_symbol_token) and is_sentence_terminal.
#include "data/curate/quality.h"
#include "data/curate/quality_internal.h"

#include <algorithm>
#include <array>
#include <utf8proc.h>

namespace slimtune::data::curate {

using namespace quality_detail;

namespace {

// Unicode 14 Sentence_Terminal, as inclusive ranges (computed from PCRE2's \p{STerm} table).
constexpr std::array<std::pair<char32_t, char32_t>, 76> kSentenceTerminalRanges{{
    {0x0589, 0x0589},   {0x061D, 0x061F},   {0x06D4, 0x06D4},   {0x0700, 0x0702},
    {0x07F9, 0x07F9},   {0x0837, 0x0837},   {0x0839, 0x0839},   {0x083D, 0x083E},
    {0x0964, 0x0965},   {0x104A, 0x104B},   {0x1362, 0x1362},   {0x1367, 0x1368},
    {0x166E, 0x166E},   {0x1735, 0x1736},   {0x1803, 0x1803},   {0x1809, 0x1809},
    {0x1944, 0x1945},   {0x1AA8, 0x1AAB},   {0x1B5A, 0x1B5B},   {0x1B5E, 0x1B5F},
    {0x1B7D, 0x1B7E},   {0x1C3B, 0x1C3C},   {0x1C7E, 0x1C7F},   {0x203C, 0x203D},
    {0x2047, 0x2049},   {0x2E2E, 0x2E2E},   {0x2E3C, 0x2E3C},   {0x2E53, 0x2E54},
    {0x3002, 0x3002},   {0xA4FF, 0xA4FF},   {0xA60E, 0xA60F},   {0xA6F3, 0xA6F3},
    {0xA6F7, 0xA6F7},   {0xA876, 0xA877},   {0xA8CE, 0xA8CF},   {0xA92F, 0xA92F},
    {0xA9C8, 0xA9C9},   {0xAA5D, 0xAA5F},   {0xAAF0, 0xAAF1},   {0xABEB, 0xABEB},
    {0xFE52, 0xFE52},   {0xFE56, 0xFE57},   {0xFF01, 0xFF01},   {0xFF0E, 0xFF0E},
    {0xFF1F, 0xFF1F},   {0xFF61, 0xFF61},   {0x10A56, 0x10A57}, {0x10F55, 0x10F59},
    {0x10F86, 0x10F89}, {0x11047, 0x11048}, {0x110BE, 0x110C1}, {0x11141, 0x11143},
    {0x111C5, 0x111C6}, {0x111CD, 0x111CD}, {0x111DE, 0x111DF}, {0x11238, 0x11239},
    {0x1123B, 0x1123C}, {0x112A9, 0x112A9}, {0x1144B, 0x1144C}, {0x115C2, 0x115C3},
    {0x115C9, 0x115D7}, {0x11641, 0x11642}, {0x1173C, 0x1173E}, {0x11944, 0x11944},
    {0x11946, 0x11946}, {0x11A42, 0x11A43}, {0x11A9B, 0x11A9C}, {0x11C41, 0x11C42},
    {0x11EF7, 0x11EF8}, {0x16A6E, 0x16A6F}, {0x16AF5, 0x16AF5}, {0x16B37, 0x16B38},
    {0x16B44, 0x16B44}, {0x16E98, 0x16E98}, {0x1BC9F, 0x1BC9F}, {0x1DA88, 0x1DA88},
}};

} // namespace

namespace quality_detail {

std::size_t cluster_end(std::string_view s, std::size_t i, char32_t& first) {
    char32_t prev = decode(s, i);
    first = prev;
    utf8proc_int32_t state = 0;
    while (i < s.size()) {
        std::size_t after = i;
        const char32_t next = decode(s, after);
        // Between two ASCII code points there is always a break, except inside CR LF.
        if (prev < 0x80 && next < 0x80 && prev != '\r')
            break;
        if (utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(prev),
                                             static_cast<utf8proc_int32_t>(next), &state))
            break;
        prev = next;
        i = after;
    }
    return i;
}

} // namespace quality_detail

std::vector<std::string_view> gopher_tokens(std::string_view text) {
    std::vector<std::string_view> tokens;
    for_each_token(text, [&](std::string_view token, bool) { tokens.push_back(token); });
    return tokens;
}

bool is_symbol_token(std::string_view token) {
    for (std::size_t i = 0; i < token.size();) {
        char32_t first = 0;
        i = next_cluster(token, i, first);
        if (!is_punct(first))
            return false;
    }
    return true;
}

bool is_sentence_terminal(char32_t cp) {
    if (cp < 0x80)
        return cp == '!' || cp == '.' || cp == '?';
    const auto it = std::upper_bound(kSentenceTerminalRanges.begin(), kSentenceTerminalRanges.end(),
                                     cp, [](char32_t c, const auto& r) { return c < r.first; });
    return it != kSentenceTerminalRanges.begin() && cp <= std::prev(it)->second;
}

} // namespace slimtune::data::curate
