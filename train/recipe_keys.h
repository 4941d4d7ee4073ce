// The machinery of recipe keys, shared by the key tables (train/recipe.cpp for the training
// sections, train/curate_keys.cpp for [curate]): a Key knows its name, what it accepts, a
// one-line help, and how to read a value into a Recipe and print it back. The kinds below
// (integer, number, boolean, text, choice, names, ...) build Keys for typed fields.
#pragma once

#include "train/recipe.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace slimtune::train::recipe_detail {

// Thrown by a key's setter; load_recipe adds where, the key, the expected type and the value.
struct BadValue {
    std::string what;
};

// One recipe key: its name, the accepted values ("an integer > 0"), a one-line help, and how
// it is read into / printed from the Recipe.
struct Key {
    std::string name, expected, help;
    std::function<void(Recipe&, const std::string&)> set;
    std::function<std::string(const Recipe&)> get;
};

inline std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return "";
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Comma-separated items, trimmed; empty items are dropped ("" is the empty list).
inline std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!trim(item).empty())
            out.push_back(trim(item));
    return out;
}

// Items joined with ',' (each printed by `fmt`).
template <class C, class F> std::string join(const C& items, F fmt) {
    std::string s;
    for (const auto& x : items)
        s += (s.empty() ? "" : ",") + fmt(x);
    return s;
}

template <class T> T parse_integer(const std::string& text) {
    const std::string s = trim(text);
    T x{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec == std::errc::result_out_of_range)
        throw BadValue{"out of range"};
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        throw BadValue{"not an integer"};
    return x;
}

inline double parse_number(const std::string& text) {
    const std::string s = trim(text);
    double x = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(x))
        throw BadValue{"not a number"};
    return x;
}

// Shortest text that reads back to the same double, exponents without padding ("2e-4").
inline std::string format_number(double x) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, x);
    std::string s(buf, res.ptr);
    if (const auto e = s.find('e'); e != std::string::npos) {
        std::string exp = s.substr(e + 1);
        const std::string sign = exp[0] == '-' ? "-" : "";
        exp = exp.substr(exp[0] == '-' || exp[0] == '+' ? 1 : 0);
        s = s.substr(0, e + 1) + sign +
            exp.substr(std::min(exp.find_first_not_of('0'), exp.size() - 1));
    }
    return s;
}

// An interval of doubles: [lo, hi], with either end open.
struct Range {
    double lo, hi;
    bool lo_open, hi_open;
    bool contains(double x) const {
        return (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    }
    std::string text() const {
        if (std::isinf(hi))
            return (lo_open ? "> " : ">= ") + format_number(lo);
        return "in " + std::string(lo_open ? "(" : "[") + format_number(lo) + ", " +
               format_number(hi) + (hi_open ? ")" : "]");
    }
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Range kPositive{0, kInf, true, true}, kNonNegative{0, kInf, false, true};
constexpr Range kFraction{0, 1, false, true}, kUnit{0, 1, false, false};

// KEY(kind, "section.key", field, args...): kind("section.key", accessor of r.field, args...),
// the binding of one INI key to the field of a library struct it sets.
#define KEY(kind, name, field, ...)                                                                \
    kind(                                                                                          \
        name, [](auto& r) -> auto& { return r.field; }, __VA_ARGS__)

template <class F>
using FieldType = std::remove_cvref_t<decltype(std::declval<F>()(std::declval<Recipe&>()))>;

// Upper bounds of the keys whose value sizes an allocation or a loop: each far above any real
// run, so a typo (seq_len 10000000000) is an error at once instead of an out-of-memory later.
inline constexpr int64_t kMaxSeqLen = int64_t{1} << 20, kMaxBatchSize = int64_t{1} << 16,
                         kMaxLoraRank = int64_t{1} << 14, kMaxGradAccum = int64_t{1} << 20;
// train.epochs above this would take years; 1e300 overflowed the step count to 0 steps.
inline constexpr double kMaxEpochs = 1e6;

template <class F>
Key integer(const char* name, F field, int64_t lo, const char* help, int64_t hi = INT64_MAX) {
    using T = FieldType<F>;
    std::string expected = lo == 0 ? "an integer >= 0" : "an integer > " + std::to_string(lo - 1);
    if (hi != INT64_MAX)
        expected = "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return {name, expected, help,
            [=](Recipe& r, const std::string& v) {
                const T x = parse_integer<T>(v); // beyond T: "out of range"
                if (std::cmp_less(x, lo) || (hi != INT64_MAX && std::cmp_greater(x, hi)))
                    throw BadValue{"out of range"};
                field(r) = x;
            },
            [=](const Recipe& r) { return std::to_string(field(r)); }};
}

template <class F> Key number(const char* name, F field, Range range, const char* help) {
    return {name, "a number " + range.text(), help,
            [=](Recipe& r, const std::string& v) {
                const double x = parse_number(v);
                if (!range.contains(x))
                    throw BadValue{"out of range"};
                field(r) = x;
            },
            [=](const Recipe& r) { return format_number(field(r)); }};
}

template <class F> Key boolean(const char* name, F field, const char* help) {
    return {name, "true or false", help,
            [=](Recipe& r, const std::string& v) {
                const std::string s = trim(v);
                if (s == "true" || s == "yes" || s == "on" || s == "1")
                    field(r) = true;
                else if (s == "false" || s == "no" || s == "off" || s == "0")
                    field(r) = false;
                else
                    throw BadValue{"not a boolean"};
            },
            [=](const Recipe& r) { return std::string(field(r) ? "true" : "false"); }};
}

template <class F> Key text(const char* name, F field, const char* expected, const char* help) {
    return {name, expected, help, [=](Recipe& r, const std::string& v) { field(r) = trim(v); },
            [=](const Recipe& r) { return field(r); }};
}

// One of a fixed set of names, each standing for a value of the field (an enum, a bool, or the
// name itself): "completion" / "all" set train_on_all to false / true.
template <class F, class V = FieldType<F>>
Key mapped_choice(const char* name,
                  F field,
                  std::vector<std::pair<std::string, V>> options,
                  const char* help) {
    std::string expected = "one of";
    for (const auto& o : options)
        expected += " " + o.first;
    return {name, expected, help,
            [=](Recipe& r, const std::string& v) {
                const auto it = std::find_if(options.begin(), options.end(),
                                             [&](const auto& o) { return o.first == trim(v); });
                if (it == options.end())
                    throw BadValue{"unknown value"};
                field(r) = it->second;
            },
            [=](const Recipe& r) {
                for (const auto& o : options)
                    if (o.second == field(r))
                        return o.first;
                return std::string(); // a value set by library code, outside the key's choices
            }};
}

// A choice among names that are the field's values themselves.
template <class F>
Key choice(const char* name, F field, std::vector<std::string> options, const char* help) {
    std::vector<std::pair<std::string, std::string>> named;
    for (const auto& o : options)
        named.emplace_back(o, o);
    return mapped_choice(name, field, named, help);
}

template <class F> Key names(const char* name, F field, const char* expected, const char* help) {
    return {
        name, expected, help, [=](Recipe& r, const std::string& v) { field(r) = split_list(v); },
        [=](const Recipe& r) { return join(field(r), [](const std::string& x) { return x; }); }};
}

template <class F> Key indices(const char* name, F field, const char* help) {
    return {name, "a comma list of integers >= 0", help,
            [=](Recipe& r, const std::string& v) {
                std::vector<int64_t> out;
                for (const auto& item : split_list(v)) {
                    out.push_back(parse_integer<int64_t>(item));
                    if (out.back() < 0)
                        throw BadValue{"out of range"};
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](int64_t x) { return std::to_string(x); });
            }};
}

// "name=value,name=value" with positive values (integers or numbers, as the map holds).
template <class F> Key pattern(const char* name, F field, const char* help) {
    using V = typename FieldType<F>::mapped_type;
    constexpr bool whole = std::is_integral_v<V>;
    return {name,
            whole ? "name=integer,... with integers in [1, " + std::to_string(kMaxLoraRank) + "]"
                  : std::string("name=number,... with numbers > 0"),
            help,
            [=](Recipe& r, const std::string& v) {
                FieldType<F> out;
                for (const auto& item : split_list(v)) {
                    const auto eq = item.find('=');
                    if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
                        throw BadValue{"not name=value"};
                    V x{};
                    bool too_big = false;
                    if constexpr (whole) { // ranks (rank_pattern): the bound of lora.rank
                        x = parse_integer<V>(item.substr(eq + 1));
                        too_big = std::cmp_greater(x, kMaxLoraRank);
                    } else {
                        x = parse_number(item.substr(eq + 1));
                    }
                    if (!(x > 0) || too_big)
                        throw BadValue{"out of range"};
                    out[trim(item.substr(0, eq))] = x;
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](const auto& kv) {
                    if constexpr (whole)
                        return kv.first + "=" + std::to_string(kv.second);
                    else
                        return kv.first + "=" + format_number(kv.second);
                });
            }};
}

// "name=value,name=value" with text values (a map from strings to strings).
template <class F> Key string_map(const char* name, F field, const char* help) {
    return {name, "name=value,...", help,
            [=](Recipe& r, const std::string& v) {
                std::map<std::string, std::string> out;
                for (const auto& item : split_list(v)) {
                    const auto eq = item.find('=');
                    if (eq == std::string::npos || trim(item.substr(0, eq)).empty() ||
                        trim(item.substr(eq + 1)).empty())
                        throw BadValue{"not name=value"};
                    out[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](const auto& kv) { return kv.first + "=" + kv.second; });
            }};
}

// The record formats' names and the formats they stand for (data.format, curate.format).
inline std::vector<std::pair<std::string, data::DatasetFormat>> dataset_formats() {
    std::vector<std::pair<std::string, data::DatasetFormat>> out;
    for (const std::string& name : data::dataset_format_names())
        out.emplace_back(name, data::parse_dataset_format(name));
    return out;
}

inline Key betas() {
    return {"optim.betas", "two numbers in [0, 1) as b1,b2",
            "AdamW's decay rates of the first and second moment estimates",
            [](Recipe& r, const std::string& v) {
                const auto items = split_list(v);
                if (items.size() != 2)
                    throw BadValue{"not two numbers"};
                const double b1 = parse_number(items[0]), b2 = parse_number(items[1]);
                if (!kFraction.contains(b1) || !kFraction.contains(b2))
                    throw BadValue{"out of range"};
                r.trainer.optimizer.beta1 = b1;
                r.trainer.optimizer.beta2 = b2;
            },
            [](const Recipe& r) {
                return format_number(r.trainer.optimizer.beta1) + "," +
                       format_number(r.trainer.optimizer.beta2);
            }};
}

} // namespace slimtune::train::recipe_detail
