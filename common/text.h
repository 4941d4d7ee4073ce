// Text taken from a file: read whole, and made safe for a one-line error message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
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

// `v` with `digits` decimals ("%.*f"), or `none` when it is not finite: how reports and model
// cards print a figure, so that the same figure reads the same everywhere.
std::string fixed_digits(double v, int digits, std::string_view none = "-");

// A byte count in MiB with two decimals: "7.40 MiB".
std::string mebibytes(std::uint64_t bytes);
// The pieces of `text` between the `sep`s, empty ones included: "a,,b" -> a, "", b; "" -> "".
// How command-line lists ("1,2,3", "q4_k_m,q8_0") are read.
std::vector<std::string> split_list(std::string_view text, char sep);

// Size caps for what slimtune reads from a user's files; each is far above any real file of
// its kind, and keeps a small hostile file (or /dev/zero behind a symlink) from costing more
// memory than its kind justifies.
// A file read whole into memory when no smaller cap applies (a tokenizer.json is 2-35 MB).
inline constexpr std::uint64_t kMaxWholeFileBytes = std::uint64_t{1} << 30;
// A small JSON settings file: config.json, generation_config.json, tokenizer_config.json,
// adapter_config.json, a manifest (real ones are a few KB; a chat template inside is < 100 KB).
inline constexpr std::uint64_t kMaxSettingsFileBytes = std::uint64_t{16} << 20;
// One line of a JSONL file (one record): a whole book is ~1-5 MB of text.
inline constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;

// Opens `path` for reading only when it is a regular file, without ever blocking: the open is
// O_NONBLOCK, so a FIFO or a device in place of a file is refused at once instead of waiting
// for a writer. The stream reads the very file that was checked (it reopens the checked
// descriptor through /proc/self/fd, so a swap of the path in between changes nothing).
// Errors: "<path>: cannot open <what>: <reason>" (a missing file, a directory: "Is a
// directory", a FIFO or device: "not a regular file"), and "<path>: <what> is N bytes; expected
// at most M" when the file is larger than `max_bytes`.
std::ifstream open_regular_file(const std::filesystem::path& path,
                                std::string_view what = "file",
                                std::uint64_t max_bytes = UINT64_MAX);

// The whole file at `path`, bytes as they are, opened with open_regular_file (same errors), or
// "<path>: read error".
std::string read_file(const std::filesystem::path& path,
                      std::string_view what = "file",
                      std::uint64_t max_bytes = kMaxWholeFileBytes);

// std::getline with a bound: reads the next line of `in` (without its '\n') into `line`;
// false at the end of input. A line longer than `max_bytes` is FormatError
// "<where>:<line_no>: line is longer than M bytes (the most read as one record)" raised
// before more than `max_bytes` are held.
bool read_line(std::istream& in,
               std::string& line,
               std::string_view where,
               std::int64_t line_no,
               std::size_t max_bytes = kMaxLineBytes);

} // namespace slimtune
