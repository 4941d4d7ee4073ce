// Python's operators as Jinja2 applies them: arithmetic with int/float/bool, string and list
// concatenation and repetition, chained comparisons, `in`, indexing and slicing.
#include "data/jinja/interpreter.h"

#include <cmath>

namespace slimtune::data::jinja {

namespace {

double as_double(const Value& v) {
    return v.kind == Value::Kind::real ? v.real : static_cast<double>(v.integer);
}

[[noreturn]] void
unsupported(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
    for (const Value* v : {&a, &b})
        if (v->is_undefined())
            in.fail(v->undefined_hint.empty() ? "an undefined value in '" + op + "'"
                                              : v->undefined_hint);
    in.fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" +
            type_name(b) + "'");
}

Value repeat(Interpreter& in, const Value& seq, std::int64_t times) {
    if (times <= 0)
        return seq.is_string() ? Value::of(Text()) : Value::of(List{}, seq.tuple);
    if (seq.is_string()) {
        in.check_size(seq.text.size() * static_cast<std::size_t>(times));
        Text out;
        for (std::int64_t i = 0; i < times; ++i)
            out.append(seq.text);
        return Value::of(std::move(out));
    }
    in.check_size(seq.list->size() * static_cast<std::size_t>(times));
    List out;
    for (std::int64_t i = 0; i < times; ++i)
        out.insert(out.end(), seq.list->begin(), seq.list->end());
    return Value::of(std::move(out), seq.tuple);
}

Value arithmetic(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
    if (op == "/") {
        if (as_double(b) == 0)
            in.fail("division by zero");
        return Value::of(as_double(a) / as_double(b));
    }
    if (a.kind == Value::Kind::real || b.kind == Value::Kind::real) {
        const double x = as_double(a), y = as_double(b);
        if (op == "+")
            return Value::of(x + y);
        if (op == "-")
            return Value::of(x - y);
        if (op == "*")
            return Value::of(x * y);
        if (op == "**")
            return Value::of(std::pow(x, y));
        if (y == 0)
            in.fail("float division by zero");
        if (op == "//")
            return Value::of(std::floor(x / y));
        double r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0)))
            r += y;
        return Value::of(r);
    }
    const std::int64_t x = a.integer, y = b.integer;
    std::int64_t r = 0;
    bool overflow = false;
    if (op == "+")
        overflow = __builtin_add_overflow(x, y, &r);
    else if (op == "-")
        overflow = __builtin_sub_overflow(x, y, &r);
    else if (op == "*")
        overflow = __builtin_mul_overflow(x, y, &r);
    else if (op == "**") {
        if (y < 0)
            return Value::of(std::pow(static_cast<double>(x), static_cast<double>(y)));
        r = 1;
        for (std::int64_t i = 0; i < y && !overflow; ++i) {
            overflow = __builtin_mul_overflow(r, x, &r);
            in.step();
        }
    } else {
        if (y == 0)
            in.fail("integer division or modulo by zero");
        if (x == INT64_MIN && y == -1)
            overflow = true;
        else {
            std::int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                --q;
                m += y;
            }
            r = op == "//" ? q : m;
        }
    }
    if (overflow)
        in.fail("integer overflow in '" + op + "'");
    return Value::of(r);
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
    switch (container.kind) {
    case Value::Kind::string:
        if (!item.is_string())
            in.fail("'in <string>' requires string as left operand, not " + type_name(item));
        in.step(static_cast<std::int64_t>(container.text.size() / 64));
        return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::list:
        for (const Value& v : *container.list)
            if (equal(v, item))
                return true;
        return false;
    case Value::Kind::dict:
        return item.is_string() && container.dict->find(item.str()) != nullptr;
    case Value::Kind::undefined:
        return false;
    default:
        in.fail("argument of type '" + type_name(container) + "' is not iterable");
    }
}

} // namespace

bool less(Interpreter& in, const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind == Value::Kind::real || b.kind == Value::Kind::real)
            return as_double(a) < as_double(b);
        return a.integer < b.integer;
    }
    if (a.is_string() && b.is_string())
        return a.str() < b.str(); // UTF-8 byte order is code point order
    if (a.is_list() && b.is_list()) {
        const List &x = *a.list, &y = *b.list;
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (equal(x[i], y[i]))
                continue;
            return less(in, x[i], y[i]);
        }
        return x.size() < y.size();
    }
    in.fail("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) +
            "'");
}

Value Interpreter::eval_binary(const Node& n) {
    const std::string& op = n.ops[0];
    const Value a = eval(*n.children[0]);
    const Value b = eval(*n.children[1]);
    at_ = &n;
    if (op == "~") {
        Text t = to_text(a);
        t.append(to_text(b));
        check_size(t.size());
        return Value::of(std::move(t));
    }
    if (a.is_number() && b.is_number())
        return arithmetic(*this, op, a, b);
    if (op == "+" && a.is_string() && b.is_string()) {
        Text t = a.text;
        t.append(b.text);
        check_size(t.size());
        return Value::of(std::move(t));
    }
    if (op == "+" && a.is_list() && b.is_list()) {
        List l = *a.list;
        l.insert(l.end(), b.list->begin(), b.list->end());
        check_size(l.size());
        return Value::of(std::move(l), a.tuple);
    }
    if (op == "*" && (a.is_string() || a.is_list()) &&
        (b.kind == Value::Kind::integer || b.kind == Value::Kind::boolean))
        return repeat(*this, a, b.integer);
    if (op == "*" && (b.is_string() || b.is_list()) &&
        (a.kind == Value::Kind::integer || a.kind == Value::Kind::boolean))
        return repeat(*this, b, a.integer);
    unsupported(*this, op, a, b);
}

Value Interpreter::eval_compare(const Node& n) {
    Value left = eval(*n.children[0]);
    for (std::size_t i = 0; i < n.ops.size(); ++i) {
        Value right = eval(*n.children[i + 1]);
        at_ = &n;
        const std::string& op = n.ops[i];
        bool r = false;
        if (op == "==")
            r = equal(left, right);
        else if (op == "!=")
            r = !equal(left, right);
        else if (op == "<")
            r = less(*this, left, right);
        else if (op == ">")
            r = less(*this, right, left);
        else if (op == "<=")
            r = !less(*this, right, left);
        else if (op == ">=")
            r = !less(*this, left, right);
        else if (op == "in")
            r = contains(*this, right, left);
        else
            r = !contains(*this, right, left);
        if (!r)
            return Value::of(false);
        left = std::move(right);
    }
    return Value::of(true);
}

List iterate(Interpreter& in, const Value& v) {
    switch (v.kind) {
    case Value::Kind::list:
        return *v.list;
    case Value::Kind::dict: {
        List keys;
        for (const auto& [k, x] : v.dict->items)
            keys.push_back(k);
        return keys;
    }
    case Value::Kind::string: {
        const std::vector<std::size_t> at = code_point_offsets(v.str());
        List chars;
        in.step(static_cast<std::int64_t>(at.size()));
        for (std::size_t i = 0; i + 1 < at.size(); ++i)
            chars.push_back(Value::of(v.text.substr(at[i], at[i + 1])));
        return chars;
    }
    case Value::Kind::undefined:
        return {};
    default:
        in.fail("'" + type_name(v) + "' object is not iterable");
    }
}

namespace {

std::string undefined_item(const Value& obj, const std::string& what) {
    return "'" + type_name(obj) + " object' has no attribute " + what;
}

// Python's slice.indices: the positions a[start:stop:step] takes, for a length.
std::vector<std::int64_t> slice_positions(Interpreter& in,
                                          std::int64_t length,
                                          const Value& start,
                                          const Value& stop,
                                          const Value& step) {
    auto as_int = [&](const Value& v, std::int64_t fallback) {
        if (v.is_none() || v.is_undefined())
            return fallback;
        if (v.kind != Value::Kind::integer && v.kind != Value::Kind::boolean)
            in.fail("slice indices must be integers or None");
        return v.integer;
    };
    const std::int64_t st = as_int(step, 1);
    if (st == 0)
        in.fail("slice step cannot be zero");
    const std::int64_t lower = st < 0 ? -1 : 0, upper = st < 0 ? length - 1 : length;
    auto clamp = [&](const Value& v, std::int64_t fallback) {
        std::int64_t i = as_int(v, fallback);
        if (v.is_none() || v.is_undefined())
            return i;
        if (i < 0)
            i += length;
        return std::clamp(i, lower, upper);
    };
    const std::int64_t from = clamp(start, st < 0 ? upper : lower);
    const std::int64_t to = clamp(stop, st < 0 ? lower : upper);
    std::vector<std::int64_t> out;
    for (std::int64_t i = from; st > 0 ? i < to : i > to; i += st)
        out.push_back(i);
    in.step(static_cast<std::int64_t>(out.size()));
    return out;
}

} // namespace

Value get_slice(
    Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step) {
    if (obj.is_list()) {
        List out;
        for (std::int64_t i :
             slice_positions(in, static_cast<std::int64_t>(obj.list->size()), start, stop, step))
            out.push_back((*obj.list)[static_cast<std::size_t>(i)]);
        return Value::of(std::move(out), obj.tuple);
    }
    if (obj.is_string()) {
        const std::vector<std::size_t> at = code_point_offsets(obj.str());
        const std::vector<std::int64_t> pos =
            slice_positions(in, static_cast<std::int64_t>(at.size()) - 1, start, stop, step);
        const bool contiguous = pos.size() > 1 && pos[1] == pos[0] + 1;
        if (contiguous || pos.size() == 1)
            return Value::of(obj.text.substr(at[static_cast<std::size_t>(pos.front())],
                                             at[static_cast<std::size_t>(pos.back()) + 1]));
        Text out;
        for (std::int64_t i : pos)
            out.append(obj.text.substr(at[static_cast<std::size_t>(i)],
                                       at[static_cast<std::size_t>(i) + 1]));
        return Value::of(std::move(out));
    }
    in.fail("'" + type_name(obj) + "' object is not subscriptable");
}

Value get_item(Interpreter& in, const Value& obj, const Value& key) {
    const bool int_key = key.kind == Value::Kind::integer || key.kind == Value::Kind::boolean;
    if ((obj.is_list() || obj.is_string()) && int_key) {
        std::int64_t i = key.integer;
        if (obj.is_list()) {
            const auto n = static_cast<std::int64_t>(obj.list->size());
            if (i < 0)
                i += n;
            if (i < 0 || i >= n)
                return Value::undefined(undefined_item(obj, std::to_string(key.integer)));
            return (*obj.list)[static_cast<std::size_t>(i)];
        }
        const std::vector<std::size_t> at = code_point_offsets(obj.str());
        const auto n = static_cast<std::int64_t>(at.size()) - 1;
        if (i < 0)
            i += n;
        if (i < 0 || i >= n)
            return Value::undefined(undefined_item(obj, std::to_string(key.integer)));
        return Value::of(
            obj.text.substr(at[static_cast<std::size_t>(i)], at[static_cast<std::size_t>(i) + 1]));
    }
    if (obj.kind == Value::Kind::dict && key.is_string()) {
        if (const Value* v = obj.dict->find(key.str()))
            return *v;
    }
    if (key.is_string())
        return get_attribute(in, obj, key.str());
    return Value::undefined(undefined_item(obj, repr(key)));
}

} // namespace slimtune::data::jinja
