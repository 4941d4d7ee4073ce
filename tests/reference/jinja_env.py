"""transformers' chat-template environment, rebuilt with Debian's python3-jinja2.

transformers (src/transformers/utils/chat_template_utils.py) renders chat templates with an
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
extension, a {% generation %} tag, its own tojson filter (json.dumps with ensure_ascii=False)
and the raise_exception and strftime_now globals. slimtune's Jinja engine (data/jinja/) must
render exactly what this environment renders.
"""
import json
from datetime import datetime

from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The moment strftime_now sees in the goldens (noon UTC, so the date is the same in any zone).
FIXED_NOW = 1721995200  # 2024-07-26 12:00:00 UTC


class GenerationTag(Extension):
    """{% generation %}...{% endgeneration %}: renders its body (transformers marks it)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def make_env(fixed_now=True):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, "jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    now = (lambda: datetime.fromtimestamp(FIXED_NOW)) if fixed_now else datetime.now
    env.globals["strftime_now"] = lambda fmt: now().strftime(fmt)
    return env


def render(env, source, variables):
    """(text, None) or (None, error message): a template that fails to parse or raises."""
    try:
        return env.from_string(source).render(**variables), None
    except Exception as exc:  # noqa: BLE001 - any Jinja2 or Python error is a refusal
        return None, f"{type(exc).__name__}: {exc}"
