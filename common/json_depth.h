// A bound on how deeply a JSON text from a file may nest, checked before it is parsed. nlohmann's
// parser is iterative, but everything after it (copying a value, dump() for an error message,
// the tokenizer's recursive Sequence builders, destruction in older releases) recurses once per
// level: a 100 k-deep "[[[[..." in a 200 KB file overflows the stack. Real files nest a few
// levels (a tokenizer Sequence of Sequences is 4-6); the limit leaves wide room.
#pragma once

#include <cstddef>
#include <string_view>

namespace slimtune {

inline constexpr size_t kMaxJsonDepth = 128;

// Throws FormatError "<where>: JSON nested deeper than 128 levels (at byte N)" when the arrays
// and objects of `text` nest deeper than kMaxJsonDepth. Brackets inside strings do not count.
// A scan of the bytes, no recursion and no allocation; malformed JSON is left to the parser.
void check_json_depth(std::string_view text, std::string_view where);

} // namespace slimtune
