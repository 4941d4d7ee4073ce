// The syntax tree of a Jinja template (data/jinja/parser.cpp builds it, interpreter.cpp runs it).
#pragma once

#include "data/jinja/value.h"

#include <memory>
#include <string>
#include <vector>

namespace slimtune::data::jinja {

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
    enum class Kind {
        // expressions
        literal,   // value
        name,      // name
        attribute, // a.name: children[0], name
        item,      // a[b]: children[0], children[1]
        slice,     // a[b:c:d]: children[0..3], a missing part is null
        call,      // children[0](children[1..]); keywords: names of the last keyword args
        filter,    // children[0] | name(children[1..]); keywords as for call
        test,      // children[0] is [not] name(children[1..]); negated
        negate,    // -children[0]
        plus,      // +children[0]
        binary,    // children[0] op children[1]: + - * / // % ** ~
        logic_and,
        logic_or,
        logic_not,
        compare,   // children[0] ops[0] children[1] ops[1] children[2] ...
        condition, // children[0] if children[1] else children[2] (null: undefined)
        list,      // [children...] (tuple: (children...))
        dict,      // {children[0]: children[1], ...}
        // statements
        text,         // output `value` (template text)
        print,        // {{ children[0] }}
        if_,          // children: cond, body; cond, body ...; else body (cond null)
        for_,         // targets; children[0] iterable, children[1] filter (or null); body, else
        set,          // targets (or name.attr); children[0] value; or body when block_set
        macro,        // name; params with defaults in children; body
        call_block,   // {% call m(args) %}body{% endcall %}: children[0] the call
        filter_block, // {% filter f %}body{% endfilter %}: children[0] a filter on null
        break_,
        continue_,
        generation, // transformers' {% generation %}: body only
    };
    Kind kind;
    int line = 0, column = 0;
    std::string name;
    Value value;
    std::vector<NodePtr> children;
    std::vector<std::string> ops;      // compare operators / binary operator in ops[0]
    std::vector<std::string> targets;  // for/set names; set ns.attr: {"ns", "attr"} with attr_set
    std::vector<std::string> keywords; // keyword argument names (call, filter, test, macro params)
    std::size_t positional = 0;        // call/filter/test: how many children are positional args
    bool negated = false, tuple_target = false, attr_set = false, block_set = false,
         recursive = false;
    Body body, else_body;
    std::vector<std::pair<NodePtr, Body>> branches; // if/elif
};

// Parses a template; TemplateError names `name`, the line and the column of what is wrong.
Body parse(const std::string& source, const std::string& name);

} // namespace slimtune::data::jinja
