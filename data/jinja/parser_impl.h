// The parser's class (parser.cpp: statements, parser_expressions.cpp: expressions), shared
// by the two files only.
#pragma once

#include "data/jinja/ast.h"
#include "data/jinja/lexer.h"

#include <algorithm>
#include <initializer_list>

namespace slimtune::data::jinja {

class Parser {
    using T = Token::Type;

public:
    Parser(std::vector<Token> tokens, const std::string& name)
        : toks_(std::move(tokens)), name_(name) {}
    Body parse_template();

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
    Body parse_body(std::initializer_list<const char*> ends);

    // After the block tag's keyword `end` is current: consumes "{% end %}".
    void close(const char* end);

    NodePtr parse_statement();

    NodePtr parse_if();

    // Names, optionally a tuple of them ("k, v" or "(k, v)").
    void parse_targets(Node& n, bool allow_attr);

    NodePtr parse_for();

    NodePtr parse_set();

    NodePtr parse_macro();

    // ---- expressions ----

    bool tuple_end(std::initializer_list<const char*> extra) const;

    NodePtr parse_tuple(bool with_condexpr,
                        std::initializer_list<const char*> extra,
                        bool explicit_parens = false);

    NodePtr parse_expression(bool with_condexpr);

    NodePtr parse_condition();

    NodePtr binary_chain(Node::Kind kind, const char* word, NodePtr (Parser::*sub)());
    NodePtr parse_or() { return binary_chain(Node::Kind::logic_or, "or", &Parser::parse_and); }
    NodePtr parse_and() { return binary_chain(Node::Kind::logic_and, "and", &Parser::parse_not); }
    NodePtr parse_not();

    NodePtr parse_compare();

    NodePtr binary_ops(std::initializer_list<const char*> ops, NodePtr (Parser::*sub)());
    NodePtr parse_math1() { return binary_ops({"+", "-"}, &Parser::parse_concat); }
    NodePtr parse_concat() { return binary_ops({"~"}, &Parser::parse_math2); }
    NodePtr parse_math2() { return binary_ops({"*", "/", "//", "%"}, &Parser::parse_pow); }
    NodePtr parse_pow() { return binary_ops({"**"}, &Parser::parse_unary_filtered); }
    NodePtr parse_unary_filtered() { return parse_unary(true); }
    NodePtr parse_unary(bool with_filter);

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

    NodePtr parse_primary();

    NodePtr parse_postfix(NodePtr n);

    NodePtr parse_subscript(NodePtr obj);

    // An index or a slice start:stop:step (a slice node without its object yet).
    NodePtr parse_subscribed();

    // "(args)" into `n` (whose children[0..] may already hold the callee or filtered value).
    void parse_call_args(Node& n);

    NodePtr parse_call(NodePtr callee, Node::Kind kind);

    // "| name(args) | name ..." applied to `value` (null: a filter block's own content).
    NodePtr parse_filters(NodePtr value);

    NodePtr parse_filter_expr(NodePtr n);

    NodePtr parse_test(NodePtr value);

    std::vector<Token> toks_;
    const std::string& name_;
    std::size_t pos_ = 0;
    int depth_ = 0;
};

} // namespace slimtune::data::jinja
