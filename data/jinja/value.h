// Values of the Jinja interpreter (data/jinja/): Python's data model as Jinja2 sees it, reduced
// to what chat templates use. Strings carry provenance (Text): every byte is tagged with where it
// came from (0: the template or a variable that is not a message; i + 1: message i), so that
// the rendered output says which bytes are an assistant's content (assistant-only loss masks).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slimtune::data::jinja {

// A string and the provenance tag of each byte, as runs (no runs: every byte is tag 0).
class Text {
public:
    Text() = default;
    explicit Text(std::string bytes, std::int32_t tag = 0);
    const std::string& str() const { return bytes_; }
    std::size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }
    void append(const Text& other);
    void append(std::string_view bytes, std::int32_t tag = 0);
    Text substr(std::size_t from, std::size_t to) const; // bytes [from, to)
    std::int32_t tag_at(std::size_t byte) const;
    // The one tag of every byte, or 0 when they differ (or there are none).
    std::int32_t uniform_tag() const;
    struct Run {
        std::size_t length;
        std::int32_t tag;
    };
    // (length, tag) runs covering the bytes, neighbours with equal tags merged.
    std::vector<Run> runs() const;

private:
    std::string bytes_;
    std::vector<Run> runs_; // empty: all tag 0
};

struct Value;
using List = std::vector<Value>;
struct Dict; // insertion-ordered, string keys
class Interpreter;
struct LoopState;

struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
};
using Function = std::function<Value(Interpreter&, CallArgs&)>;
struct Callable {
    std::string name;
    Function call;
};

struct Value {
    enum class Kind {
        undefined,
        none,
        boolean,
        integer,
        real,
        string,
        list,
        dict,
        ns,
        callable,
        loop
    };
    Kind kind = Kind::undefined;
    bool boolean = false;
    bool tuple = false; // a list that prints as a tuple
    std::int64_t integer = 0;
    double real = 0;
    Text text;
    std::shared_ptr<const List> list;
    std::shared_ptr<Dict> dict; // also a namespace's attributes (mutable)
    std::shared_ptr<const Callable> callable;
    std::shared_ptr<LoopState> loop;
    // Why an undefined value is undefined ("'dict object' has no attribute 'x'"), for the error
    // raised when it is used.
    std::string undefined_hint;

    static Value undefined(std::string hint = {});
    static Value none();
    static Value of(bool b);
    static Value of(std::int64_t i);
    static Value of(double d);
    static Value of(Text t);
    static Value of(std::string s, std::int32_t tag = 0);
    static Value of(const char* s) { return of(std::string(s)); } // not of(bool)
    static Value of(List l, bool tuple = false);
    static Value of(std::shared_ptr<Dict> d);
    static Value function(std::string name, Function f);

    bool is_undefined() const { return kind == Kind::undefined; }
    bool is_none() const { return kind == Kind::none; }
    bool is_string() const { return kind == Kind::string; }
    bool is_number() const {
        return kind == Kind::integer || kind == Kind::real || kind == Kind::boolean;
    }
    bool is_list() const { return kind == Kind::list; }
    bool is_mapping() const { return kind == Kind::dict; }
    const std::string& str() const { return text.str(); }
};

struct Dict {
    std::vector<std::pair<Value, Value>> items; // keys are strings
    const Value* find(std::string_view key) const;
    void set(Value key, Value value);
};

// Python's truth value (empty containers, 0, None and undefined are false).
bool truthy(const Value& v);
// The Python type name Jinja2 uses in messages: "str", "int", "dict", "list", "NoneType" ...
std::string type_name(const Value& v);
// Python's == (1 == 1.0 == True, element-wise for lists and dicts).
bool equal(const Value& a, const Value& b);
// str(v) as Jinja2 prints it ({{ v }}): None, True, 1.5, ['a', 1], {'k': 'v'}; "" for undefined.
Text to_text(const Value& v);
// repr(v): strings quoted as Python quotes them.
std::string repr(const Value& v);
// Python's repr of a float: shortest round trip, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string float_repr(double d);
// The code points of a UTF-8 string, as byte offsets: offsets[i] is where code point i starts,
// offsets.back() == s.size().
std::vector<std::size_t> code_point_offsets(std::string_view s);
// Python's str.isspace for one code point.
bool is_python_space(char32_t cp);

} // namespace slimtune::data::jinja
