#include "data/jinja/strings.h"

#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <utf8proc.h>

namespace slimtune::data::jinja {

namespace {

bool in_chars(char32_t cp, const std::optional<std::string>& chars) {
    if (!chars)
        return is_python_space(cp);
    std::size_t i = 0;
    while (i < chars->size())
        if (next_code_point(*chars, i) == cp)
            return true;
    return false;
}

bool is_cased_letter(char32_t cp) {
    const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
    return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

} // namespace

std::int64_t code_point_count(const std::string& s) {
    std::int64_t n = 0;
    for (const char c : s)
        n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

Text strip(const Text& s, const std::optional<std::string>& chars, bool left, bool right) {
    const std::vector<std::size_t> at = code_point_offsets(s.str());
    std::size_t begin = 0, end = at.size() - 1;
    auto cp_at = [&](std::size_t k) {
        std::size_t i = at[k];
        return next_code_point(s.str(), i);
    };
    while (left && begin < end && in_chars(cp_at(begin), chars))
        ++begin;
    while (right && end > begin && in_chars(cp_at(end - 1), chars))
        --end;
    return s.substr(at[begin], at[end]);
}

std::vector<Text> split(const Text& s,
                        const std::optional<std::string>& sep,
                        std::int64_t max_split,
                        bool from_right) {
    const std::string& b = s.str();
    std::vector<std::pair<std::size_t, std::size_t>> pieces; // byte ranges
    if (sep) {
        if (!from_right) {
            std::size_t from = 0;
            for (std::size_t at = b.find(*sep);
                 at != std::string::npos &&
                 (max_split < 0 || static_cast<std::int64_t>(pieces.size()) < max_split);
                 at = b.find(*sep, from)) {
                pieces.emplace_back(from, at);
                from = at + sep->size();
            }
            pieces.emplace_back(from, b.size());
        } else {
            std::size_t to = b.size();
            while (max_split < 0 || static_cast<std::int64_t>(pieces.size()) < max_split) {
                if (to < sep->size())
                    break;
                const std::size_t at = b.rfind(*sep, to - sep->size());
                if (at == std::string::npos)
                    break;
                pieces.emplace_back(at + sep->size(), to);
                to = at;
            }
            pieces.emplace_back(0, to);
            std::reverse(pieces.begin(), pieces.end());
        }
    } else {
        // Runs of white space separate; after max_split splits the rest stays one piece.
        const std::vector<std::size_t> at = code_point_offsets(b);
        const std::size_t n = at.size() - 1;
        auto space = [&](std::size_t k) {
            std::size_t i = at[k];
            return is_python_space(next_code_point(b, i));
        };
        std::vector<std::pair<std::size_t, std::size_t>> words; // code point ranges
        for (std::size_t k = 0; k < n;) {
            while (k < n && space(k))
                ++k;
            if (k == n)
                break;
            const std::size_t w = k;
            while (k < n && !space(k))
                ++k;
            words.emplace_back(w, k);
        }
        if (max_split >= 0 && static_cast<std::int64_t>(words.size()) > max_split + 1) {
            const auto keep = static_cast<std::size_t>(max_split);
            if (!from_right) {
                words.resize(keep + 1);
                words[keep].second = n; // the remainder keeps its trailing white space
            } else {
                const std::size_t first = words.size() - keep - 1;
                std::vector<std::pair<std::size_t, std::size_t>> tail(words.begin() + first,
                                                                      words.end());
                tail[0].first = 0;
                words = std::move(tail);
            }
        }
        for (const auto& [w0, w1] : words)
            pieces.emplace_back(at[w0], at[w1]);
    }
    std::vector<Text> out;
    for (const auto& [from, to] : pieces)
        out.push_back(s.substr(from, to));
    return out;
}

std::vector<Text> split_lines(const Text& s) {
    std::vector<Text> out;
    const std::string& b = s.str();
    std::size_t from = 0, i = 0;
    while (i < b.size()) {
        const char c = b[i];
        if (c == '\n' || c == '\r') {
            out.push_back(s.substr(from, i));
            i += c == '\r' && i + 1 < b.size() && b[i + 1] == '\n' ? 2 : 1;
            from = i;
        } else {
            ++i;
        }
    }
    if (from < b.size())
        out.push_back(s.substr(from, b.size()));
    return out;
}

Text replace(const Text& s, const std::string& old, const Text& with, std::int64_t count) {
    Text out;
    const std::string& b = s.str();
    if (old.empty()) {
        const std::vector<std::size_t> at = code_point_offsets(b);
        std::int64_t done = 0;
        for (std::size_t k = 0; k + 1 < at.size(); ++k) {
            if (count < 0 || done < count) {
                out.append(with);
                ++done;
            }
            out.append(s.substr(at[k], at[k + 1]));
        }
        if (count < 0 || done < count)
            out.append(with);
        return out;
    }
    std::size_t from = 0;
    std::int64_t done = 0;
    for (std::size_t at = b.find(old); at != std::string::npos && (count < 0 || done < count);
         at = b.find(old, from), ++done) {
        out.append(s.substr(from, at));
        out.append(with);
        from = at + old.size();
    }
    out.append(s.substr(from, b.size()));
    return out;
}

namespace {

// Full case mappings where they differ from the simple ones chat text meets (ß).
std::string mapped(char32_t cp, utf8proc_int32_t (*simple)(utf8proc_int32_t), const char* sharp_s) {
    std::string out;
    if (cp == 0xDF && sharp_s)
        return sharp_s;
    append_utf8(out, static_cast<char32_t>(simple(static_cast<utf8proc_int32_t>(cp))));
    return out;
}
std::string upper(char32_t cp) {
    return mapped(cp, utf8proc_toupper, "SS");
}
std::string lower(char32_t cp) {
    return mapped(cp, utf8proc_tolower, nullptr);
}
std::string title(char32_t cp) {
    return mapped(cp, utf8proc_totitle, "Ss");
}

bool title_word_separator(char32_t cp) { // Jinja2's title filter splits at [-\s({\[<]+
    return is_python_space(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
}

} // namespace

Text change_case(const Text& s, const std::string& how) {
    Text out;
    const std::string& b = s.str();
    bool previous_cased = false, word_start = true;
    std::size_t i = 0, k = 0;
    while (i < b.size()) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(b, i);
        const auto c = static_cast<utf8proc_int32_t>(cp);
        std::string piece;
        if (how == "upper")
            piece = upper(cp);
        else if (how == "lower")
            piece = lower(cp);
        else if (how == "swapcase")
            piece = utf8proc_isupper(c) ? lower(cp) : upper(cp);
        else if (how == "capitalize")
            piece = k == 0 ? title(cp) : lower(cp);
        else if (how == "title") // str.title: the first of each run of cased letters
            piece = previous_cased ? lower(cp) : title(cp);
        else { // "title_words", Jinja2's title filter: word starts upper-cased, the rest lower
            const bool separator = title_word_separator(cp);
            piece = separator ? lower(cp) : word_start ? upper(cp) : lower(cp);
            word_start = separator;
        }
        previous_cased = is_cased_letter(cp);
        out.append(piece, s.tag_at(start));
        ++k;
    }
    return out;
}

std::int64_t count(const std::string& s, const std::string& sub) {
    if (sub.empty())
        return code_point_count(s) + 1;
    std::int64_t n = 0;
    for (std::size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size()))
        ++n;
    return n;
}

std::int64_t find(const std::string& s, const std::string& sub, bool from_right) {
    const std::size_t at = from_right ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos)
        return -1;
    return code_point_count(s.substr(0, at));
}

bool char_class(const std::string& s, const std::string& name) {
    if (s.empty())
        return false;
    bool any_cased = false;
    std::size_t i = 0;
    while (i < s.size()) {
        const char32_t cp = next_code_point(s, i);
        const auto c = static_cast<utf8proc_int32_t>(cp);
        const auto cat = utf8proc_category(c);
        const bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        const bool digit = cat == UTF8PROC_CATEGORY_ND;
        if (name == "isdigit" && !digit)
            return false;
        if (name == "isalpha" && !letter)
            return false;
        if (name == "isalnum" && !letter && !digit && cat != UTF8PROC_CATEGORY_NL &&
            cat != UTF8PROC_CATEGORY_NO)
            return false;
        if (name == "isspace" && !is_python_space(cp))
            return false;
        if (name == "islower" || name == "isupper") {
            if (utf8proc_isupper(c) || utf8proc_islower(c)) {
                any_cased = true;
                if ((name == "islower") == static_cast<bool>(utf8proc_isupper(c)))
                    return false;
            }
        }
    }
    return name == "islower" || name == "isupper" ? any_cased : true;
}

} // namespace slimtune::data::jinja
