#include "data/jinja/interpreter.h"

#include "data/jinja/lexer.h"

#include <cmath>

namespace slimtune::data::jinja {

Interpreter::Interpreter(const std::string& name,
                         const Limits& limits,
                         std::shared_ptr<Dict> variables,
                         std::optional<std::time_t> now)
    : name_(name), limits_(limits), now_(now) {
    frames_.emplace_back(global_functions());
    Frame context;
    for (const auto& [k, v] : variables->items)
        context.emplace_back(k.str(), v);
    frames_.push_back(std::move(context));
}

void Interpreter::fail(const std::string& what) const {
    fail_at(name_, at_ ? at_->line : 0, at_ ? at_->column : 0, what);
}

void Interpreter::step(std::int64_t n) {
    steps_ += n;
    if (steps_ > limits_.max_steps)
        fail("the template ran over its budget of " + std::to_string(limits_.max_steps) +
             " evaluation steps (an endless or very long loop?)");
}

void Interpreter::check_size(std::size_t bytes) const {
    if (bytes > limits_.max_output)
        fail("the template builds more than " + std::to_string(limits_.max_output) +
             " bytes of text");
}

std::time_t Interpreter::now() const {
    return now_ ? *now_ : std::time(nullptr);
}

Text Interpreter::render(const Body& body) {
    Text out;
    exec(body, out);
    return out;
}

void Interpreter::emit(Text& out, const Text& t) {
    out.append(t);
    check_size(out.size());
}

const Value* Interpreter::lookup(const std::string& name) const {
    const std::size_t floor = barriers_.empty() ? 0 : barriers_.back();
    for (std::size_t i = frames_.size(); i-- > floor;)
        for (auto it = frames_[i].rbegin(); it != frames_[i].rend(); ++it)
            if (it->first == name)
                return &it->second;
    for (std::size_t i = std::min<std::size_t>(2, floor); i-- > 0;)
        for (const auto& [k, v] : frames_[i])
            if (k == name)
                return &v;
    return nullptr;
}

void Interpreter::assign(const std::string& name, Value v) {
    for (auto& [k, old] : frames_.back())
        if (k == name) {
            old = std::move(v);
            return;
        }
    frames_.back().emplace_back(name, std::move(v));
}

void Interpreter::bind_targets(const Node& n, const Value& v) {
    if (!n.tuple_target) {
        assign(n.targets[0], v);
        return;
    }
    const List items = iterate(*this, v);
    if (items.size() != n.targets.size())
        fail(std::string(items.size() > n.targets.size() ? "too many" : "not enough") +
             " values to unpack (expected " + std::to_string(n.targets.size()) + ", got " +
             std::to_string(items.size()) + ")");
    for (std::size_t i = 0; i < items.size(); ++i)
        assign(n.targets[i], items[i]);
}

Interpreter::Flow Interpreter::exec(const Body& body, Text& out) {
    for (const NodePtr& n : body)
        if (const Flow f = exec(*n, out); f != Flow::normal)
            return f;
    return Flow::normal;
}

Interpreter::Flow Interpreter::exec(const Node& n, Text& out) {
    step();
    at_ = &n;
    switch (n.kind) {
    case Node::Kind::text:
        emit(out, n.value.text);
        return Flow::normal;
    case Node::Kind::print: {
        const Value v = eval(*n.children[0]);
        emit(out, to_text(v));
        return Flow::normal;
    }
    case Node::Kind::if_:
        for (const auto& [cond, body] : n.branches) {
            at_ = cond.get();
            if (truthy(eval(*cond)))
                return exec(body, out);
        }
        return exec(n.else_body, out);
    case Node::Kind::for_:
        exec_for(n, out);
        return Flow::normal;
    case Node::Kind::set:
        exec_set(n, out);
        return Flow::normal;
    case Node::Kind::macro:
        assign(n.name, make_macro(n));
        return Flow::normal;
    case Node::Kind::break_:
        return Flow::break_;
    case Node::Kind::continue_:
        return Flow::continue_;
    case Node::Kind::generation:
        return exec(n.body, out);
    case Node::Kind::filter_block: {
        Text captured;
        if (const Flow f = exec(n.body, captured); f != Flow::normal)
            return f;
        // The filter chain's innermost value is the captured text.
        const Node* innermost = n.children[0].get();
        std::vector<const Node*> chain;
        for (const Node* f = innermost; f; f = f->children[0].get())
            chain.push_back(f);
        Value v = Value::of(std::move(captured));
        for (std::size_t i = chain.size(); i-- > 0;) {
            at_ = chain[i];
            CallArgs args = eval_args(*chain[i], 1);
            v = apply_filter(*this, chain[i]->name, std::move(v), args);
        }
        emit(out, to_text(v));
        return Flow::normal;
    }
    default:
        fail("not a statement");
    }
}

void Interpreter::exec_for(const Node& n, Text& out) {
    const Value iterable = eval(*n.children[0]);
    List items = iterate(*this, iterable);
    if (n.children[1]) { // {% for x in xs if cond %}: filtered before the loop runs
        List kept;
        frames_.emplace_back();
        for (Value& item : items) {
            step();
            frames_.back().clear();
            bind_targets(n, item);
            if (truthy(eval(*n.children[1])))
                kept.push_back(std::move(item));
        }
        frames_.pop_back();
        items = std::move(kept);
    }
    if (items.empty()) {
        frames_.emplace_back();
        exec(n.else_body, out);
        frames_.pop_back();
        return;
    }
    auto state = std::make_shared<LoopState>();
    state->items = std::make_shared<const List>(std::move(items));
    Value loop;
    loop.kind = Value::Kind::loop;
    loop.loop = state;
    for (std::size_t i = 0; i < state->items->size(); ++i) {
        step();
        state->index = i;
        frames_.emplace_back();
        bind_targets(n, (*state->items)[i]);
        assign("loop", loop);
        const Flow f = exec(n.body, out);
        frames_.pop_back();
        if (f == Flow::break_)
            break;
    }
}

void Interpreter::exec_set(const Node& n, Text& out) {
    (void)out;
    if (n.block_set) {
        Text captured;
        exec(n.body, captured);
        Value v = Value::of(std::move(captured));
        if (n.children[0]) {
            std::vector<const Node*> chain;
            for (const Node* f = n.children[0].get(); f; f = f->children[0].get())
                chain.push_back(f);
            for (std::size_t i = chain.size(); i-- > 0;) {
                at_ = chain[i];
                CallArgs args = eval_args(*chain[i], 1);
                v = apply_filter(*this, chain[i]->name, std::move(v), args);
            }
        }
        assign(n.targets[0], std::move(v));
        return;
    }
    Value v = eval(*n.children[0]);
    at_ = &n;
    if (n.attr_set) {
        const Value* ns = lookup(n.targets[0]);
        if (!ns || ns->kind != Value::Kind::ns)
            fail("cannot assign attribute on non-namespace object");
        ns->dict->set(Value::of(n.targets[1]), std::move(v));
        return;
    }
    bind_targets(n, v);
}

Value Interpreter::make_macro(const Node& n) {
    const Node* node = &n;
    return Value::function(
        n.name, [node](Interpreter& in, CallArgs& args) { return in.call_macro(*node, args); });
}

Value Interpreter::call_macro(const Node& n, CallArgs& args) {
    if (++depth_ > limits_.max_depth)
        fail("macro calls nested deeper than " + std::to_string(limits_.max_depth));
    if (args.positional.size() > n.keywords.size())
        fail("macro '" + n.name + "' takes not more than " + std::to_string(n.keywords.size()) +
             " argument(s)");
    const Node* caller_at = at_;
    barriers_.push_back(frames_.size());
    frames_.emplace_back();
    for (std::size_t i = 0; i < n.keywords.size(); ++i) {
        const std::string& param = n.keywords[i];
        Value v = Value::undefined("'" + param + "' is undefined");
        if (i < args.positional.size()) {
            v = args.positional[i];
        } else if (auto it = std::find_if(args.keyword.begin(), args.keyword.end(),
                                          [&](const auto& kw) { return kw.first == param; });
                   it != args.keyword.end()) {
            v = it->second;
            it->first.clear();
        } else if (n.children[i]) {
            v = eval(*n.children[i]);
        }
        assign(param, std::move(v));
    }
    for (const auto& [k, v] : args.keyword)
        if (!k.empty() && std::find(n.keywords.begin(), n.keywords.end(), k) == n.keywords.end())
            fail("macro '" + n.name + "' takes no keyword argument '" + k + "'");
    Text out;
    exec(n.body, out);
    frames_.pop_back();
    barriers_.pop_back();
    --depth_;
    at_ = caller_at;
    return Value::of(std::move(out));
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
    if (callee.kind == Value::Kind::callable)
        return callee.callable->call(*this, args);
    if (callee.is_undefined())
        fail(callee.undefined_hint.empty() ? "call of an undefined value" : callee.undefined_hint);
    fail("'" + type_name(callee) + "' object is not callable");
}

CallArgs Interpreter::eval_args(const Node& n, std::size_t first) {
    CallArgs args;
    const std::size_t keyword_start = first + n.positional;
    for (std::size_t i = first; i < n.children.size(); ++i) {
        Value v = eval(*n.children[i]);
        if (i < keyword_start)
            args.positional.push_back(std::move(v));
        else
            args.keyword.emplace_back(n.keywords[i - keyword_start], std::move(v));
    }
    return args;
}

Value Interpreter::eval(const Node& n) {
    step();
    switch (n.kind) {
    case Node::Kind::literal:
        return n.value;
    case Node::Kind::name: {
        if (const Value* v = lookup(n.name))
            return *v;
        return Value::undefined("'" + n.name + "' is undefined");
    }
    case Node::Kind::attribute: {
        const Value obj = eval(*n.children[0]);
        at_ = &n;
        if (obj.is_undefined())
            fail(obj.undefined_hint.empty() ? "'" + n.name + "' of an undefined value"
                                            : obj.undefined_hint);
        return get_attribute(*this, obj, n.name);
    }
    case Node::Kind::item: {
        const Value obj = eval(*n.children[0]);
        const Value key = eval(*n.children[1]);
        at_ = &n;
        if (obj.is_undefined())
            fail(obj.undefined_hint.empty() ? "subscript of an undefined value"
                                            : obj.undefined_hint);
        return get_item(*this, obj, key);
    }
    case Node::Kind::slice: {
        const Value obj = eval(*n.children[0]);
        Value parts[3];
        for (int i = 0; i < 3; ++i)
            parts[i] = n.children[i + 1] ? eval(*n.children[i + 1]) : Value::none();
        at_ = &n;
        if (obj.is_undefined())
            fail(obj.undefined_hint.empty() ? "slice of an undefined value" : obj.undefined_hint);
        return get_slice(*this, obj, parts[0], parts[1], parts[2]);
    }
    case Node::Kind::call: {
        const Value callee = eval(*n.children[0]);
        CallArgs args = eval_args(n, 1);
        at_ = &n;
        return call(callee, args);
    }
    case Node::Kind::filter: {
        Value v = eval(*n.children[0]);
        CallArgs args = eval_args(n, 1);
        at_ = &n;
        return apply_filter(*this, n.name, std::move(v), args);
    }
    case Node::Kind::test: {
        const Value v = eval(*n.children[0]);
        CallArgs args = eval_args(n, 1);
        at_ = &n;
        return Value::of(apply_test(*this, n.name, v, args) != n.negated);
    }
    case Node::Kind::negate:
    case Node::Kind::plus: {
        const Value v = eval(*n.children[0]);
        at_ = &n;
        const bool neg = n.kind == Node::Kind::negate;
        if (v.kind == Value::Kind::real)
            return Value::of(neg ? -v.real : v.real);
        if (v.kind == Value::Kind::integer || v.kind == Value::Kind::boolean) {
            if (neg && v.integer == INT64_MIN)
                fail("integer overflow");
            return Value::of(neg ? -v.integer : v.integer);
        }
        fail("bad operand type for unary " + std::string(neg ? "-" : "+") + ": '" + type_name(v) +
             "'");
    }
    case Node::Kind::binary:
        return eval_binary(n);
    case Node::Kind::logic_and: {
        Value l = eval(*n.children[0]);
        return truthy(l) ? eval(*n.children[1]) : l;
    }
    case Node::Kind::logic_or: {
        Value l = eval(*n.children[0]);
        return truthy(l) ? l : eval(*n.children[1]);
    }
    case Node::Kind::logic_not:
        return Value::of(!truthy(eval(*n.children[0])));
    case Node::Kind::compare:
        return eval_compare(n);
    case Node::Kind::condition:
        if (truthy(eval(*n.children[1])))
            return eval(*n.children[0]);
        return n.children[2] ? eval(*n.children[2]) : Value::undefined();
    case Node::Kind::list: {
        List items;
        for (const NodePtr& c : n.children)
            items.push_back(eval(*c));
        return Value::of(std::move(items), n.value.kind == Value::Kind::boolean);
    }
    case Node::Kind::dict: {
        auto d = std::make_shared<Dict>();
        for (std::size_t i = 0; i + 1 < n.children.size(); i += 2) {
            Value k = eval(*n.children[i]);
            at_ = &n;
            if (!k.is_string())
                fail("dictionary keys must be strings here, got '" + type_name(k) + "'");
            d->set(std::move(k), eval(*n.children[i + 1]));
        }
        return Value::of(std::move(d));
    }
    default:
        at_ = &n;
        fail("not an expression");
    }
}

} // namespace slimtune::data::jinja
