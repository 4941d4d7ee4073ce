// A recursive-descent parser with Jinja2's grammar: the statements (if, for, set, macro,
// filter, generation, break, continue); parser_expressions.cpp parses the expressions.
#include "data/jinja/parser_impl.h"

namespace slimtune::data::jinja {

Body Parser::parse_template() {
    Body body = parse_body({});
    if (cur().type != T::end)
        fail(cur(), "unexpected tag");
    return body;
}

// Statements until a block tag whose keyword is in `ends` (left current), or the end.
Body Parser::parse_body(std::initializer_list<const char*> ends) {
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
            if (kw.type == T::name &&
                std::any_of(ends.begin(), ends.end(), [&](const char* e) { return kw.value == e; }))
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
void Parser::close(const char* end) {
    next(); // block_begin
    next(); // keyword
    expect_block_end();
    (void)end;
}

NodePtr Parser::parse_statement() {
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

NodePtr Parser::parse_if() {
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
void Parser::parse_targets(Node& n, bool allow_attr) {
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

NodePtr Parser::parse_for() {
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

NodePtr Parser::parse_set() {
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

NodePtr Parser::parse_macro() {
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

Body parse(const std::string& source, const std::string& name) {
    return Parser(tokenize(source, name), name).parse_template();
}

} // namespace slimtune::data::jinja
