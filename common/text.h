// Text taken from a file, made safe for a one-line error message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace slimtune {

// s with every byte that is not printable ASCII (and the backslash) written as \xNN, cut after
// max_len bytes ("..." marks the cut).
std::string printable(std::string_view s, size_t max_len = 200);
// printable(s) in single quotes: how messages show names read from files.
std::string name_text(std::string_view s);

} // namespace slimtune
