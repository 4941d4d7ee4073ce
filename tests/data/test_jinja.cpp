// The Jinja engine (data/jinja/) against Python's Jinja2 in transformers' environment: one
// golden per construct (tests/reference/gen_jinja.py writes tests/golden/jinja/constructs.json),
// then what Jinja2 cannot tell us: error positions, the budgets that stop runaway templates,
// and the provenance tags of the output.
#include "common/error.h"
#include "common/text.h"
#include "data/jinja/lexer.h"
#include "data/jinja/template.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

using namespace slimtune;
using namespace slimtune::data::jinja;
using Catch::Matchers::Contains;

namespace {

constexpr std::time_t kFixedNow = 1721995200; // tests/reference/jinja_env.py FIXED_NOW

Dict variables(const nlohmann::ordered_json& vars) {
    Dict d;
    for (const auto& [k, v] : vars.items())
        d.set(Value::of(k), from_json(v));
    return d;
}

std::string render(const std::string& source, const Dict& vars = {}, Limits limits = {}) {
    return Template(source, "t.jinja", limits).render(vars, kFixedNow).str();
}

} // namespace

TEST_CASE("jinja: every construct renders as Jinja2 renders it, or fails where it fails",
          "[jinja]") {
    const auto cases = nlohmann::ordered_json::parse(read_file(
        std::filesystem::path(SLIMTUNE_SOURCE_DIR) / "tests/golden/jinja/constructs.json"));
    REQUIRE(cases.size() >= 90);
    std::size_t errors = 0;
    for (const auto& c : cases) {
        const std::string name = c["name"].get<std::string>();
        const std::string source = c["template"].get<std::string>();
        INFO(name << ": " << source);
        const Dict vars = variables(c["vars"]);
        if (c.contains("error")) {
            INFO("Jinja2: " << c["error"].get<std::string>());
            ++errors;
            CHECK_THROWS_AS(render(source, vars), TemplateError);
            continue;
        }
        std::string got;
        try {
            got = render(source, vars);
        } catch (const std::exception& e) {
            FAIL_CHECK("slimtune failed: " << e.what());
            continue;
        }
        CHECK(got == c["text"].get<std::string>());
    }
    CHECK(errors >= 20);
}

TEST_CASE("jinja: errors name the template, the line and the column", "[jinja]") {
    CHECK_THROWS_WITH(render("line one\n{% if x %}\n  {{ 1 + }}\n{% endif %}"),
                      Contains("t.jinja:3:10: unexpected end of print statement"));
    CHECK_THROWS_WITH(render("{% for m in ms %}\n{{ raise_exception('roles must alternate') }}"
                             "{% endfor %}",
                             variables({{"ms", {1}}})),
                      Contains("t.jinja:2:4: roles must alternate"));
    CHECK_THROWS_WITH(render("ok\n\n   {{ nothing.attr }}"),
                      Contains("t.jinja:3:") && Contains("'nothing' is undefined"));
    CHECK_THROWS_WITH(render("{% if true %}x"), Contains("t.jinja:1:") && Contains("endif"));
    CHECK_THROWS_WITH(render("{{ 'abc }}"), Contains("t.jinja:1:4: unterminated string"));
    CHECK_THROWS_WITH(render("{{ x | nosuch }}"), Contains("no filter named 'nosuch'"));
}

TEST_CASE("jinja: budgets stop templates that would run or grow without end", "[jinja]") {
    Limits small;
    small.max_steps = 100'000;
    // range is capped at 100000 as in Jinja2's sandbox, but nesting multiplies.
    CHECK_THROWS_WITH(render("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}"
                             "{% endfor %}",
                             {}, small),
                      Contains("budget of 100000 evaluation steps"));
    Limits tiny_output;
    tiny_output.max_output = 1000;
    CHECK_THROWS_WITH(render("{{ 'x' * 5000 }}", {}, tiny_output), Contains("1000 bytes"));
    CHECK_THROWS_WITH(render("{% for i in range(100) %}{{ 'abcdefghijklmnopqrstuvwxyz' }}"
                             "{% endfor %}",
                             {}, tiny_output),
                      Contains("1000 bytes"));
    // Doubling a string: each step is cheap, the size is what stops it.
    CHECK_THROWS_WITH(render("{% set ns = namespace(s='x') %}{% for i in range(64) %}"
                             "{% set ns.s = ns.s + ns.s %}{% endfor %}",
                             {}, tiny_output),
                      Contains("1000 bytes"));
    // A macro that calls itself.
    CHECK_THROWS_WITH(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
                      Contains("nested deeper than 100"));
    // Deep nesting in the source is refused by the parser, not the stack.
    CHECK_THROWS_WITH(render("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
                      Contains("nested too deeply"));
    CHECK_THROWS_WITH(render(std::string(5000, '[') + "{{ " + std::string(5000, '-') + "1 }}"),
                      Contains("nested too deeply"));
    CHECK_THROWS_WITH(render("{{ 2 ** 64 }}"), Contains("overflow"));
}

TEST_CASE("jinja: output bytes carry the provenance of what produced them", "[jinja]") {
    Dict vars;
    List messages;
    for (int i = 0; i < 2; ++i) {
        auto m = std::make_shared<Dict>();
        m->set(Value::of("role"), Value::of(i == 0 ? "user" : "assistant"));
        m->set(Value::of("content"),
               Value::of(std::string(i == 0 ? "  hi  " : "<think>r</think>ok"), i + 1));
        messages.push_back(Value::of(m));
    }
    vars.set(Value::of("messages"), Value::of(messages));
    const Template t("{% for m in messages %}<{{ m.role }}>"
                     "{{ (m.content | trim).split('</think>')[-1] + '|' ~ m.content[:2] }}"
                     "{% endfor %}",
                     "t");
    const Text out = t.render(vars);
    CHECK(out.str() == "<user>hi|  <assistant>ok|<t");
    std::string tags;
    for (std::size_t i = 0; i < out.size(); ++i)
        tags += static_cast<char>('0' + out.tag_at(i));
    CHECK(tags == "000000110110000000000022022");
}
