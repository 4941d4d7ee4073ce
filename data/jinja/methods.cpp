// Attributes and methods of values as Jinja2's sandbox exposes them: str methods used by chat
// templates (startswith, split, strip ...), dict.items/keys/values/get, loop.*, namespaces;
// the methods that would change a list or dict are unsafe in transformers' immutable sandbox.
// Also tojson as transformers defines it.
#include "data/jinja/interpreter.h"
#include "data/jinja/strings.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace slimtune::data::jinja {

namespace {

const auto arg = argument;

std::string need_string(Interpreter& in, const Value* v, const char* method) {
    if (!v || !v->is_string())
        in.fail(std::string(method) + "() argument must be str, not " +
                (v ? type_name(*v) : std::string("nothing")));
    return v->str();
}

// The optional `chars` argument of strip/lstrip/rstrip (None: white space).
std::optional<std::string> strip_chars(Interpreter& in, CallArgs& a, const char* method) {
    const Value* c = arg(a, 0, "chars");
    if (!c || c->is_none())
        return std::nullopt;
    return need_string(in, c, method);
}

std::int64_t max_split(Interpreter& in, CallArgs& a) {
    const Value* m = arg(a, 1, "maxsplit");
    if (!m || m->is_none())
        return -1;
    if (m->kind != Value::Kind::integer)
        in.fail("maxsplit must be an integer");
    return m->integer;
}

Value string_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& a) {
    const Text& s = self.text;
    in.step(1 + static_cast<std::int64_t>(s.size() / 64));
    if (name == "startswith" || name == "endswith") {
        const Value* p = arg(a, 0, "prefix");
        std::vector<std::string> options;
        if (p && p->is_list())
            for (const Value& v : *p->list)
                options.push_back(need_string(in, &v, name.c_str()));
        else
            options.push_back(need_string(in, p, name.c_str()));
        for (const std::string& o : options)
            if (name == "startswith" ? s.str().starts_with(o) : s.str().ends_with(o))
                return Value::of(true);
        return Value::of(false);
    }
    if (name == "strip" || name == "lstrip" || name == "rstrip")
        return Value::of(
            strip(s, strip_chars(in, a, name.c_str()), name != "rstrip", name != "lstrip"));
    if (name == "split" || name == "rsplit") {
        const Value* sep = arg(a, 0, "sep");
        std::optional<std::string> separator;
        if (sep && !sep->is_none()) {
            separator = need_string(in, sep, name.c_str());
            if (separator->empty())
                in.fail("empty separator");
        }
        List out;
        for (Text& t : split(s, separator, max_split(in, a), name == "rsplit"))
            out.push_back(Value::of(std::move(t)));
        return Value::of(std::move(out));
    }
    if (name == "replace") {
        const Value* count = arg(a, 2, "count");
        const Value* with = arg(a, 1, "new");
        if (!with || !with->is_string())
            in.fail("replace() argument 2 must be str");
        Text out = replace(s, need_string(in, arg(a, 0, "old"), "replace"), with->text,
                           count && count->kind == Value::Kind::integer ? count->integer : -1);
        in.check_size(out.size());
        return Value::of(std::move(out));
    }
    if (name == "upper" || name == "lower" || name == "title" || name == "capitalize" ||
        name == "swapcase")
        return Value::of(change_case(s, name));
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" ||
        name == "count") {
        const std::string sub = need_string(in, arg(a, 0, "sub"), name.c_str());
        if (name == "count")
            return Value::of(count(s.str(), sub));
        const std::int64_t at = find(s.str(), sub, name == "rfind" || name == "rindex");
        if (at < 0 && (name == "index" || name == "rindex"))
            in.fail("substring not found");
        return Value::of(at);
    }
    if (name == "join") {
        const Value* items = arg(a, 0, "iterable");
        Text out;
        std::size_t i = 0;
        for (const Value& v : iterate(in, items ? *items : Value::undefined())) {
            if (!v.is_string())
                in.fail("sequence item " + std::to_string(i) + ": expected str instance, " +
                        type_name(v) + " found");
            if (i++)
                out.append(s);
            out.append(v.text);
            in.check_size(out.size());
        }
        return Value::of(std::move(out));
    }
    if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
        name == "islower" || name == "isupper")
        return Value::of(char_class(s.str(), name));
    if (name == "splitlines") {
        List out;
        for (Text& t : split_lines(s))
            out.push_back(Value::of(std::move(t)));
        return Value::of(std::move(out));
    }
    in.fail("'str' object has no attribute '" + name + "'");
}

bool is_string_method(const std::string& n) {
    static const char* const kNames[] = {
        "startswith", "endswith", "strip",   "lstrip",  "rstrip",     "split",    "rsplit",
        "replace",    "upper",    "lower",   "title",   "capitalize", "swapcase", "find",
        "rfind",      "index",    "rindex",  "count",   "join",       "isdigit",  "isalpha",
        "isalnum",    "isspace",  "islower", "isupper", "splitlines"};
    return is_one_of(n, kNames);
}

Value dict_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& a) {
    const Dict& d = *self.dict;
    if (name == "get") {
        const Value* key = arg(a, 0, "key");
        if (key && key->is_string())
            if (const Value* v = d.find(key->str()))
                return *v;
        const Value* fallback = arg(a, 1, "default");
        return fallback ? *fallback : Value::none();
    }
    List out;
    for (const auto& [k, v] : d.items) {
        in.step();
        if (name == "items")
            out.push_back(Value::of(List{k, v}, true));
        else
            out.push_back(name == "keys" ? k : v);
    }
    return Value::of(std::move(out));
}

Value bound(const Value& self,
            const std::string& name,
            Value (*method)(Interpreter&, const Value&, const std::string&, CallArgs&)) {
    return Value::function(name, [self, name, method](Interpreter& in, CallArgs& a) {
        return method(in, self, name, a);
    });
}

Value unsafe(const Value& obj, const std::string& name) {
    return Value::undefined("access to attribute '" + name + "' of '" + type_name(obj) +
                            "' object is unsafe.");
}

Value loop_attribute(const LoopState& l, const std::string& name) {
    const auto n = static_cast<std::int64_t>(l.items->size());
    const auto i = static_cast<std::int64_t>(l.index);
    if (name == "index")
        return Value::of(i + 1);
    if (name == "index0")
        return Value::of(i);
    if (name == "revindex")
        return Value::of(n - i);
    if (name == "revindex0")
        return Value::of(n - i - 1);
    if (name == "first")
        return Value::of(i == 0);
    if (name == "last")
        return Value::of(i == n - 1);
    if (name == "length")
        return Value::of(n);
    if (name == "depth") // recursive loops only go deeper; nested loops are depth 1
        return Value::of(std::int64_t{1});
    if (name == "depth0")
        return Value::of(std::int64_t{0});
    if (name == "previtem")
        return i > 0 ? (*l.items)[l.index - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem")
        return i + 1 < n ? (*l.items)[l.index + 1] : Value::undefined("there is no next item");
    if (name == "cycle") {
        const std::size_t at = l.index;
        return Value::function("cycle", [at](Interpreter& in, CallArgs& a) {
            if (a.positional.empty())
                in.fail("no items for cycling given");
            return a.positional[at % a.positional.size()];
        });
    }
    return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
}

} // namespace

Value get_attribute(Interpreter& in, const Value& obj, const std::string& name) {
    (void)in;
    const std::string missing = "'" + type_name(obj) + " object' has no attribute '" + name + "'";
    switch (obj.kind) {
    case Value::Kind::string:
        return is_string_method(name) ? bound(obj, name, string_method) : Value::undefined(missing);
    case Value::Kind::dict:
        if (name == "items" || name == "keys" || name == "values" || name == "get")
            return bound(obj, name, dict_method);
        if (name == "pop" || name == "popitem" || name == "update" || name == "clear" ||
            name == "setdefault")
            return unsafe(obj, name);
        if (const Value* v = obj.dict->find(name))
            return *v;
        return Value::undefined(missing);
    case Value::Kind::ns:
        if (const Value* v = obj.dict->find(name))
            return *v;
        return Value::undefined(missing);
    case Value::Kind::list:
        if (name == "append" || name == "extend" || name == "insert" || name == "pop" ||
            name == "remove" || name == "reverse" || name == "sort" || name == "clear")
            return unsafe(obj, name);
        return Value::undefined(missing);
    case Value::Kind::loop:
        return loop_attribute(*obj.loop, name);
    default:
        return Value::undefined(missing);
    }
}

namespace {

void json_string(Text& out, const Text& s, bool ensure_ascii) {
    const std::string& b = s.str();
    out.append("\"", 0);
    std::size_t i = 0;
    for (const Text::Run& run : s.runs()) {
        const std::size_t end = i + run.length;
        std::string piece;
        while (i < end) {
            const unsigned char c = static_cast<unsigned char>(b[i]);
            char buf[16];
            if (c == '"' || c == '\\') {
                piece += '\\';
                piece += static_cast<char>(c);
                ++i;
            } else if (c < 0x20) {
                const char* named = c == '\n'   ? "\\n"
                                    : c == '\r' ? "\\r"
                                    : c == '\t' ? "\\t"
                                    : c == '\b' ? "\\b"
                                    : c == '\f' ? "\\f"
                                                : nullptr;
                if (!named)
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                piece += named ? named : buf;
                ++i;
            } else if (c >= 0x80 && ensure_ascii) {
                char32_t cp = next_code_point(b, i);
                if (cp >= 0x10000) {
                    cp -= 0x10000;
                    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x",
                                  static_cast<unsigned>(0xD800 + (cp >> 10)),
                                  static_cast<unsigned>(0xDC00 + (cp & 0x3FF)));
                } else {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
                }
                piece += buf;
            } else {
                piece += static_cast<char>(c);
                ++i;
            }
        }
        out.append(piece, run.tag);
    }
    out.append("\"", 0);
}

struct JsonWriter {
    Interpreter& in;
    int indent;
    std::string item_sep, key_sep;
    bool sort_keys, ensure_ascii;
    Text out;

    void newline(int level) {
        if (indent >= 0)
            out.append("\n" + std::string(static_cast<std::size_t>(indent * level), ' '));
    }

    void write(const Value& v, int level) {
        in.step();
        in.check_size(out.size());
        if (level > 200)
            in.fail("tojson: value nested too deeply");
        switch (v.kind) {
        case Value::Kind::none:
            out.append("null");
            return;
        case Value::Kind::boolean:
            out.append(v.boolean ? "true" : "false");
            return;
        case Value::Kind::integer:
            out.append(std::to_string(v.integer));
            return;
        case Value::Kind::real: {
            const std::string r = float_repr(v.real);
            out.append(r == "nan"    ? "NaN"
                       : r == "inf"  ? "Infinity"
                       : r == "-inf" ? "-Infinity"
                                     : r);
            return;
        }
        case Value::Kind::string:
            json_string(out, v.text, ensure_ascii);
            return;
        case Value::Kind::list:
            if (v.list->empty()) {
                out.append("[]");
                return;
            }
            out.append("[");
            for (std::size_t i = 0; i < v.list->size(); ++i) {
                if (i)
                    out.append(item_sep);
                newline(level + 1);
                write((*v.list)[i], level + 1);
            }
            newline(level);
            out.append("]");
            return;
        case Value::Kind::dict: {
            if (v.dict->items.empty()) {
                out.append("{}");
                return;
            }
            std::vector<const std::pair<Value, Value>*> items;
            for (const auto& kv : v.dict->items)
                items.push_back(&kv);
            if (sort_keys)
                std::stable_sort(items.begin(), items.end(),
                                 [](auto* a, auto* b) { return a->first.str() < b->first.str(); });
            out.append("{");
            for (std::size_t i = 0; i < items.size(); ++i) {
                if (i)
                    out.append(item_sep);
                newline(level + 1);
                json_string(out, items[i]->first.text, ensure_ascii);
                out.append(key_sep);
                write(items[i]->second, level + 1);
            }
            newline(level);
            out.append("}");
            return;
        }
        default:
            in.fail("Object of type " + type_name(v) + " is not JSON serializable");
        }
    }
};

} // namespace

Text to_json(Interpreter& in,
             const Value& v,
             int indent,
             bool ensure_ascii,
             const std::optional<std::pair<std::string, std::string>>& separators,
             bool sort_keys) {
    JsonWriter w{in, indent, indent >= 0 ? "," : ", ", ": ", sort_keys, ensure_ascii, {}};
    if (separators) {
        w.item_sep = separators->first;
        w.key_sep = separators->second;
    }
    w.write(v, 0);
    in.check_size(w.out.size());
    return std::move(w.out);
}

} // namespace slimtune::data::jinja
