#include "common/text.h"

#include "common/error.h"

#include <fstream>
#include <sstream>

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

std::string read_file(const std::filesystem::path& path, std::string_view what) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path.string() + ": cannot open " + std::string(what));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad())
        throw Error(path.string() + ": read error");
    return ss.str();
}

} // namespace slimtune
