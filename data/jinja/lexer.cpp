#include "data/jinja/lexer.h"

#include "data/jinja/value.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace slimtune::data::jinja {

void fail_at(const std::string& name, int line, int column, const std::string& what) {
    throw TemplateError(name + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                        what);
}

namespace {

// Jinja2 reads \r\n, \r and \n as one newline and drops one trailing newline
// (keep_trailing_newline is off in transformers).
std::string normalize_newlines(const std::string& source) {
    std::string out;
    out.reserve(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n')
                ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

// Python's \s over UTF-8 at byte i: the length of the white space character there, 0 if none.
std::size_t space_at(const std::string& s, std::size_t i) {
    if (i >= s.size())
        return 0;
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80)
        return is_python_space(c) ? 1 : 0;
    std::size_t j = i;
    const char32_t cp = next_code_point(s, j);
    return is_python_space(cp) ? j - i : 0;
}

std::size_t skip_spaces(const std::string& s, std::size_t i) {
    while (std::size_t n = space_at(s, i))
        i += n;
    return i;
}

// Python's str.rstrip() length of s[from, to).
std::size_t rstrip_end(const std::string& s, std::size_t from, std::size_t to) {
    std::size_t end = from, i = from;
    while (i < to) {
        const std::size_t n = space_at(s, i);
        if (n == 0) {
            std::size_t j = i;
            next_code_point(s, j);
            i = end = j;
        } else {
            i += n;
        }
    }
    return end;
}

class Lexer {
public:
    Lexer(const std::string& source, const std::string& name)
        : src_(normalize_newlines(source)), name_(name) {}

    std::vector<Token> run() {
        bool line_starting = true;
        while (pos_ < src_.size()) {
            const std::size_t open = find_tag_start(pos_);
            const std::size_t text_end = open == std::string::npos ? src_.size() : open;
            if (open == std::string::npos) {
                add_data(pos_, text_end);
                pos_ = src_.size();
                break;
            }
            const char kind = src_[open + 1]; // '{', '%' or '#'
            const char sign = open + 2 < src_.size() ? src_[open + 2] : '\0';
            const bool has_sign = sign == '-' || sign == '+';
            std::size_t keep = text_end;
            if (sign == '-') {
                keep = rstrip_end(src_, pos_, text_end);
            } else if (sign != '+' && kind != '{') {
                // lstrip_blocks: white space between the line start and a block or comment tag.
                const std::size_t nl = src_.rfind('\n', text_end == 0 ? 0 : text_end - 1);
                const std::size_t line_start = nl == std::string::npos || nl < pos_ ? pos_ : nl + 1;
                if ((line_start > pos_ || line_starting) && line_start < text_end &&
                    skip_spaces(src_, line_start) >= text_end)
                    keep = line_start;
            }
            add_data(pos_, keep);
            pos_ = open + 2 + (has_sign ? 1 : 0);
            if (kind == '#')
                line_starting = skip_comment(open);
            else if (kind == '%' && is_raw(open))
                line_starting = lex_raw(open);
            else
                line_starting = lex_tag(open, kind == '%');
        }
        add(Token::Type::end, "", src_.size());
        return std::move(tokens_);
    }

private:
    std::size_t find_tag_start(std::size_t from) const {
        for (std::size_t i = src_.find('{', from); i != std::string::npos;
             i = src_.find('{', i + 1))
            if (i + 1 < src_.size() &&
                (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
                return i;
        return std::string::npos;
    }

    void position(std::size_t at, int& line, int& column) const {
        line = 1 + static_cast<int>(std::count(src_.begin(), src_.begin() + at, '\n'));
        const std::size_t nl = at == 0 ? std::string::npos : src_.rfind('\n', at - 1);
        const std::size_t start = nl == std::string::npos ? 0 : nl + 1;
        column =
            1 + static_cast<int>(code_point_offsets(src_.substr(start, at - start)).size() - 1);
    }

    [[noreturn]] void fail(std::size_t at, const std::string& what) const {
        int line = 0, column = 0;
        position(at, line, column);
        fail_at(name_, line, column, what);
    }

    void add(Token::Type type, std::string value, std::size_t at) {
        Token t{type, std::move(value)};
        position_cached(at, t.line, t.column);
        tokens_.push_back(std::move(t));
    }

    // position() for increasing offsets without rescanning the source.
    void position_cached(std::size_t at, int& line, int& column) {
        if (at < scan_at_) {
            position(at, line, column);
            return;
        }
        for (; scan_at_ < at; ++scan_at_)
            if (src_[scan_at_] == '\n') {
                ++scan_line_;
                scan_line_start_ = scan_at_ + 1;
            }
        line = scan_line_;
        column =
            1 + static_cast<int>(code_point_offsets(std::string_view(src_).substr(
                                                        scan_line_start_, at - scan_line_start_))
                                     .size() -
                                 1);
    }

    void add_data(std::size_t from, std::size_t to) {
        if (to > from)
            add(Token::Type::data, src_.substr(from, to - from), from);
    }

    // The end of a block or comment tag at `at` ("-%}", "+%}", "%}"): where the text after it
    // starts (trim_blocks eats one newline, "-" all white space), or npos when not there.
    std::size_t tag_end(std::size_t at, char close, bool& ends_line) const {
        ends_line = false;
        auto after = [&](std::size_t end, bool trim_ws, bool trim_nl) {
            if (trim_ws) {
                const std::size_t next = skip_spaces(src_, end);
                ends_line = next > end && src_[next - 1] == '\n';
                return next;
            }
            if (trim_nl && end < src_.size() && src_[end] == '\n') {
                ends_line = true;
                return end + 1;
            }
            return end;
        };
        if ((src_[at] == '-' || src_[at] == '+') && at + 2 < src_.size() + 0 &&
            src_[at + 1] == close && src_[at + 2] == '}')
            return after(at + 3, src_[at] == '-', false);
        if (src_[at] == close && at + 1 < src_.size() && src_[at + 1] == '}')
            return after(at + 2, false, close != '}');
        return std::string::npos;
    }

    bool skip_comment(std::size_t open) {
        for (std::size_t i = src_.find('#', pos_); i != std::string::npos;
             i = src_.find('#', i + 1)) {
            bool ends_line = false;
            const std::size_t start =
                i > pos_ && (src_[i - 1] == '-' || src_[i - 1] == '+') ? i - 1 : i;
            const std::size_t next = tag_end(start, '#', ends_line);
            if (next != std::string::npos) {
                pos_ = next;
                return ends_line;
            }
        }
        fail(open, "unclosed comment");
    }

    bool is_raw(std::size_t open) const {
        std::size_t i = skip_spaces(src_, pos_);
        return src_.compare(i, 3, "raw") == 0 &&
               (i + 3 >= src_.size() ||
                !(std::isalnum(static_cast<unsigned char>(src_[i + 3])) || src_[i + 3] == '_')) &&
               open < i;
    }

    bool lex_raw(std::size_t open) {
        bool ends_line = false;
        std::size_t i = skip_spaces(src_, skip_spaces(src_, pos_) + 3);
        const std::size_t body = tag_end(i, '%', ends_line);
        if (body == std::string::npos)
            fail(open, "expected '%}' after 'raw'");
        for (std::size_t at = src_.find("{%", body); at != std::string::npos;
             at = src_.find("{%", at + 1)) {
            std::size_t j = at + 2;
            const char sign = j < src_.size() ? src_[j] : '\0';
            if (sign == '-' || sign == '+')
                ++j;
            j = skip_spaces(src_, j);
            if (src_.compare(j, 6, "endraw") != 0)
                continue;
            const std::size_t end = tag_end(skip_spaces(src_, j + 6), '%', ends_line);
            if (end == std::string::npos)
                continue;
            add_data(body, sign == '-' ? rstrip_end(src_, body, at) : at);
            pos_ = end;
            return ends_line;
        }
        fail(open, "missing endraw");
    }

    bool lex_tag(std::size_t open, bool block) {
        add(block ? Token::Type::block_begin : Token::Type::var_begin, "", open);
        std::vector<char> balance;
        while (true) {
            pos_ = skip_spaces(src_, pos_);
            if (pos_ >= src_.size())
                fail(open, block ? "unclosed tag: expected '%}'" : "unclosed tag: expected '}}'");
            bool ends_line = false;
            if (balance.empty()) {
                const std::size_t next = tag_end(pos_, block ? '%' : '}', ends_line);
                if (next != std::string::npos) {
                    add(block ? Token::Type::block_end : Token::Type::var_end, "", pos_);
                    pos_ = next;
                    return ends_line;
                }
            }
            lex_expression_token(balance);
        }
    }

    void lex_expression_token(std::vector<char>& balance) {
        const std::size_t at = pos_;
        const char c = src_[at];
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            std::size_t e = at;
            while (e < src_.size() &&
                   (std::isalnum(static_cast<unsigned char>(src_[e])) || src_[e] == '_'))
                ++e;
            add(Token::Type::name, src_.substr(at, e - at), at);
            pos_ = e;
            return;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) {
            lex_number();
            return;
        }
        if (c == '\'' || c == '"') {
            lex_string();
            return;
        }
        static constexpr std::array<const char*, 26> kOps = {
            "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
            ">",  "=",  "(",  ")",  "[",  "]",  "{", "}", ",", ".", ":", "|", ";"};
        for (const char* op : kOps) {
            const std::size_t n = std::strlen(op);
            if (src_.compare(at, n, op) != 0)
                continue;
            if (*op == '(' || *op == '[' || *op == '{')
                balance.push_back(*op == '(' ? ')' : *op == '[' ? ']' : '}');
            else if (*op == ')' || *op == ']' || *op == '}') {
                if (balance.empty() || balance.back() != *op)
                    fail(at, std::string("unexpected '") + op + "'");
                balance.pop_back();
            }
            add(Token::Type::op, op, at);
            pos_ = at + n;
            return;
        }
        fail(at, "unexpected character " + std::string(1, c));
    }

    static bool digits_at(const std::string& s, std::size_t& i) {
        // (\d+_)*\d+
        if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i])))
            return false;
        while (i < s.size()) {
            if (std::isdigit(static_cast<unsigned char>(s[i])))
                ++i;
            else if (s[i] == '_' && i + 1 < s.size() &&
                     std::isdigit(static_cast<unsigned char>(s[i + 1])))
                ++i;
            else
                break;
        }
        return true;
    }

    void lex_number() {
        const std::size_t at = pos_;
        std::size_t i = at;
        digits_at(src_, i);
        bool real = false;
        if (!(at > 0 && src_[at - 1] == '.')) {
            std::size_t j = i;
            if (j < src_.size() && src_[j] == '.' && digits_at(src_, ++j)) {
                i = j;
                real = true;
            }
            j = i;
            if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
                ++j;
                if (j < src_.size() && (src_[j] == '+' || src_[j] == '-'))
                    ++j;
                if (digits_at(src_, j)) {
                    i = j;
                    real = true;
                }
            }
        }
        std::string text = src_.substr(at, i - at);
        text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
        add(real ? Token::Type::real : Token::Type::integer, text, at);
        pos_ = i;
    }

    // A string literal, decoded as Python's unicode-escape decodes it.
    void lex_string() {
        const std::size_t at = pos_;
        const char quote_char = src_[at];
        std::string out;
        std::size_t i = at + 1;
        while (true) {
            if (i >= src_.size())
                fail(at, "unterminated string");
            const char c = src_[i];
            if (c == quote_char)
                break;
            if (c != '\\') {
                out += c;
                ++i;
                continue;
            }
            if (++i >= src_.size())
                fail(at, "unterminated string");
            const char e = src_[i++];
            auto hex = [&](int n) {
                char32_t cp = 0;
                for (int k = 0; k < n; ++k, ++i) {
                    if (i >= src_.size() || !std::isxdigit(static_cast<unsigned char>(src_[i])))
                        fail(at, "truncated \\x, \\u or \\U escape in a string");
                    cp = cp * 16 +
                         static_cast<char32_t>(std::stoi(std::string(1, src_[i]), nullptr, 16));
                }
                append_utf8(out, cp);
            };
            switch (e) {
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case 'r':
                out += '\r';
                break;
            case '\\':
                out += '\\';
                break;
            case '\'':
                out += '\'';
                break;
            case '"':
                out += '"';
                break;
            case 'a':
                out += '\a';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'v':
                out += '\v';
                break;
            case '\n':
                break; // a backslash-newline continues the line
            case 'x':
                hex(2);
                break;
            case 'u':
                hex(4);
                break;
            case 'U':
                hex(8);
                break;
            default:
                if (e >= '0' && e <= '7') {
                    char32_t cp = static_cast<char32_t>(e - '0');
                    for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7';
                         ++k)
                        cp = cp * 8 + static_cast<char32_t>(src_[i++] - '0');
                    append_utf8(out, cp);
                } else {
                    out += '\\';
                    out += e;
                }
            }
        }
        add(Token::Type::string, std::move(out), at);
        pos_ = i + 1;
    }

    std::string src_;
    const std::string& name_;
    std::size_t pos_ = 0;
    std::vector<Token> tokens_;
    std::size_t scan_at_ = 0, scan_line_start_ = 0;
    int scan_line_ = 1;
};

} // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& name) {
    return Lexer(source, name).run();
}

} // namespace slimtune::data::jinja
