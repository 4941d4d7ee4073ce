// UTF-8 helpers shared by the tokenizer: code point iteration, encoding, and the one policy for
// ill-formed input (see sanitize_utf8).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace slimtune::data {

// Decodes the code point starting at s[i] and advances i past it. `s` must be valid UTF-8
// (run sanitize_utf8 first); a truncated tail yields U+FFFD rather than reading past the end.
char32_t next_code_point(std::string_view s, std::size_t& i);

void append_utf8(std::string& out, char32_t cp);

// Number of code points in valid UTF-8.
std::size_t code_point_count(std::string_view s);

bool is_valid_utf8(std::string_view s);

// Replaces every ill-formed sequence by U+FFFD exactly as the WHATWG UTF-8 decoder does (one
// replacement per "maximal subpart", the Unicode-recommended practice that JavaScript's
// TextDecoder and Rust's from_utf8_lossy follow). `replaced`, when given, receives the number of
// replacement characters inserted. Valid input is returned unchanged.
std::string sanitize_utf8(std::string_view s, std::size_t* replaced = nullptr);

// Whitespace as JavaScript's \s and String.prototype.trim define it (the reference encoder is
// transformers.js): ASCII \t\n\v\f\r and space, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000, U+FEFF.
bool is_js_whitespace(char32_t cp);

// Unicode general categories L* (letters) and N* (numbers), as \p{L} and \p{N}.
bool is_letter(char32_t cp);
bool is_number(char32_t cp);
// Letters, numbers and '_': what single_word added tokens must not touch.
bool is_word_char(char32_t cp);

} // namespace slimtune::data
