// Runs a parsed template (ast.h) as Jinja2 runs it in transformers' environment: sandboxed and
// immutable (no list.append or dict.update), undefined names render as "", loop controls,
// transformers' tojson, raise_exception and strftime_now. Every run is bounded by Limits.
#pragma once

#include "data/jinja/ast.h"
#include "data/jinja/value.h"

#include <ctime>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace slimtune::data::jinja {

// What one render may spend: evaluation steps (nodes evaluated, loop iterations, characters
// scanned by string operations count too), output bytes (also the largest string or list a
// template may build) and call depth (macros calling macros).
struct Limits {
    std::int64_t max_steps = 100'000'000;
    std::size_t max_output = 64u << 20;
    int max_depth = 100;
};

struct LoopState {
    std::shared_ptr<const List> items;
    std::size_t index = 0;
};

class Interpreter {
public:
    Interpreter(const std::string& name,
                const Limits& limits,
                std::shared_ptr<Dict> variables,
                std::optional<std::time_t> now);

    Text render(const Body& body);

    // Used by the builtins (builtins.cpp).
    [[noreturn]] void fail(const std::string& what) const;
    void step(std::int64_t n = 1);
    void check_size(std::size_t bytes) const;
    Value call(const Value& callee, CallArgs& args);
    std::time_t now() const;
    Value call_macro(const Node& macro, CallArgs& args);

private:
    enum class Flow { normal, break_, continue_ };
    using Frame = std::vector<std::pair<std::string, Value>>;

    Flow exec(const Body& body, Text& out);
    Flow exec(const Node& n, Text& out);
    void exec_for(const Node& n, Text& out);
    void exec_set(const Node& n, Text& out);
    Value make_macro(const Node& n);
    Value eval(const Node& n);
    Value eval_binary(const Node& n);
    Value eval_compare(const Node& n);
    CallArgs eval_args(const Node& n, std::size_t first);

    const Value* lookup(const std::string& name) const;
    void assign(const std::string& name, Value v);
    void bind_targets(const Node& n, const Value& v);
    void emit(Text& out, const Text& t);

    const std::string& name_;
    Limits limits_;
    std::optional<std::time_t> now_;
    std::vector<Frame> frames_;
    std::vector<std::size_t> barriers_; // frames_ index where each macro call's scope starts
    std::int64_t steps_ = 0;
    int depth_ = 0;
    const Node* at_ = nullptr; // the node being run, for error positions
};

// An argument of a builtin, by position or keyword; null when not given.
inline const Value* argument(CallArgs& a, std::size_t index, const char* name) {
    if (index < a.positional.size())
        return &a.positional[index];
    for (const auto& [k, v] : a.keyword)
        if (k == name)
            return &v;
    return nullptr;
}

// Whether `name` is one of `names`.
template <std::size_t N>
bool is_one_of(const std::string& name, const char* const (&names)[N]) {
    for (const char* n : names)
        if (name == n)
            return true;
    return false;
}

// Builtins (builtins.cpp): a filter, a test, an attribute or method of a value, a global.
Value apply_filter(Interpreter& in, const std::string& name, Value value, CallArgs& args);
bool apply_test(Interpreter& in, const std::string& name, const Value& value, CallArgs& args);
Value get_attribute(Interpreter& in, const Value& obj, const std::string& name);
Value get_item(Interpreter& in, const Value& obj, const Value& key);
Value get_slice(
    Interpreter& in, const Value& obj, const Value& start, const Value& stop, const Value& step);
std::vector<std::pair<std::string, Value>> global_functions();
// The items a for loop or a filter iterates over: a list, a dict's keys, a string's characters.
List iterate(Interpreter& in, const Value& v);
// Python's <, for sort, min, max and comparisons; fails on types Python cannot order.
bool less(Interpreter& in, const Value& a, const Value& b);
// transformers' tojson: json.dumps(x, ensure_ascii=..., indent=... (-1: None),
// separators=..., sort_keys=...).
Text to_json(Interpreter& in,
             const Value& v,
             int indent,
             bool ensure_ascii,
             const std::optional<std::pair<std::string, std::string>>& separators,
             bool sort_keys);

} // namespace slimtune::data::jinja
