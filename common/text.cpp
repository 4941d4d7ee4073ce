#include "common/text.h"

#include "common/error.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace slimtune {

std::string printable(std::string_view s, size_t max_len) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < s.size() && i < max_len; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    if (s.size() > max_len)
        out += "...";
    return out;
}

std::string name_text(std::string_view s) {
    return "'" + printable(s) + "'";
}

std::string short_list(const std::vector<std::string>& items, size_t most) {
    std::string s;
    for (size_t i = 0; i < items.size() && i < most; ++i)
        s += (i ? ", " : "") + items[i];
    return items.size() > most ? s + ", ... (" + std::to_string(items.size()) + " in all)" : s;
}

std::vector<std::string> split_list(std::string_view text, char sep) {
    std::vector<std::string> pieces;
    size_t at = 0;
    for (size_t end; (end = text.find(sep, at)) != std::string_view::npos; at = end + 1)
        pieces.emplace_back(text.substr(at, end - at));
    pieces.emplace_back(text.substr(at));
    return pieces;
}

namespace {

std::string open_failure(const std::filesystem::path& path, std::string_view what, int err) {
    return path.string() + ": cannot open " + std::string(what) + ": " + std::strerror(err);
}

} // namespace

std::ifstream open_regular_file(const std::filesystem::path& path,
                                std::string_view what,
                                std::uint64_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        throw Error(open_failure(path, what, errno));
    struct stat st {};
    const int stat_err = ::fstat(fd, &st) != 0 ? errno : 0;
    std::ifstream in;
    if (stat_err == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) <= max_bytes)
        in.open("/proc/self/fd/" + std::to_string(fd), std::ios::binary);
    const int open_err = errno;
    ::close(fd);
    if (stat_err != 0)
        throw Error(open_failure(path, what, stat_err));
    if (S_ISDIR(st.st_mode))
        throw Error(open_failure(path, what, EISDIR));
    if (!S_ISREG(st.st_mode))
        throw Error(path.string() + ": cannot open " + std::string(what) + ": not a regular file");
    if (static_cast<uint64_t>(st.st_size) > max_bytes)
        throw FormatError(path.string() + ": " + std::string(what) + " is " +
                          std::to_string(st.st_size) + " bytes; expected at most " +
                          std::to_string(max_bytes));
    if (!in)
        throw Error(open_failure(path, what, open_err));
    return in;
}

std::string
read_file(const std::filesystem::path& path, std::string_view what, std::uint64_t max_bytes) {
    std::ifstream in = open_regular_file(path, what, max_bytes);
    std::string text;
    char buf[1 << 16];
    // The size is checked at open; a file that grows afterwards is cut off at the cap.
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > max_bytes)
            throw FormatError(path.string() + ": " + std::string(what) + " grew past " +
                              std::to_string(max_bytes) + " bytes while read");
    }
    if (in.bad())
        throw Error(path.string() + ": read error");
    return text;
}

bool read_line(std::istream& in,
               std::string& line,
               std::string_view where,
               std::int64_t line_no,
               std::size_t max_bytes) {
    line.clear();
    std::streambuf* buf = in.rdbuf();
    for (;;) {
        const int c = buf->sbumpc();
        if (c == std::char_traits<char>::eof()) {
            // Like std::getline: a last line without '\n' counts, an empty end does not.
            in.setstate(line.empty() ? std::ios::eofbit | std::ios::failbit : std::ios::eofbit);
            return !line.empty();
        }
        if (c == '\n')
            return true;
        if (line.size() >= max_bytes)
            throw FormatError(std::string(where) + ":" + std::to_string(line_no) +
                              ": line is longer than " + std::to_string(max_bytes) +
                              " bytes (the most read as one record)");
        line.push_back(static_cast<char>(c));
    }
}

std::string fixed_digits(double v, int digits, std::string_view none) {
    if (!std::isfinite(v))
        return std::string(none);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string mebibytes(std::uint64_t bytes) {
    return fixed_digits(static_cast<double>(bytes) / (1024.0 * 1024.0), 2) + " MiB";
}

} // namespace slimtune
