// A recursive-descent parser with Jinja2's grammar and operator precedence (lowest first):
// conditional, or, and, not, comparisons, + -, ~, * / // %, **, unary - +, then postfix
// (attribute, item, slice, call), filters and tests.
#include "data/jinja/ast.h"
#include "data/jinja/lexer.h"

#include <algorithm>
#include <initializer_list>

namespace slimtune::data::jinja {

namespace {

using T = Token::Type;

class Parser {
public:
    Parser(std::vector<Token> tokens, const std::string& name)
        : toks_(std::move(tokens)), name_(name) {}

    Body parse_template() {
        Body body = parse_body({});
        if (cur().type != T::end)
            fail(cur(), "unexpected tag");
        return body;
    }

private:
    const Token& cur() const { return toks_[pos_]; }
    const Token& peek(std::size_t n = 1) const {
        return toks_[std::min(pos_ + n, toks_.size() - 1)];
    }
    const Token& next() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
    bool is_op(const char* op) const { return cur().type == T::op && cur().value == op; }
    bool is_name(const char* n) const { return cur().type == T::name && cur().value == n; }

    [[noreturn]] void fail(const Token& t, const std::string& what) const {
        fail_at(name_, t.line, t.column, what);
    }
    std::string describe(const Token& t) const {
        switch (t.type) {
        case T::end:
            return "end of template";
        case T::block_end:
            return "end of statement block";
        case T::var_end:
            return "end of print statement";
        case T::data:
            return "template data";
        default:
            return "'" + t.value + "'";
        }
    }
    void expect_op(const char* op) {
        if (!is_op(op))
            fail(cur(), std::string("expected '") + op + "', got " + describe(cur()));
        next();
    }
    std::string expect_name() {
        if (cur().type != T::name)
            fail(cur(), "expected a name, got " + describe(cur()));
        return next().value;
    }
    void expect_block_end() {
        if (cur().type != T::block_end)
            fail(cur(), "expected end of statement block, got " + describe(cur()));
        next();
    }

    NodePtr node(Node::Kind k, const Token& at) {
        auto n = std::make_unique<Node>();
        n->kind = k;
        n->line = at.line;
        n->column = at.column;
        return n;
    }

    // Statements until a block tag whose keyword is in `ends` (left current), or the end.
    Body parse_body(std::initializer_list<const char*> ends) {
        Body body;
        while (cur().type != T::end) {
            const Token& t = cur();
            if (t.type == T::data) {
                NodePtr n = node(Node::Kind::text, t);
                n->value = Value::of(t.value);
                next();
                body.push_back(std::move(n));
            } else if (t.type == T::var_begin) {
                NodePtr n = node(Node::Kind::print, t);
                next();
                n->children.push_back(parse_tuple(true, {}));
                if (cur().type != T::var_end)
                    fail(cur(), "expected end of print statement, got " + describe(cur()));
                next();
                body.push_back(std::move(n));
            } else if (t.type == T::block_begin) {
                const Token& kw = peek();
                if (kw.type == T::name && std::any_of(ends.begin(), ends.end(),
                                                      [&](const char* e) { return kw.value == e; }))
                    return body;
                next();
                body.push_back(parse_statement());
            } else {
                fail(t, "unexpected " + describe(t));
            }
        }
        if (ends.size() > 0) {
            std::string list;
            for (const char* e : ends)
                list += std::string(list.empty() ? "'" : " or '") + e + "'";
            fail(cur(), "unexpected end of template; Jinja was looking for " + list);
        }
        return body;
    }

    // After the block tag's keyword `end` is current: consumes "{% end %}".
    void close(const char* end) {
        next(); // block_begin
        next(); // keyword
        expect_block_end();
        (void)end;
    }

    NodePtr parse_statement() {
        const Nest nest(*this);
        const Token& kw = cur();
        if (kw.type != T::name)
            fail(kw, "tag name expected");
        const std::string word = kw.value;
        if (word == "if")
            return parse_if();
        if (word == "for")
            return parse_for();
        if (word == "set")
            return parse_set();
        if (word == "macro")
            return parse_macro();
        if (word == "break" || word == "continue") {
            NodePtr n = node(word == "break" ? Node::Kind::break_ : Node::Kind::continue_, kw);
            next();
            expect_block_end();
            return n;
        }
        if (word == "generation") {
            NodePtr n = node(Node::Kind::generation, kw);
            next();
            expect_block_end();
            n->body = parse_body({"endgeneration"});
            close("endgeneration");
            return n;
        }
        if (word == "filter") {
            NodePtr n = node(Node::Kind::filter_block, kw);
            next();
            n->children.push_back(parse_filters(nullptr));
            expect_block_end();
            n->body = parse_body({"endfilter"});
            close("endfilter");
            return n;
        }
        fail(kw, "encountered unknown tag '" + word + "'");
    }

    NodePtr parse_if() {
        NodePtr n = node(Node::Kind::if_, cur());
        next();
        while (true) {
            NodePtr cond = parse_tuple(false, {});
            expect_block_end();
            Body body = parse_body({"elif", "else", "endif"});
            n->branches.emplace_back(std::move(cond), std::move(body));
            next(); // block_begin
            const std::string word = next().value;
            if (word == "elif")
                continue;
            if (word == "else") {
                expect_block_end();
                n->else_body = parse_body({"endif"});
                close("endif");
            } else {
                expect_block_end();
            }
            return n;
        }
    }

    // Names, optionally a tuple of them ("k, v" or "(k, v)").
    void parse_targets(Node& n, bool allow_attr) {
        const bool paren = is_op("(");
        if (paren)
            next();
        n.targets.push_back(expect_name());
        if (allow_attr && is_op(".")) {
            next();
            n.targets.push_back(expect_name());
            n.attr_set = true;
            return;
        }
        while (is_op(",")) {
            n.tuple_target = true;
            next();
            if (cur().type != T::name)
                break;
            n.targets.push_back(expect_name());
        }
        if (paren) {
            n.tuple_target = true;
            expect_op(")");
        }
    }

    NodePtr parse_for() {
        NodePtr n = node(Node::Kind::for_, cur());
        next();
        parse_targets(*n, false);
        if (!is_name("in"))
            fail(cur(), "expected 'in', got " + describe(cur()));
        next();
        n->children.push_back(parse_tuple(false, {"recursive"}, false));
        n->children.push_back(nullptr);
        if (is_name("if")) {
            next();
            n->children[1] = parse_expression(true);
        }
        if (is_name("recursive")) {
            next();
            n->recursive = true;
        }
        expect_block_end();
        n->body = parse_body({"endfor", "else"});
        if (peek().value == "else") {
            next();
            next();
            expect_block_end();
            n->else_body = parse_body({"endfor"});
        }
        close("endfor");
        return n;
    }

    NodePtr parse_set() {
        NodePtr n = node(Node::Kind::set, cur());
        next();
        parse_targets(*n, true);
        if (is_op("=")) {
            next();
            n->children.push_back(parse_tuple(true, {}));
            expect_block_end();
            return n;
        }
        if (n->tuple_target || n->attr_set)
            fail(cur(), "expected '=', got " + describe(cur()));
        n->block_set = true;
        n->children.push_back(is_op("|") ? parse_filters(nullptr) : nullptr);
        expect_block_end();
        n->body = parse_body({"endset"});
        close("endset");
        return n;
    }

    NodePtr parse_macro() {
        NodePtr n = node(Node::Kind::macro, cur());
        next();
        n->name = expect_name();
        expect_op("(");
        while (!is_op(")")) {
            if (!n->keywords.empty())
                expect_op(",");
            if (is_op(")"))
                break;
            n->keywords.push_back(expect_name());
            if (is_op("=")) {
                next();
                n->children.push_back(parse_expression(true));
            } else {
                if (std::any_of(n->children.begin(), n->children.end(),
                                [](const NodePtr& c) { return c != nullptr; }))
                    fail(cur(), "non-default argument follows default argument");
                n->children.push_back(nullptr);
            }
        }
        next();
        expect_block_end();
        n->body = parse_body({"endmacro"});
        close("endmacro");
        return n;
    }

    // ---- expressions ----

    bool tuple_end(std::initializer_list<const char*> extra) const {
        if (cur().type == T::var_end || cur().type == T::block_end || is_op(")"))
            return true;
        return cur().type == T::name && std::any_of(extra.begin(), extra.end(), [&](const char* e) {
                   return cur().value == e;
               });
    }

    NodePtr parse_tuple(bool with_condexpr,
                        std::initializer_list<const char*> extra,
                        bool explicit_parens = false) {
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

    NodePtr parse_expression(bool with_condexpr) {
        return with_condexpr ? parse_condition() : parse_or();
    }

    NodePtr parse_condition() {
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

    NodePtr binary_chain(Node::Kind kind, const char* word, NodePtr (Parser::*sub)()) {
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
    NodePtr parse_or() { return binary_chain(Node::Kind::logic_or, "or", &Parser::parse_and); }
    NodePtr parse_and() { return binary_chain(Node::Kind::logic_and, "and", &Parser::parse_not); }

    NodePtr parse_not() {
        if (is_name("not")) {
            NodePtr n = node(Node::Kind::logic_not, cur());
            next();
            n->children.push_back(parse_not());
            return n;
        }
        return parse_compare();
    }

    NodePtr parse_compare() {
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

    NodePtr binary_ops(std::initializer_list<const char*> ops, NodePtr (Parser::*sub)()) {
        NodePtr left = (this->*sub)();
        while (cur().type == T::op && std::any_of(ops.begin(), ops.end(), [&](const char* o) {
                   return cur().value == o;
               })) {
            NodePtr n = node(Node::Kind::binary, cur());
            n->ops.push_back(next().value);
            n->children.push_back(std::move(left));
            n->children.push_back((this->*sub)());
            left = std::move(n);
        }
        return left;
    }
    NodePtr parse_math1() { return binary_ops({"+", "-"}, &Parser::parse_concat); }
    NodePtr parse_concat() { return binary_ops({"~"}, &Parser::parse_math2); }
    NodePtr parse_math2() { return binary_ops({"*", "/", "//", "%"}, &Parser::parse_pow); }
    NodePtr parse_pow() { return binary_ops({"**"}, &Parser::parse_unary_filtered); }
    NodePtr parse_unary_filtered() { return parse_unary(true); }

    NodePtr parse_unary(bool with_filter) {
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

    // Nesting bound: a template of 100k "(" must fail, not overflow the stack.
    struct Nest {
        Parser& p;
        explicit Nest(Parser& parser) : p(parser) {
            if (++p.depth_ > kMaxNesting)
                p.fail(p.cur(), "expression nested too deeply");
        }
        ~Nest() { --p.depth_; }
    };
    static constexpr int kMaxNesting = 200;

    NodePtr parse_primary() {
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

    NodePtr parse_postfix(NodePtr n) {
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

    NodePtr parse_subscript(NodePtr obj) {
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
    NodePtr parse_subscribed() {
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
    void parse_call_args(Node& n) {
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

    NodePtr parse_call(NodePtr callee, Node::Kind kind) {
        NodePtr n = node(kind, cur());
        n->line = callee->line; // errors point at what is called
        n->column = callee->column;
        n->children.push_back(std::move(callee));
        parse_call_args(*n);
        return n;
    }

    // "| name(args) | name ..." applied to `value` (null: a filter block's own content).
    NodePtr parse_filters(NodePtr value) {
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

    NodePtr parse_filter_expr(NodePtr n) {
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

    NodePtr parse_test(NodePtr value) {
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
                                    cur().type == T::integer || cur().type == T::real ||
                                    is_op("(") || is_op("[") || is_op("{");
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

    std::vector<Token> toks_;
    const std::string& name_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

} // namespace

Body parse(const std::string& source, const std::string& name) {
    return Parser(tokenize(source, name), name).parse_template();
}

} // namespace slimtune::data::jinja
