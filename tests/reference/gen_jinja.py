#!/usr/bin/env python3
"""Writes tests/golden/jinja/constructs.json: one case per Jinja construct that chat templates
use, rendered by Python's Jinja2 in transformers' environment (jinja_env.py). Each record is
{"name", "template", "vars", "text"} or, where Jinja2 refuses the template or raises while
rendering it, {"name", "template", "vars", "error"}. tests/data/test_jinja.cpp renders each
with slimtune's engine and compares.

Usage (from the repository root; needs Debian's python3-jinja2):
    /usr/bin/python3 tests/reference/gen_jinja.py
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jinja_env import make_env, render  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "golden" / "jinja" / "constructs.json"

MSGS = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": " Hi  "},
        {"role": "assistant", "content": "Hello <b>x</b> & 'q' \"d\""}]
UNI = "héllo wörld ß ǅ 日本語 😀"

CASES = [
    # literals and printing
    ("text", "plain text", {}),
    ("print_values", "{{ 1 }}|{{ 1.5 }}|{{ -2 }}|{{ true }}|{{ none }}|{{ 'a' }}|{{ \"b\" }}", {}),
    ("print_floats", "{{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 2.5e3 }} {{ 1_000 }} {{ 10/4 }} {{ 10/5 }}", {}),
    ("print_containers", "{{ [1, 'a', none, true, 2.0] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ (1, 'x') }} {{ [] }} {{ {} }}", {}),
    ("print_repr_quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\tnl\\n\\\\'] }}", {}),
    ("print_undefined", "[{{ nothing }}][{{ messages[7] }}][{{ messages[0].nope }}]", {"messages": MSGS}),
    ("string_escapes", "{{ 'a\\nb\\tc\\\\d\\'e\\\"f\\x41\\u00e9\\U0001F600' }}", {}),
    ("adjacent_strings", "{{ 'a' 'b' \"c\" }}", {}),
    ("unicode_text", "{{ s }} {{ s|length }} {{ s[1] }} {{ s[-1] }} {{ s[::-1] }} {{ s|upper }} {{ s|lower }} {{ s|title }}", {"s": UNI}),
    # whitespace control
    ("trim_blocks", "{% if true %}\nyes\n{% endif %}\nafter\n", {}),
    ("lstrip_blocks", "  {% if true %}\n    x\n  {% endif %}\n  {{ 'v' }}\n\t{% for i in [1,2] %}\n{{ i }}\n\t{% endfor %}\n", {}),
    ("minus_control", "a   {{- ' b ' -}}   c\n  {%- if true -%}  d  {%- endif -%}  \n e", {}),
    ("plus_control", "  {%+ if true %}x{% endif +%}\ny", {}),
    ("comments", "a {# comment #} b\n  {# line #}\nc {#- trimmed -#} d", {}),
    ("trailing_newline", "line\n", {}),
    ("crlf", "a\r\n{% if true %}\r\nb\r\n{% endif %}\r\nc", {}),
    ("raw_block", "{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("lstrip_after_var", "{{ 'x' }}  {% if true %}y{% endif %}", {}),
    # expressions
    ("arithmetic", "{{ 7 + 3 }} {{ 7 - 10 }} {{ 7 * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }}", {}),
    ("precedence", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 1 ~ 2 + 3 }} {{ not true or true }} {{ not (true or true) }}", {}),
    ("bool_arithmetic", "{{ true + 1 }} {{ true == 1 }} {{ 1 == 1.0 }} {{ false * 3 }}", {}),
    ("string_ops", "{{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 2 * 'x' }} {{ 'a' ~ 1 ~ none ~ true }} {{ [1] + [2] }} {{ [0] * 3 }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 2 >= 2 }} {{ 1 != 1.0 }} {{ 'a' == 'a' }} {{ none == none }} {{ x == y }}", {}),
    ("in_operator", "{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'v' in {'k': 'v'} }} {{ 1 in [] }}", {}),
    ("and_or_values", "{{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }} {{ none or none }} [{{ undefinedvar or '' }}]", {}),
    ("conditional_expr", "{{ 'y' if true else 'n' }} {{ 'y' if false else 'n' }} [{{ 'y' if false }}] {{ 'a' if false else 'b' if true else 'c' }}", {}),
    ("attribute_item", "{{ m.role }} {{ m['content'] }} {{ ms[0].role }} {{ ms.0.role }} {{ ms[-1]['role'] }}", {"m": MSGS[0], "ms": MSGS}),
    ("dict_methods", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {{ d.keys()|list }} {{ d.values()|list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 9) }} {{ d['items'] }}", {"d": {"a": 1, "b": [2], "items": "x"}}),
    ("slicing", "{{ l[1:] }} {{ l[:-1] }} {{ l[::2] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[5:] }} {{ s[1:4] }} {{ s[::-2] }} {{ s[:100] }}", {"l": [1, 2, 3, 4], "s": "abcdefg"}),
    ("list_dict_literals", "{% set l = [1, [2, 3], {'a': (4, 5)}] %}{{ l[1][0] }}{{ l[2].a[1] }}{{ l|length }} {{ {'x': 1, 'x': 2} }}", {}),
    ("tuple_unpack", "{% set a, b = [1, 2] %}{{ a }}{{ b }} {% set (c, d) = ('x', 'y') %}{{ c }}{{ d }}", {}),
    # statements
    ("if_elif_else", "{% for x in [1, 2, 3, 0] %}{% if x == 1 %}one{% elif x == 2 %}two{% elif x %}many{% else %}zero{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}[{{ loop.previtem }}|{{ loop.nextitem }}]{{ loop.cycle('o', 'e') }};{% endfor %}", {}),
    ("for_else", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in [1] %}{{ x }}{% else %}no{% endfor %}", {}),
    ("for_filter", "{% for m in ms if m.role != 'system' %}{{ loop.index }}:{{ m.role }}/{{ loop.length }} {% endfor %}", {"ms": MSGS}),
    ("for_dict_and_string", "{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %} {% for c in 'hé' %}[{{ c }}]{% endfor %}", {}),
    ("for_nested_loop", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{{ loop.index }}|{% endfor %}", {}),
    ("loop_controls", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("set_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }};{% endfor %}{{ x }}{% if true %}{% set x = 5 %}{% endif %}{{ x }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.count = ns.count + i %}{% if i == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }} {{ ns.missing }}", {}),
    ("set_block", "{% set greeting %}Hello {{ name }}!{% endset %}[{{ greeting }}] {% set up | upper %}shout{% endset %}{{ up }}", {"name": "Ann"}),
    ("macros", "{% macro tag(name, value='d', extra=none) %}<{{ name }}={{ value }}{{ '/' ~ extra if extra }}>{% endmacro %}{{ tag('a') }}{{ tag('b', 'v') }}{{ tag('c', extra=1) }}{{ tag(value='w', name='n') }}", {}),
    ("macro_scope", "{% set outer = 'o' %}{% macro m(x) %}{% set y = x ~ outer %}{{ y }}{% endmacro %}{{ m('a') }}[{{ y }}]", {}),
    ("generation_tag", "{% for m in ms %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}|{% endfor %}", {"ms": MSGS}),
    ("filter_block", "{% filter upper %}abc {{ 'd' }}{% endfilter %}", {}),
    # tests
    ("tests_types", "{{ x is defined }} {{ y is undefined }} {{ n is none }} {{ s is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ true is boolean }} {{ true is number }} {{ d is mapping }} {{ l is iterable }} {{ s is sequence }} {{ l is sequence }} {{ range is callable }}", {"x": 1, "n": None, "s": "s", "d": {}, "l": []}),
    ("tests_values", "{{ true is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is in [1, 2] }} {{ 'a' is eq 'a' }} {{ 3 is gt 2 }} {{ 3 is lt 2 }} {{ none is sameas none }} {{ x is not none }}", {"x": 1}),
    ("test_precedence", "{{ x is defined and x }} {{ not x is none }} {{ 'a' if x is defined else 'b' }}", {"x": 0}),
    # filters
    ("filter_trim", "[{{ '  a b \\n'|trim }}][{{ 'xxaxx'|trim('x') }}][{{ nothing|trim }}]", {}),
    ("filter_case", "{{ 'hello world'|upper }} {{ 'HeLLo'|lower }} {{ 'hello wORLD 3rd'|title }} {{ 'hELLO world'|capitalize }}", {}),
    ("filter_length", "{{ 'héllo'|length }} {{ [1, 2]|length }} {{ {'a': 1}|length }} {{ [1,2,3]|count }} {{ nothing|length }}", {}),
    ("filter_tojson", "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ 'é\"\\n\\u0001'|tojson }} {{ [1.0, none, true]|tojson }} {{ d|tojson(sort_keys=true) }} {{ d|tojson(separators=(',', ':')) }} {{ 'é'|tojson(ensure_ascii=true) }} {{ [[], {}]|tojson(indent=2) }}", {"d": {"b": 1, "a": [1, {"c": "ü"}], "e": 2.5}}),
    ("filter_join", "{{ ['a', 'b']|join }} {{ ['a', 'b']|join(', ') }} {{ [1, 2]|join('-') }} {{ ms|join('/', attribute='role') }}", {"ms": MSGS}),
    ("filter_replace", "{{ 'aaa'|replace('a', 'b') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 'abc'|replace('', '-') }} {{ 'x.y'.replace('.', '') }}", {}),
    ("filter_default", "{{ nothing|default('d') }} {{ ''|default('d') }} {{ ''|default('d', true) }} {{ 0|d('z', boolean=true) }} {{ x|default('d') }}", {"x": "set"}),
    ("filter_first_last", "{{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ 'abc'|first }} {{ 'abc'|last }} [{{ []|first }}]", {}),
    ("filter_items", "{% for k, v in d|items %}{{ k }}:{{ v }} {% endfor %}{% for k, v in d|dictsort %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("filter_select", "{{ ms|selectattr('role', 'equalto', 'user')|list|length }} {{ ms|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }} {{ [0, 1, 2, '']|select|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ ms|selectattr('tool_calls', 'defined')|list }} {{ ms|map(attribute='role')|join(',') }} {{ ['a', 'b']|map('upper')|list }}", {"ms": MSGS}),
    ("filter_misc", "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ [3, 1, 2]|sort(reverse=true) }} {{ [1, 2, 1]|unique|list }} {{ [1, 5, 3]|max }} {{ [4, 2]|min }} {{ [1, 2.5]|sum }} {{ -3|abs }} {{ '42'|int + 1 }} {{ '2.5'|float }} {{ 'x'|int }} {{ 3|float }} {{ 2.7|int }} {{ [1, 2]|reverse|list }} {{ 'abc'|reverse }} {{ 2.567|round(2) }} {{ 2.5|round }} {{ 'a b  c'|wordcount }}", {}),
    ("filter_string_list", "{{ 1|string + 'x' }} {{ 'ab'|list }} {{ (1, 2)|list }} {{ none|string }}", {}),
    ("filter_indent", "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent(2, blank=true) }}|{{ 'x'|indent('> ', first=true) }}", {}),
    ("filter_escape", "{{ '<a href=\"x\">&\\'</a>'|e }} {{ 'plain'|safe }}", {}),
    ("filter_chain", "{{ ' Hello '|trim|lower|replace('l', 'L')|length }} {{ -1|abs }}", {}),
    # string methods
    ("str_methods", "{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ '  x  '.strip() }}|{{ '\\n\\nx\\n'.lstrip('\\n') }}|{{ 'x\\n\\n'.rstrip('\\n') }}|{{ 'xyx'.strip('x') }}|{{ '  x '.lstrip() }}|{{ ' x  '.rstrip() }}|", {}),
    ("str_split", "{{ 'a,b,,c'.split(',') }} {{ ' a  b c '.split() }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ 'a<think>b</think>c'.split('</think>')[-1] }} {{ '  a b  c  '.split(none, 1) }} {{ '  a b  c  '.rsplit(none, 1) }} {{ 'x'.split('y') }} {{ ''.split(',') }} {{ ''.split() }}", {}),
    ("str_misc", "{{ 'Hello'.upper() }} {{ 'Hello'.lower() }} {{ 'hello world'.title() }} {{ 'hello'.capitalize() }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.rfind('c') }} {{ 'abc'.find('z') }} {{ 'aaa'.count('a') }} {{ ', '.join(['a', 'b']) }} {{ '12'.isdigit() }} {{ 'a1'.isalpha() }} {{ '   '.isspace() }} {{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'éa'.find('a') }}", {}),
    # globals
    ("range", "{{ range(3)|list }} {{ range(1, 4)|list }} {{ range(10, 0, -3)|list }} {{ range(0)|list }}", {}),
    ("dict_global", "{{ dict(a=1, b='x') }} {% set d = dict(x=1) %}{{ d.x }}", {}),
    ("raise_exception", "before{{ raise_exception('Conversation roles must alternate') }}after", {}),
    ("raise_in_branch", "{% if x %}{{ raise_exception('bad ' ~ x) }}{% endif %}ok", {"x": 0}),
    ("strftime_now", "{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d') }}", {}),
    # errors: both engines must refuse
    ("unknown_filter_in_if", "{% if false %}{{ x|nosuchfilter }}{% endif %}ok", {}),
    ("error_unknown_filter", "{% for x in [] %}{{ x|nosuchfilter }}{% endfor %}", {}),
    ("error_unknown_filter_in_if", "{% if true %}{{ x|nosuchfilter }}{% endif %}", {}),
    ("error_unknown_test", "{{ x is nosuchtest }}", {}),
    ("error_syntax_unclosed", "{% if true %}x", {}),
    ("error_syntax_bad_tag", "{% frobnicate %}", {}),
    ("error_syntax_expr", "{{ 1 + }}", {}),
    ("error_unclosed_string", "{{ 'abc }}", {}),
    ("error_attribute_of_undefined", "{{ nothing.attr }}", {}),
    ("error_add_undefined", "{{ nothing + 1 }}", {}),
    ("error_type_add", "{{ 'a' + 1 }}", {}),
    ("error_div_zero", "{{ 1 // 0 }}", {}),
    ("error_immutable_append", "{% set l = [] %}{{ l.append(1) }}", {}),
    ("error_immutable_update", "{% set d = {} %}{{ d.update({'a': 1}) }}", {}),
    ("error_range_too_big", "{{ range(1000000)|length }}", {}),
    ("error_not_iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("error_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}", {}),
    ("error_set_attr_non_namespace", "{% set d = {} %}{% set d.x = 1 %}", {}),
    ("error_tojson_undefined", "{{ nothing|tojson }}", {}),
    ("error_call_string", "{{ 'a'() }}", {}),
    ("error_compare_types", "{{ 1 < 'a' }}", {}),
    ("error_macro_args", "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}", {}),
    ("error_in_int", "{{ 1 in 'abc' }}", {}),
    ("error_empty_separator", "{{ 'a'.split('') }}", {}),
]


def main():
    env = make_env()
    records = []
    names = set()
    for name, template, variables in CASES:
        assert name not in names, name
        names.add(name)
        text, error = render(env, template, variables)
        record = {"name": name, "template": template, "vars": variables}
        if error is None:
            record["text"] = text
        else:
            record["error"] = error
        records.append(record)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, ensure_ascii=False, indent=1) + "\n", "utf-8")
    os.replace(tmp, OUT)
    errors = sum("error" in r for r in records)
    print(f"{OUT.relative_to(ROOT)}: {len(records)} cases ({errors} refused by Jinja2)")


if __name__ == "__main__":
    main()
