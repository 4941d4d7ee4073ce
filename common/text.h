// Text taken from a file: read whole, and made safe for a one-line error message.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune {

// s with every byte that is not printable ASCII (and the backslash) written as \xNN, cut after
// max_len bytes ("..." marks the cut).
std::string printable(std::string_view s, size_t max_len = 200);
// printable(s) in single quotes: how messages show names read from files.
std::string name_text(std::string_view s);
// The first `most` items joined by ", ", then ", ... (N in all)" when there are more: how a
// message lists every missing or misshapen tensor without running to pages.
std::string short_list(const std::vector<std::string>& items, size_t most = 8);
// The pieces of `text` between the `sep`s, empty ones included: "a,,b" -> a, "", b; "" -> "".
// How command-line lists ("1,2,3", "q4_k_m,q8_0") are read.
std::vector<std::string> split_list(std::string_view text, char sep);

// The whole file at `path`, bytes as they are. Error "<path>: cannot open <what>" (or
// "<path>: read error"): `what` names the file's role for the message ("word list").
std::string read_file(const std::filesystem::path& path, std::string_view what = "file");

} // namespace slimtune
