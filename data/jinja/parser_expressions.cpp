// Expressions with Jinja2's precedence (lowest first): conditional, or, and, not,
// comparisons, + -, ~, * / // %, **, unary - +, then postfix (attribute, item, slice, call),
// filters and tests.
#include "data/jinja/parser_impl.h"

namespace slimtune::data::jinja {

bool Parser::tuple_end(std::initializer_list<const char*> extra) const {
    if (cur().type == T::var_end || cur().type == T::block_end || is_op(")"))
        return true;
    return cur().type == T::name &&
           std::any_of(extra.begin(), extra.end(), [&](const char* e) { return cur().value == e; });
}

NodePtr Parser::parse_tuple(bool with_condexpr,
                            std::initializer_list<const char*> extra,
                            bool explicit_parens) {
    const Token& start = cur();
    std::vector<NodePtr> items;
    bool is_tuple = false;
    while (true) {
        if (!items.empty())
            expect_op(",");
        if (tuple_end(extra))
            break;
        items.push_back(with_condexpr ? parse_expression(true) : parse_or());
        if (is_op(","))
            is_tuple = true;
        else
            break;
    }
    if (!is_tuple) {
        if (!items.empty())
            return std::move(items[0]);
        if (!explicit_parens)
            fail(start, "expected an expression, got " + describe(start));
    }
    NodePtr n = node(Node::Kind::list, start);
    n->value = Value::of(true); // marks a tuple
    n->children = std::move(items);
    return n;
}

NodePtr Parser::parse_expression(bool with_condexpr) {
    return with_condexpr ? parse_condition() : parse_or();
}

NodePtr Parser::parse_condition() {
    NodePtr expr = parse_or();
    while (is_name("if")) {
        NodePtr n = node(Node::Kind::condition, cur());
        next();
        NodePtr cond = parse_or();
        NodePtr otherwise;
        if (is_name("else")) {
            next();
            otherwise = parse_condition();
        }
        n->children.push_back(std::move(expr));
        n->children.push_back(std::move(cond));
        n->children.push_back(std::move(otherwise));
        expr = std::move(n);
    }
    return expr;
}

NodePtr Parser::binary_chain(Node::Kind kind, const char* word, NodePtr (Parser::*sub)()) {
    NodePtr left = (this->*sub)();
    while (is_name(word)) {
        NodePtr n = node(kind, cur());
        next();
        n->children.push_back(std::move(left));
        n->children.push_back((this->*sub)());
        left = std::move(n);
    }
    return left;
}

NodePtr Parser::parse_not() {
    if (is_name("not")) {
        NodePtr n = node(Node::Kind::logic_not, cur());
        next();
        n->children.push_back(parse_not());
        return n;
    }
    return parse_compare();
}

NodePtr Parser::parse_compare() {
    NodePtr first = parse_math1();
    NodePtr n;
    while (true) {
        std::string op;
        const Token& at = cur();
        if (cur().type == T::op && (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") ||
                                    is_op(">") || is_op(">="))) {
            op = next().value;
        } else if (is_name("in")) {
            next();
            op = "in";
        } else if (is_name("not") && peek().type == T::name && peek().value == "in") {
            next();
            next();
            op = "not in";
        } else {
            break;
        }
        if (!n) {
            n = node(Node::Kind::compare, at);
            n->children.push_back(std::move(first));
        }
        n->ops.push_back(op);
        n->children.push_back(parse_math1());
    }
    return n ? std::move(n) : std::move(first);
}

NodePtr Parser::binary_ops(std::initializer_list<const char*> ops, NodePtr (Parser::*sub)()) {
    NodePtr left = (this->*sub)();
    while (cur().type == T::op &&
           std::any_of(ops.begin(), ops.end(), [&](const char* o) { return cur().value == o; })) {
        NodePtr n = node(Node::Kind::binary, cur());
        n->ops.push_back(next().value);
        n->children.push_back(std::move(left));
        n->children.push_back((this->*sub)());
        left = std::move(n);
    }
    return left;
}

NodePtr Parser::parse_unary(bool with_filter) {
    const Nest nest(*this);
    NodePtr n;
    if (is_op("-") || is_op("+")) {
        n = node(is_op("-") ? Node::Kind::negate : Node::Kind::plus, cur());
        next();
        n->children.push_back(parse_unary(false));
    } else {
        n = parse_primary();
    }
    n = parse_postfix(std::move(n));
    return with_filter ? parse_filter_expr(std::move(n)) : std::move(n);
}

NodePtr Parser::parse_primary() {
    const Nest nest(*this);
    const Token& t = cur();
    NodePtr n;
    switch (t.type) {
    case T::name: {
        const std::string& v = t.value;
        n = node(Node::Kind::literal, t);
        if (v == "true" || v == "True")
            n->value = Value::of(true);
        else if (v == "false" || v == "False")
            n->value = Value::of(false);
        else if (v == "none" || v == "None")
            n->value = Value::none();
        else {
            n->kind = Node::Kind::name;
            n->name = v;
        }
        next();
        return n;
    }
    case T::string: {
        std::string s;
        n = node(Node::Kind::literal, t);
        while (cur().type == T::string)
            s += next().value;
        n->value = Value::of(std::move(s));
        return n;
    }
    case T::integer:
        n = node(Node::Kind::literal, t);
        try {
            n->value = Value::of(static_cast<std::int64_t>(std::stoll(t.value)));
        } catch (const std::exception&) {
            fail(t, "integer literal " + t.value + " is out of range");
        }
        next();
        return n;
    case T::real:
        n = node(Node::Kind::literal, t);
        n->value = Value::of(std::stod(t.value));
        next();
        return n;
    case T::op:
        if (t.value == "(") {
            next();
            n = parse_tuple(true, {}, true);
            expect_op(")");
            return n;
        }
        if (t.value == "[") {
            n = node(Node::Kind::list, t);
            next();
            while (!is_op("]")) {
                if (!n->children.empty())
                    expect_op(",");
                if (is_op("]"))
                    break;
                n->children.push_back(parse_expression(true));
            }
            next();
            return n;
        }
        if (t.value == "{") {
            n = node(Node::Kind::dict, t);
            next();
            while (!is_op("}")) {
                if (!n->children.empty())
                    expect_op(",");
                if (is_op("}"))
                    break;
                n->children.push_back(parse_expression(true));
                expect_op(":");
                n->children.push_back(parse_expression(true));
            }
            next();
            return n;
        }
        break;
    default:
        break;
    }
    fail(t, "unexpected " + describe(t));
}

NodePtr Parser::parse_postfix(NodePtr n) {
    while (true) {
        if (is_op(".")) {
            const Token& dot = next();
            if (cur().type == T::name) {
                NodePtr a = node(Node::Kind::attribute, dot);
                a->name = next().value;
                a->children.push_back(std::move(n));
                n = std::move(a);
            } else if (cur().type == T::integer) {
                NodePtr a = node(Node::Kind::item, dot);
                a->children.push_back(std::move(n));
                NodePtr index = node(Node::Kind::literal, cur());
                index->value = Value::of(static_cast<std::int64_t>(std::stoll(next().value)));
                a->children.push_back(std::move(index));
                n = std::move(a);
            } else {
                fail(cur(), "expected a name or number after '.'");
            }
        } else if (is_op("[")) {
            n = parse_subscript(std::move(n));
        } else if (is_op("(")) {
            n = parse_call(std::move(n), Node::Kind::call);
        } else {
            return n;
        }
    }
}

NodePtr Parser::parse_subscript(NodePtr obj) {
    const Token& at = next(); // [
    std::vector<NodePtr> args;
    while (!is_op("]")) {
        if (!args.empty())
            expect_op(",");
        if (is_op("]"))
            break;
        args.push_back(parse_subscribed());
    }
    next();
    if (args.empty())
        fail(at, "expected a subscript");
    NodePtr index;
    if (args.size() == 1) {
        index = std::move(args[0]);
    } else {
        index = node(Node::Kind::list, at);
        index->value = Value::of(true);
        index->children = std::move(args);
    }
    if (index->kind == Node::Kind::slice) {
        index->children.insert(index->children.begin(), std::move(obj));
        return index;
    }
    NodePtr n = node(Node::Kind::item, at);
    n->children.push_back(std::move(obj));
    n->children.push_back(std::move(index));
    return n;
}

// An index or a slice start:stop:step (a slice node without its object yet).
NodePtr Parser::parse_subscribed() {
    const Token& at = cur();
    std::vector<NodePtr> parts;
    if (is_op(":")) {
        parts.push_back(nullptr);
    } else {
        NodePtr e = parse_expression(true);
        if (!is_op(":"))
            return e;
        parts.push_back(std::move(e));
    }
    next(); // :
    parts.push_back(is_op("]") || is_op(",") || is_op(":") ? nullptr : parse_expression(true));
    if (is_op(":")) {
        next();
        parts.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    } else {
        parts.push_back(nullptr);
    }
    NodePtr n = node(Node::Kind::slice, at);
    n->children = std::move(parts);
    return n;
}

// "(args)" into `n` (whose children[0..] may already hold the callee or filtered value).
void Parser::parse_call_args(Node& n) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
        if (!first)
            expect_op(",");
        first = false;
        if (is_op(")"))
            break;
        if (cur().type == T::name && peek().type == T::op && peek().value == "=") {
            n.keywords.push_back(next().value);
            next();
            n.children.push_back(parse_expression(true));
        } else {
            if (!n.keywords.empty())
                fail(cur(), "positional argument follows keyword argument");
            n.children.push_back(parse_expression(true));
            ++n.positional;
        }
    }
    next();
}

NodePtr Parser::parse_call(NodePtr callee, Node::Kind kind) {
    NodePtr n = node(kind, cur());
    n->line = callee->line; // errors point at what is called
    n->column = callee->column;
    n->children.push_back(std::move(callee));
    parse_call_args(*n);
    return n;
}

// "| name(args) | name ..." applied to `value` (null: a filter block's own content).
NodePtr Parser::parse_filters(NodePtr value) {
    bool first = true;
    while (first || is_op("|")) {
        if (!first || is_op("|"))
            next();
        first = false;
        NodePtr n = node(Node::Kind::filter, cur());
        n->name = expect_name();
        while (is_op(".")) {
            next();
            n->name += "." + expect_name();
        }
        n->children.push_back(std::move(value));
        if (is_op("("))
            parse_call_args(*n);
        value = std::move(n);
    }
    return value;
}

NodePtr Parser::parse_filter_expr(NodePtr n) {
    while (true) {
        if (is_op("|")) {
            n = parse_filters(std::move(n));
        } else if (is_name("is")) {
            n = parse_test(std::move(n));
        } else if (is_op("(")) {
            n = parse_call(std::move(n), Node::Kind::call);
        } else {
            return n;
        }
    }
}

NodePtr Parser::parse_test(NodePtr value) {
    NodePtr n = node(Node::Kind::test, cur());
    next(); // is
    if (is_name("not")) {
        next();
        n->negated = true;
    }
    n->name = expect_name();
    while (is_op(".")) {
        next();
        n->name += "." + expect_name();
    }
    n->children.push_back(std::move(value));
    const bool starts_primary = cur().type == T::name || cur().type == T::string ||
                                cur().type == T::integer || cur().type == T::real || is_op("(") ||
                                is_op("[") || is_op("{");
    if (is_op("(")) {
        parse_call_args(*n);
    } else if (starts_primary && !is_name("else") && !is_name("or") && !is_name("and")) {
        if (is_name("is"))
            fail(cur(), "you cannot chain multiple tests with is");
        n->children.push_back(parse_postfix(parse_primary()));
        n->positional = 1;
    }
    return n;
}

} // namespace slimtune::data::jinja
