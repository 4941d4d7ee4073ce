// Jinja2's filters and tests that chat templates use, and the globals of transformers'
// environment (range, dict, namespace, raise_exception, strftime_now).
#include "data/jinja/builtins.h"

#include "data/jinja/interpreter.h"
#include "data/jinja/strings.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace slimtune::data::jinja {

namespace {

const auto arg = argument;

bool flag(CallArgs& a, std::size_t index, const char* name) {
    const Value* v = arg(a, index, name);
    return v && truthy(*v);
}

std::int64_t length(Interpreter& in, const Value& v) {
    switch (v.kind) {
    case Value::Kind::string:
        return code_point_count(v.str());
    case Value::Kind::list:
        return static_cast<std::int64_t>(v.list->size());
    case Value::Kind::dict:
        return static_cast<std::int64_t>(v.dict->items.size());
    case Value::Kind::undefined:
        return 0;
    default:
        in.fail("object of type '" + type_name(v) + "' has no len()");
    }
}

// Jinja2's attribute getter for filters: "a.b.0" looks up each part as an item.
Value attribute_path(Interpreter& in, const Value& v, const std::string& path) {
    Value cur = v;
    std::size_t from = 0;
    while (from <= path.size()) {
        const std::size_t dot = std::min(path.find('.', from), path.size());
        const std::string part = path.substr(from, dot - from);
        const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
        if (cur.is_undefined())
            return cur;
        cur = get_item(in, cur,
                       digits ? Value::of(static_cast<std::int64_t>(std::stoll(part)))
                              : Value::of(part));
        from = dot + 1;
    }
    return cur;
}

// Sort key as Jinja2's sort/min/max/unique/dictsort build it: lower-cased strings unless
// case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
    if (!case_sensitive && v.is_string())
        return Value::of(change_case(v.text, "lower"));
    return v;
}

CallArgs rest_args(const CallArgs& a, std::size_t skip) {
    CallArgs r;
    r.positional.assign(a.positional.begin() +
                            static_cast<std::ptrdiff_t>(std::min(skip, a.positional.size())),
                        a.positional.end());
    r.keyword = a.keyword;
    return r;
}

// select/reject/selectattr/rejectattr.
Value select(Interpreter& in, const Value& value, CallArgs& a, bool keep, bool by_attribute) {
    List out;
    std::string attribute;
    std::size_t next = 0;
    if (by_attribute) {
        const Value* at = arg(a, 0, "attribute");
        if (!at || !at->is_string())
            in.fail("selectattr/rejectattr need an attribute name");
        attribute = at->str();
        next = 1;
    }
    const Value* test = next < a.positional.size() ? &a.positional[next] : nullptr;
    CallArgs test_args = rest_args(a, next + 1);
    for (const Value& item : iterate(in, value)) {
        in.step();
        const Value subject = by_attribute ? attribute_path(in, item, attribute) : item;
        const bool pass = test ? apply_test(in, test->str(), subject, test_args) : truthy(subject);
        if (pass == keep)
            out.push_back(item);
    }
    return Value::of(std::move(out));
}

Value html_escape(const Value& v) {
    const Text t = to_text(v);
    Text out;
    const std::string& b = t.str();
    for (std::size_t i = 0; i < b.size(); ++i) {
        const char c = b[i];
        const char* e = c == '&'    ? "&amp;"
                        : c == '<'  ? "&lt;"
                        : c == '>'  ? "&gt;"
                        : c == '"'  ? "&#34;"
                        : c == '\'' ? "&#39;"
                                    : nullptr;
        if (e)
            out.append(e, t.tag_at(i));
        else
            out.append(std::string_view(&b[i], 1), t.tag_at(i));
    }
    return Value::of(std::move(out));
}

Value indent(Interpreter& in, const Value& value, CallArgs& a) {
    const Value* w = arg(a, 0, "width");
    std::string pad = "    ";
    if (w && w->is_string())
        pad = w->str();
    else if (w && w->kind == Value::Kind::integer)
        pad = std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, w->integer)), ' ');
    const bool first = flag(a, 1, "first"), blank = flag(a, 2, "blank");
    Text s = to_text(value);
    s.append("\n");
    const std::vector<Text> lines = split_lines(s);
    Text out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i > 0)
            out.append("\n");
        if ((i > 0 || first) && (blank || !lines[i].empty()))
            out.append(pad);
        out.append(lines[i]);
    }
    if (first && lines.empty())
        out.append(pad);
    in.check_size(out.size());
    return Value::of(std::move(out));
}

Value sorted(Interpreter& in, const Value& value, CallArgs& a, bool reverse_arg) {
    const bool reverse = reverse_arg && flag(a, 0, "reverse");
    const bool case_sensitive = flag(a, 1, "case_sensitive");
    const Value* attribute = arg(a, 2, "attribute");
    List items = iterate(in, value);
    auto key = [&](const Value& v) {
        return sort_key(attribute ? attribute_path(in, v, attribute->str()) : v, case_sensitive);
    };
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        in.step();
        return reverse ? less(in, key(y), key(x)) : less(in, key(x), key(y));
    });
    return Value::of(std::move(items));
}

Value to_number(Interpreter& in, const Value& v, bool real, const Value* fallback) {
    auto def = [&] {
        return fallback ? *fallback : real ? Value::of(0.0) : Value::of(std::int64_t{0});
    };
    if (v.kind == Value::Kind::integer || v.kind == Value::Kind::boolean)
        return real ? Value::of(static_cast<double>(v.integer)) : Value::of(v.integer);
    if (v.kind == Value::Kind::real)
        return real ? v : Value::of(static_cast<std::int64_t>(v.real));
    if (!v.is_string())
        return def();
    std::string s = strip(v.text, std::nullopt, true, true).str();
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    try {
        std::size_t used = 0;
        if (!real) {
            const long long i = std::stoll(s, &used);
            if (used == s.size())
                return Value::of(static_cast<std::int64_t>(i));
        }
        const double d = std::stod(s, &used);
        if (used == s.size())
            return real ? Value::of(d) : Value::of(static_cast<std::int64_t>(d));
    } catch (const std::exception&) {
    }
    (void)in;
    return def();
}

} // namespace

bool is_filter(const std::string& n) {
    static const char* const kFilters[] = {
        "abs",      "attr",       "capitalize", "count",    "length", "default", "d",
        "dictsort", "escape",     "e",          "first",    "last",   "float",   "int",
        "indent",   "items",      "join",       "list",     "lower",  "upper",   "title",
        "trim",     "replace",    "map",        "max",      "min",    "reject",  "rejectattr",
        "select",   "selectattr", "reverse",    "round",    "safe",   "sort",    "string",
        "sum",      "tojson",     "unique",     "wordcount"};
    return is_one_of(n, kFilters);
}

bool is_test(const std::string& n) {
    static const char* const kTests[] = {
        "defined",     "undefined", "none",     "boolean", "false",       "true",     "integer",
        "float",       "number",    "string",   "mapping", "iterable",    "sequence", "callable",
        "sameas",      "escaped",   "in",       "eq",      "equalto",     "==",       "ne",
        "!=",          "lt",        "lessthan", "<",       "le",          "<=",       "gt",
        "greaterthan", ">",         "ge",       ">=",      "divisibleby", "odd",      "even",
        "lower",       "upper",     "filter",   "test"};
    return is_one_of(n, kTests);
}

Value apply_filter(Interpreter& in, const std::string& name, Value value, CallArgs& a) {
    in.step();
    if (name == "default" || name == "d") {
        const bool boolean = flag(a, 1, "boolean");
        if (value.is_undefined() || (boolean && !truthy(value))) {
            const Value* d = arg(a, 0, "default_value");
            return d ? *d : Value::of(std::string());
        }
        return value;
    }
    if (name == "safe")
        return value;
    if (name == "string")
        return value.is_string() ? value : Value::of(to_text(value));
    if (name == "length" || name == "count")
        return Value::of(length(in, value));
    if (name == "trim") {
        const Value* chars = arg(a, 0, "chars");
        return Value::of(strip(
            to_text(value),
            chars && chars->is_string() ? std::optional(chars->str()) : std::nullopt, true, true));
    }
    if (name == "upper" || name == "lower" || name == "capitalize")
        return Value::of(change_case(to_text(value), name));
    if (name == "title")
        return Value::of(change_case(to_text(value), "title_words"));
    if (name == "replace") {
        const Value* old = arg(a, 0, "old");
        const Value* with = arg(a, 1, "new");
        const Value* count = arg(a, 2, "count");
        if (!old || !with)
            in.fail("replace needs the old and new text");
        Text out = replace(to_text(value), to_text(*old).str(), to_text(*with),
                           count && count->kind == Value::Kind::integer ? count->integer : -1);
        in.check_size(out.size());
        return Value::of(std::move(out));
    }
    if (name == "tojson") {
        const Value* indent_arg = arg(a, 1, "indent");
        const Value* separators = arg(a, 2, "separators");
        std::optional<std::pair<std::string, std::string>> seps;
        if (separators && separators->is_list() && separators->list->size() == 2)
            seps = std::pair(to_text((*separators->list)[0]).str(),
                             to_text((*separators->list)[1]).str());
        const int indent_width =
            indent_arg && indent_arg->kind == Value::Kind::integer
                ? static_cast<int>(std::clamp<std::int64_t>(indent_arg->integer, 0, 64))
                : -1;
        return Value::of(to_json(in, value, indent_width, flag(a, 0, "ensure_ascii"), seps,
                                 flag(a, 3, "sort_keys")));
    }
    if (name == "join") {
        const Value* sep = arg(a, 0, "d");
        const Value* attribute = arg(a, 1, "attribute");
        const Text separator = sep ? to_text(*sep) : Text();
        Text out;
        bool first = true;
        for (const Value& v : iterate(in, value)) {
            if (!first)
                out.append(separator);
            first = false;
            out.append(to_text(attribute ? attribute_path(in, v, attribute->str()) : v));
            in.check_size(out.size());
        }
        return Value::of(std::move(out));
    }
    if (name == "first" || name == "last") {
        const List items = iterate(in, value);
        if (items.empty())
            return Value::undefined("no " + name + " item, sequence was empty");
        return name == "first" ? items.front() : items.back();
    }
    if (name == "list")
        return Value::of(iterate(in, value));
    if (name == "items") {
        if (value.is_undefined())
            return Value::of(List{});
        if (!value.is_mapping())
            in.fail("can only get item pairs from a mapping");
        List out;
        for (const auto& [k, v] : value.dict->items)
            out.push_back(Value::of(List{k, v}, true));
        return Value::of(std::move(out));
    }
    if (name == "dictsort") {
        if (!value.is_mapping())
            in.fail("dictsort: expected a mapping");
        const bool case_sensitive = flag(a, 0, "case_sensitive");
        const Value* by = arg(a, 1, "by");
        const bool by_value = by && by->str() == "value";
        const bool reverse = flag(a, 2, "reverse");
        List out;
        for (const auto& [k, v] : value.dict->items)
            out.push_back(Value::of(List{k, v}, true));
        std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
            const Value kx = sort_key((*x.list)[by_value ? 1 : 0], case_sensitive);
            const Value ky = sort_key((*y.list)[by_value ? 1 : 0], case_sensitive);
            return reverse ? less(in, ky, kx) : less(in, kx, ky);
        });
        return Value::of(std::move(out));
    }
    if (name == "map") {
        List out;
        const Value* attribute = nullptr;
        for (const auto& [k, v] : a.keyword)
            if (k == "attribute")
                attribute = &v;
        const Value* fallback = nullptr;
        for (const auto& [k, v] : a.keyword)
            if (k == "default")
                fallback = &v;
        for (const Value& item : iterate(in, value)) {
            in.step();
            if (attribute) {
                Value v = attribute_path(in, item, attribute->str());
                out.push_back(v.is_undefined() && fallback ? *fallback : v);
            } else {
                if (a.positional.empty() || !a.positional[0].is_string())
                    in.fail("map needs a filter name or attribute=");
                CallArgs rest = rest_args(a, 1);
                out.push_back(apply_filter(in, a.positional[0].str(), item, rest));
            }
        }
        return Value::of(std::move(out));
    }
    if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr")
        return select(in, value, a, name.starts_with("select"), name.ends_with("attr"));
    if (name == "reverse") {
        if (value.is_string()) {
            const std::vector<std::size_t> at = code_point_offsets(value.str());
            Text out;
            for (std::size_t k = at.size() - 1; k-- > 0;)
                out.append(value.text.substr(at[k], at[k + 1]));
            return Value::of(std::move(out));
        }
        List items = iterate(in, value);
        std::reverse(items.begin(), items.end());
        return Value::of(std::move(items));
    }
    if (name == "sort")
        return sorted(in, value, a, true);
    if (name == "unique" || name == "min" || name == "max") {
        const bool case_sensitive = flag(a, 0, "case_sensitive");
        const Value* attribute = arg(a, 1, "attribute");
        auto key = [&](const Value& v) {
            return sort_key(attribute ? attribute_path(in, v, attribute->str()) : v,
                            case_sensitive);
        };
        const List items = iterate(in, value);
        if (name == "unique") {
            List out, seen;
            for (const Value& v : items) {
                const Value k = key(v);
                if (std::none_of(seen.begin(), seen.end(),
                                 [&](const Value& s) { return equal(s, k); })) {
                    seen.push_back(k);
                    out.push_back(v);
                }
            }
            return Value::of(std::move(out));
        }
        if (items.empty())
            return Value::undefined("no " + name + " item, sequence was empty");
        const Value* best = &items[0];
        for (const Value& v : items)
            if (name == "min" ? less(in, key(v), key(*best)) : less(in, key(*best), key(v)))
                best = &v;
        return *best;
    }
    if (name == "sum") {
        const Value* attribute = arg(a, 0, "attribute");
        const Value* start = arg(a, 1, "start");
        double real_total = 0;
        std::int64_t total = start && start->kind == Value::Kind::integer ? start->integer : 0;
        bool is_real = start && start->kind == Value::Kind::real;
        if (is_real)
            real_total = start->real;
        for (const Value& v : iterate(in, value)) {
            const Value x = attribute ? attribute_path(in, v, attribute->str()) : v;
            if (!x.is_number())
                in.fail("unsupported operand type(s) for +: 'int' and '" + type_name(x) + "'");
            if (x.kind == Value::Kind::real && !is_real) {
                is_real = true;
                real_total = static_cast<double>(total);
            }
            if (is_real)
                real_total += x.kind == Value::Kind::real ? x.real : static_cast<double>(x.integer);
            else if (__builtin_add_overflow(total, x.integer, &total))
                in.fail("integer overflow in sum");
        }
        return is_real ? Value::of(real_total) : Value::of(total);
    }
    if (name == "abs") {
        if (value.kind == Value::Kind::real)
            return Value::of(std::fabs(value.real));
        if (value.kind == Value::Kind::integer || value.kind == Value::Kind::boolean)
            return Value::of(value.integer < 0 ? -value.integer : value.integer);
        in.fail("bad operand type for abs(): '" + type_name(value) + "'");
    }
    if (name == "round") {
        const Value* precision = arg(a, 0, "precision");
        const Value* method = arg(a, 1, "method");
        const double p = std::pow(10.0, precision && precision->kind == Value::Kind::integer
                                            ? static_cast<double>(precision->integer)
                                            : 0.0);
        const double x = (value.kind == Value::Kind::real ? value.real : double(value.integer)) * p;
        const std::string how = method ? method->str() : "common";
        // Python's round() rounds halves to even, as nearbyint does by default.
        const double r = how == "ceil"    ? std::ceil(x)
                         : how == "floor" ? std::floor(x)
                                          : std::nearbyint(x);
        return Value::of(r / p);
    }
    if (name == "int" || name == "float")
        return to_number(in, value, name == "float", arg(a, 0, "default"));
    if (name == "escape" || name == "e")
        return html_escape(value);
    if (name == "attr") {
        const Value* at = arg(a, 0, "name");
        return get_attribute(in, value, at ? to_text(*at).str() : std::string());
    }
    if (name == "indent")
        return indent(in, value, a);
    if (name == "wordcount")
        return Value::of(
            static_cast<std::int64_t>(split(to_text(value), std::nullopt, -1, false).size()));
    in.fail("no filter named '" + name + "'");
}

bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& a) {
    in.step();
    const Value* other = arg(a, 0, "other");
    using K = Value::Kind;
    if (name == "defined")
        return !v.is_undefined();
    if (name == "undefined")
        return v.is_undefined();
    if (name == "none")
        return v.is_none();
    if (name == "boolean")
        return v.kind == K::boolean;
    if (name == "true" || name == "false")
        return v.kind == K::boolean && v.boolean == (name == "true");
    if (name == "integer")
        return v.kind == K::integer;
    if (name == "float")
        return v.kind == K::real;
    if (name == "number")
        return v.is_number();
    if (name == "string")
        return v.is_string();
    if (name == "mapping")
        return v.kind == K::dict;
    if (name == "iterable")
        return v.is_string() || v.is_list() || v.kind == K::dict || v.is_undefined();
    if (name == "sequence")
        return v.is_string() || v.is_list() || v.kind == K::dict;
    if (name == "callable")
        return v.kind == K::callable;
    if (name == "escaped")
        return false;
    if (name == "sameas") {
        if (!other)
            in.fail("sameas needs a value");
        if (v.kind != other->kind)
            return false;
        if (v.is_none() || v.is_undefined() || v.kind == K::boolean)
            return equal(v, *other);
        return v.list == other->list && v.dict == other->dict && v.kind != K::string &&
               v.kind != K::integer && v.kind != K::real;
    }
    if (name == "in") {
        if (!other)
            in.fail("the 'in' test needs a container");
        if (other->is_string())
            return v.is_string() && other->str().find(v.str()) != std::string::npos;
        if (other->kind == K::dict)
            return v.is_string() && other->dict->find(v.str());
        for (const Value& x : iterate(in, *other))
            if (equal(x, v))
                return true;
        return false;
    }
    if (name == "eq" || name == "equalto" || name == "==" || name == "ne" || name == "!=") {
        if (!other)
            in.fail("the '" + name + "' test needs a value");
        return equal(v, *other) == (name != "ne" && name != "!=");
    }
    if (name == "lt" || name == "lessthan" || name == "<")
        return other && less(in, v, *other);
    if (name == "gt" || name == "greaterthan" || name == ">")
        return other && less(in, *other, v);
    if (name == "le" || name == "<=")
        return other && !less(in, *other, v);
    if (name == "ge" || name == ">=")
        return other && !less(in, v, *other);
    if (name == "divisibleby") {
        if (!other || !other->is_number() || !v.is_number() || other->integer == 0)
            in.fail("divisibleby needs a non-zero number");
        return v.integer % other->integer == 0;
    }
    if (name == "odd" || name == "even") {
        if (v.kind != K::integer && v.kind != K::boolean)
            in.fail("'" + name + "' test on a '" + type_name(v) + "'");
        return (v.integer % 2 != 0) == (name == "odd");
    }
    if (name == "lower" || name == "upper")
        return v.is_string() && char_class(v.str(), name == "lower" ? "islower" : "isupper");
    if (name == "filter")
        return v.is_string() && is_filter(v.str());
    if (name == "test")
        return v.is_string() && is_test(v.str());
    in.fail("no test named '" + name + "'");
}

std::vector<std::pair<std::string, Value>> global_functions() {
    std::vector<std::pair<std::string, Value>> g;
    g.emplace_back(
        "range", Value::function("range", [](Interpreter& in, CallArgs& a) {
            std::int64_t v[3] = {0, 0, 1};
            const std::size_t n = a.positional.size();
            if (n < 1 || n > 3)
                in.fail("range expected 1 to 3 arguments, got " + std::to_string(n));
            for (std::size_t i = 0; i < n; ++i) {
                const Value& x = a.positional[i];
                if (x.kind != Value::Kind::integer && x.kind != Value::Kind::boolean)
                    in.fail("'" + type_name(x) + "' object cannot be interpreted as an integer");
            }
            if (n == 1)
                v[1] = a.positional[0].integer;
            else
                for (std::size_t i = 0; i < n; ++i)
                    v[i] = a.positional[i].integer;
            if (v[2] == 0)
                in.fail("range() arg 3 must not be zero");
            const std::int64_t count = v[2] > 0
                                           ? (v[1] > v[0] ? (v[1] - v[0] + v[2] - 1) / v[2] : 0)
                                           : (v[0] > v[1] ? (v[0] - v[1] - v[2] - 1) / -v[2] : 0);
            if (count > 100000) // Jinja2's sandbox: MAX_RANGE
                in.fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
            List out;
            for (std::int64_t i = 0; i < count; ++i)
                out.push_back(Value::of(v[0] + i * v[2]));
            in.step(count);
            return Value::of(std::move(out));
        }));
    auto make_dict = [](Interpreter& in, CallArgs& a) {
        auto d = std::make_shared<Dict>();
        if (!a.positional.empty()) {
            if (!a.positional[0].is_mapping())
                in.fail("dict() and namespace() take a mapping or keyword arguments");
            *d = *a.positional[0].dict;
        }
        for (const auto& [k, v] : a.keyword)
            d->set(Value::of(k), v);
        return d;
    };
    g.emplace_back("dict", Value::function("dict", [make_dict](Interpreter& in, CallArgs& a) {
                       return Value::of(make_dict(in, a));
                   }));
    g.emplace_back("namespace",
                   Value::function("namespace", [make_dict](Interpreter& in, CallArgs& a) {
                       Value ns = Value::of(make_dict(in, a));
                       ns.kind = Value::Kind::ns;
                       return ns;
                   }));
    g.emplace_back("raise_exception",
                   Value::function("raise_exception", [](Interpreter& in, CallArgs& a) -> Value {
                       in.fail(a.positional.empty() ? std::string("raise_exception()")
                                                    : to_text(a.positional[0]).str());
                   }));
    g.emplace_back("strftime_now",
                   Value::function("strftime_now", [](Interpreter& in, CallArgs& a) {
                       if (a.positional.empty() || !a.positional[0].is_string())
                           in.fail("strftime_now needs a format string");
                       const std::time_t t = in.now();
                       std::tm local{};
                       localtime_r(&t, &local);
                       char buf[512];
        // The format is the template's, as in transformers' strftime_now.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                       const std::size_t n =
                           std::strftime(buf, sizeof buf, a.positional[0].str().c_str(), &local);
#pragma GCC diagnostic pop
                       return Value::of(std::string(buf, n));
                   }));
    return g;
}

} // namespace slimtune::data::jinja
