#include "data/jinja/template.h"

#include "data/jinja/builtins.h"
#include "data/jinja/lexer.h"

namespace slimtune::data::jinja {

namespace {

// Jinja2 refuses a template naming an unknown filter or test when it compiles it, whether or
// not that part would run, except inside an if statement or conditional expression (there it
// fails when it runs).
void check_names(const Body& body, const std::string& name);

void check_node(const Node* n, const std::string& name) {
    if (!n || n->kind == Node::Kind::if_ || n->kind == Node::Kind::condition)
        return;
    if (n->kind == Node::Kind::filter && !is_filter(n->name))
        fail_at(name, n->line, n->column, "no filter named '" + n->name + "'");
    if (n->kind == Node::Kind::test && !is_test(n->name))
        fail_at(name, n->line, n->column, "no test named '" + n->name + "'");
    for (const NodePtr& c : n->children)
        check_node(c.get(), name);
    check_names(n->body, name);
    check_names(n->else_body, name);
}

void check_names(const Body& body, const std::string& name) {
    for (const NodePtr& n : body)
        check_node(n.get(), name);
}

} // namespace

Template::Template(const std::string& source, std::string name, Limits limits)
    : name_(std::move(name)), limits_(limits), body_(parse(source, name_)) {
    check_names(body_, name_);
}

Text Template::render(const Dict& variables, std::optional<std::time_t> now) const {
    Interpreter in(name_, limits_, std::make_shared<Dict>(variables), now);
    return in.render(body_);
}

Value from_json(const nlohmann::ordered_json& j, std::int32_t tag) {
    switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
        return Value::none();
    case nlohmann::ordered_json::value_t::boolean:
        return Value::of(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
        return Value::of(j.get<std::int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned:
        return Value::of(static_cast<std::int64_t>(j.get<std::uint64_t>()));
    case nlohmann::ordered_json::value_t::number_float:
        return Value::of(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
        return Value::of(j.get<std::string>(), tag);
    case nlohmann::ordered_json::value_t::array: {
        List items;
        for (const auto& x : j)
            items.push_back(from_json(x, tag));
        return Value::of(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
        auto d = std::make_shared<Dict>();
        for (const auto& [k, v] : j.items())
            d->items.emplace_back(Value::of(k, tag), from_json(v, tag));
        return Value::of(std::move(d));
    }
    default:
        return Value::undefined();
    }
}

} // namespace slimtune::data::jinja
