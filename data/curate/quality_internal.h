// The Gopher tokenizer templates shared by quality.cpp and gopher_tokens.cpp (not public API).
#pragma once

#include "data/tokenizer/utf8.h"

#include <cstddef>
#include <string_view>
#include <utf8proc.h>

namespace slimtune::data::curate::quality_detail {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// ---------------------------------------------------------------------------------------------
// Code points and character classes

// next_code_point with the ASCII case inlined: most text is ASCII and this is the hot loop.
inline char32_t decode(std::string_view s, std::size_t& i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
        ++i;
        return b;
    }
    return next_code_point(s, i);
}

inline bool is_space(char32_t cp) {
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

inline bool is_ascii_alnum(char32_t cp) {
    return (cp >= '0' && cp <= '9') || ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z');
}

// General category P*, S* or C* (see quality.h).
inline bool is_punct(char32_t cp) {
    if (cp < 0x80)
        return !is_ascii_alnum(cp) && cp != ' ';
    const int c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return c == UTF8PROC_CATEGORY_CN || (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_SO) ||
           c >= UTF8PROC_CATEGORY_CC;
}

// ---------------------------------------------------------------------------------------------
// Tokens

// End of the extended grapheme cluster starting at byte `i`; `first` gets its first code point.
// Defined in gopher_tokens.cpp.
std::size_t cluster_end(std::string_view s, std::size_t i, char32_t& first);

// cluster_end with the common case inlined: an ASCII code point followed by ASCII (or nothing)
// is a cluster of its own.
inline std::size_t next_cluster(std::string_view s, std::size_t i, char32_t& first) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80 && b != '\r' &&
        (i + 1 == s.size() || static_cast<unsigned char>(s[i + 1]) < 0x80)) {
        first = b;
        return i + 1;
    }
    return cluster_end(s, i, first);
}

// Emits every cluster of `s` (all punctuation clusters) as a symbol token; runs of "." merge.
template <class Emit> void emit_symbols(std::string_view s, Emit& emit) {
    std::size_t i = 0;
    while (i < s.size()) {
        char32_t first = 0;
        std::size_t end = next_cluster(s, i, first);
        if (first == '.' && end == i + 1) {
            while (end < s.size() && s[end] == '.') {
                char32_t dot = 0;
                const std::size_t dot_end = next_cluster(s, end, dot);
                if (dot_end != end + 1)
                    break; // a "." carrying a combining mark is a cluster of its own
                end = dot_end;
            }
        }
        emit(s.substr(i, end - i), true);
        i = end;
    }
}

// One whitespace-free piece: leading symbols, the core, trailing symbols.
template <class Emit> void emit_piece(std::string_view piece, Emit& emit) {
    std::size_t core_begin = kNone, core_end = 0;
    for (std::size_t i = 0; i < piece.size();) {
        char32_t first = 0;
        const std::size_t end = next_cluster(piece, i, first);
        if (!is_punct(first)) {
            if (core_begin == kNone)
                core_begin = i;
            core_end = end;
        }
        i = end;
    }
    if (core_begin == kNone) // nothing but punctuation
        core_begin = core_end = piece.size();
    emit_symbols(piece.substr(0, core_begin), emit);
    if (core_end > core_begin)
        emit(piece.substr(core_begin, core_end - core_begin), false);
    emit_symbols(piece.substr(core_end), emit);
}

// Calls emit(token, is_symbol) for every gopher token, left to right.
template <class Emit> void for_each_token(std::string_view text, Emit&& emit) {
    std::size_t piece = 0; // where the current whitespace-free piece starts
    for (std::size_t i = 0; i < text.size();) {
        std::size_t next = i;
        if (is_space(decode(text, next))) {
            if (i > piece)
                emit_piece(text.substr(piece, i - piece), emit);
            piece = next;
        }
        i = next;
    }
    if (piece < text.size())
        emit_piece(text.substr(piece), emit);
}

} // namespace slimtune::data::curate::quality_detail
