#include "data/jinja/value.h"

#include "data/tokenizer/utf8.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace slimtune::data::jinja {

Text::Text(std::string bytes, std::int32_t tag) : bytes_(std::move(bytes)) {
    if (tag != 0 && !bytes_.empty())
        runs_.push_back({bytes_.size(), tag});
}

void Text::append(std::string_view bytes, std::int32_t tag) {
    if (bytes.empty())
        return;
    if (tag != 0 && runs_.empty() && !bytes_.empty())
        runs_.push_back({bytes_.size(), 0});
    bytes_ += bytes;
    if (runs_.empty() && tag == 0)
        return;
    if (!runs_.empty() && runs_.back().tag == tag)
        runs_.back().length += bytes.size();
    else
        runs_.push_back({bytes.size(), tag});
}

void Text::append(const Text& other) {
    if (other.runs_.empty()) {
        append(other.bytes_, 0);
        return;
    }
    std::size_t at = 0;
    for (const Run& r : other.runs_) {
        append(std::string_view(other.bytes_).substr(at, r.length), r.tag);
        at += r.length;
    }
}

Text Text::substr(std::size_t from, std::size_t to) const {
    Text out;
    if (to <= from)
        return out;
    if (runs_.empty()) {
        out.bytes_ = bytes_.substr(from, to - from);
        return out;
    }
    std::size_t at = 0;
    for (const Run& r : runs_) {
        const std::size_t begin = std::max(at, from), end = std::min(at + r.length, to);
        if (begin < end)
            out.append(std::string_view(bytes_).substr(begin, end - begin), r.tag);
        at += r.length;
        if (at >= to)
            break;
    }
    return out;
}

std::int32_t Text::tag_at(std::size_t byte) const {
    std::size_t at = 0;
    for (const Run& r : runs_) {
        if (byte < at + r.length)
            return r.tag;
        at += r.length;
    }
    return 0;
}

std::int32_t Text::uniform_tag() const {
    if (runs_.size() == 1)
        return runs_[0].tag;
    return 0;
}

std::vector<Text::Run> Text::runs() const {
    if (runs_.empty())
        return bytes_.empty() ? std::vector<Run>{} : std::vector<Run>{{bytes_.size(), 0}};
    return runs_;
}

Value Value::undefined(std::string hint) {
    Value v;
    v.undefined_hint = std::move(hint);
    return v;
}
Value Value::none() {
    Value v;
    v.kind = Kind::none;
    return v;
}
Value Value::of(bool b) {
    Value v;
    v.kind = Kind::boolean;
    v.boolean = b;
    v.integer = b ? 1 : 0;
    return v;
}
Value Value::of(std::int64_t i) {
    Value v;
    v.kind = Kind::integer;
    v.integer = i;
    return v;
}
Value Value::of(double d) {
    Value v;
    v.kind = Kind::real;
    v.real = d;
    return v;
}
Value Value::of(Text t) {
    Value v;
    v.kind = Kind::string;
    v.text = std::move(t);
    return v;
}
Value Value::of(std::string s, std::int32_t tag) {
    return of(Text(std::move(s), tag));
}
Value Value::of(List l, bool tuple) {
    Value v;
    v.kind = Kind::list;
    v.tuple = tuple;
    v.list = std::make_shared<const List>(std::move(l));
    return v;
}
Value Value::of(std::shared_ptr<Dict> d) {
    Value v;
    v.kind = Kind::dict;
    v.dict = std::move(d);
    return v;
}
Value Value::function(std::string name, Function f) {
    Value v;
    v.kind = Kind::callable;
    v.callable = std::make_shared<const Callable>(Callable{std::move(name), std::move(f)});
    return v;
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k.str() == key)
            return &v;
    return nullptr;
}

void Dict::set(Value key, Value value) {
    for (auto& [k, v] : items)
        if (k.str() == key.str()) {
            v = std::move(value);
            return;
        }
    items.emplace_back(std::move(key), std::move(value));
}

bool truthy(const Value& v) {
    switch (v.kind) {
    case Value::Kind::undefined:
    case Value::Kind::none:
        return false;
    case Value::Kind::boolean:
        return v.boolean;
    case Value::Kind::integer:
        return v.integer != 0;
    case Value::Kind::real:
        return v.real != 0;
    case Value::Kind::string:
        return !v.text.empty();
    case Value::Kind::list:
        return !v.list->empty();
    case Value::Kind::dict:
        return !v.dict->items.empty();
    default:
        return true;
    }
}

std::string type_name(const Value& v) {
    switch (v.kind) {
    case Value::Kind::undefined:
        return "Undefined";
    case Value::Kind::none:
        return "NoneType";
    case Value::Kind::boolean:
        return "bool";
    case Value::Kind::integer:
        return "int";
    case Value::Kind::real:
        return "float";
    case Value::Kind::string:
        return "str";
    case Value::Kind::list:
        return v.tuple ? "tuple" : "list";
    case Value::Kind::dict:
        return "dict";
    case Value::Kind::ns:
        return "Namespace";
    case Value::Kind::callable:
        return "function";
    case Value::Kind::loop:
        return "LoopContext";
    }
    return "object";
}

bool equal(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Value::Kind::real || b.kind == Value::Kind::real) {
            const double x = a.kind == Value::Kind::real ? a.real : double(a.integer);
            const double y = b.kind == Value::Kind::real ? b.real : double(b.integer);
            return x == y;
        }
        return a.integer == b.integer;
    }
    if (a.kind != b.kind)
        return false;
    switch (a.kind) {
    case Value::Kind::undefined:
    case Value::Kind::none:
        return true;
    case Value::Kind::string:
        return a.str() == b.str();
    case Value::Kind::list:
        if (a.tuple != b.tuple || a.list->size() != b.list->size())
            return false;
        for (std::size_t i = 0; i < a.list->size(); ++i)
            if (!equal((*a.list)[i], (*b.list)[i]))
                return false;
        return true;
    case Value::Kind::dict:
        if (a.dict->items.size() != b.dict->items.size())
            return false;
        for (const auto& [k, v] : a.dict->items) {
            const Value* other = b.dict->find(k.str());
            if (!other || !equal(v, *other))
                return false;
        }
        return true;
    case Value::Kind::ns:
    case Value::Kind::loop:
        return a.dict == b.dict && a.loop == b.loop;
    case Value::Kind::callable:
        return a.callable == b.callable;
    default:
        return false;
    }
}

std::string float_repr(double d) {
    if (std::isnan(d))
        return "nan";
    if (std::isinf(d))
        return d < 0 ? "-inf" : "inf";
    char buf[64];
    // Shortest round-trip digits in scientific form, re-laid out as Python's repr does:
    // positional for exponents in [-4, 16), else d.ddde+XX.
    const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    const std::size_t e = sci.find('e');
    std::string mantissa = sci.substr(0, e);
    const int exponent = std::stoi(sci.substr(e + 1));
    const bool negative = mantissa[0] == '-';
    if (negative)
        mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa)
        if (c != '.')
            digits += c;
    std::string out;
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            out = "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
        } else if (static_cast<std::size_t>(exponent) + 1 >= digits.size()) {
            out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
        }
    } else {
        out = digits.substr(0, 1);
        if (digits.size() > 1)
            out += "." + digits.substr(1);
        std::snprintf(buf, sizeof buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        out += buf;
    }
    return negative ? "-" + out : out;
}

namespace {

bool is_printable(char32_t cp) {
    // Python's str.isprintable for what chat data holds: controls and separators are not.
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xAD)
        return false;
    if (cp == 0x2028 || cp == 0x2029 || (cp >= 0xD800 && cp < 0xE000))
        return false;
    if (cp == 0x20)
        return true;
    return !is_python_space(cp);
}

std::string quote(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos;
    const char q = has_single && s.find('"') == std::string::npos ? '"' : '\'';
    std::string out(1, q);
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t start = i;
        const char32_t cp = next_code_point(s, i);
        char buf[16];
        if (cp == static_cast<char32_t>(q) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (!is_printable(cp)) {
            std::snprintf(buf, sizeof buf,
                          cp < 0x100     ? "\\x%02x"
                          : cp < 0x10000 ? "\\u%04x"
                                         : "\\U%08x",
                          static_cast<unsigned>(cp));
            out += buf;
        } else {
            out.append(s, start, i - start);
        }
    }
    return out + q;
}

} // namespace

bool is_python_space(char32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::vector<std::size_t> code_point_offsets(std::string_view s) {
    std::vector<std::size_t> out;
    out.reserve(s.size() + 1);
    std::size_t i = 0;
    while (i < s.size()) {
        out.push_back(i);
        next_code_point(s, i);
    }
    out.push_back(s.size());
    return out;
}

std::string repr(const Value& v) {
    switch (v.kind) {
    case Value::Kind::string:
        return quote(v.str());
    case Value::Kind::list: {
        std::string out = v.tuple ? "(" : "[";
        for (std::size_t i = 0; i < v.list->size(); ++i)
            out += (i ? ", " : "") + repr((*v.list)[i]);
        if (v.tuple && v.list->size() == 1)
            out += ",";
        return out + (v.tuple ? ")" : "]");
    }
    case Value::Kind::dict: {
        std::string out = "{";
        bool first = true;
        for (const auto& [k, x] : v.dict->items) {
            out += (first ? "" : ", ") + repr(k) + ": " + repr(x);
            first = false;
        }
        return out + "}";
    }
    case Value::Kind::ns: {
        Value d = v;
        d.kind = Value::Kind::dict;
        return "<Namespace " + repr(d) + ">";
    }
    default:
        return to_text(v).str();
    }
}

Text to_text(const Value& v) {
    switch (v.kind) {
    case Value::Kind::undefined:
        return {};
    case Value::Kind::none:
        return Text("None");
    case Value::Kind::boolean:
        return Text(v.boolean ? "True" : "False");
    case Value::Kind::integer:
        return Text(std::to_string(v.integer));
    case Value::Kind::real:
        return Text(float_repr(v.real));
    case Value::Kind::string:
        return v.text;
    case Value::Kind::callable:
        return Text("<function " + v.callable->name + ">");
    case Value::Kind::loop:
        return Text("<LoopContext>");
    default:
        return Text(repr(v));
    }
}

} // namespace slimtune::data::jinja
