"""Runs every `slimtune` command of the README's shell blocks, so that none of them drifts from
the tool: each must exit 0. The commands run as written, with only these changes (the SUBSTITUTE
table): the model a reader downloads is the embedded default (a Llama with a tokenizer), their
JSONL is GCIDE text from `slimtune corpus`, and training stops after a few steps. (The model
copy gets ChatML's chat template: the instruct models the README names have one.) Blocks run in
README order, except that the step-by-step block and then the export block run first (the
others use their run and files). Commands that are not slimtune's (the build and test scripts,
`cmake --install`, `man`) are listed and skipped, as CI and cli.install run them; so is the
quickstart, which cli.quickstart_quick runs.

    check_readme_commands.py SLIMTUNE_BINARY REPO_ROOT WORK_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys

STEPS = "2"  # training steps of every train command

# (regex, replacement), applied in order to each command line.
SUBSTITUTE = [
    (r"\bmodels/smollm2-135m\b|\bMODEL_DIR\b|(?<![\w/])base/", "model"),
    (r"\bruns/x/adapter\b", "runs/smollm2-135m/adapter"),
    (r"\bruns/x/data/validation\.jsonl\b", "runs/smollm2-135m/data/validation.jsonl"),
    (r"\bruns/x\b", "runs/smollm2-135m"),
    (r"\[(--[^\]]*)\]", r"\1"),  # optional arguments, given
    (r" \.\.\. ", " --model.path model --data.train curated/curated.jsonl "),
    (r"--train\.max_steps \d+", "--train.max_steps 4"),
]
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
          "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\\n' }}{% endif %}")

# Extra arguments of each train command (a few steps, a context the tiny model has).
TRAIN_ARGS = (f" --train.max_steps {STEPS} --train.seq_len 128 --eval.every 0"
              " --checkpoint.every 0 --threads 2")


def fail(what):
    print("check_readme_commands: " + what, file=sys.stderr)
    sys.exit(1)


def blocks(readme):
    """The ```sh blocks: lists of commands, continuation lines joined, comments dropped."""
    out = []
    for body in re.findall(r"^```sh\n(.*?)^```", readme, re.M | re.S):
        commands, line = [], ""
        for raw in body.splitlines():
            text = re.sub(r"\s{2,}#.*$", "", raw).rstrip()
            if text.endswith("\\"):
                line += text[:-1].rstrip() + " "
                continue
            line += text.strip()
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(re.sub(r"\s+", " ", line.strip()))
            line = ""
        out.append(commands)
    return out


def prepare(binary, work, root):
    os.makedirs(work)
    os.symlink(os.path.join(root, "recipes"), os.path.join(work, "recipes"))  # run from the clone
    model = os.path.join(work, "model")
    shutil.copytree(os.path.join(root, "embedded", "tiny-gcide"), model)
    # The instruct models the README names carry a chat template (chat, ollama need one); the
    # embedded default is a base model, so its copy gets ChatML's.
    config_path = os.path.join(model, "tokenizer_config.json")
    config = json.load(open(config_path))
    config["chat_template"] = CHATML
    json.dump(config, open(config_path, "w"), indent=2)
    subprocess.run([binary, "corpus", "--out", "corpus"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def head(src, dst, n):
        with open(os.path.join(work, "corpus", src)) as f, open(os.path.join(work, dst), "w") as g:
            for i, line in enumerate(f):
                if i == n:
                    break
                g.write(line)
    head("medical.jsonl", "notes.jsonl", 400)
    head("medical-heldout.jsonl", "heldout.jsonl", 40)
    head("medical-heldout.jsonl", "data.jsonl", 40)
    with open(os.path.join(work, "ids.jsonl"), "w") as f:
        f.write("[1, 2, 3]\n")


def main():
    binary, root, work = sys.argv[1], sys.argv[2], sys.argv[3]
    shutil.rmtree(work, ignore_errors=True)
    base = os.path.join(work, "base")
    prepare(binary, base, root)
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    all_blocks = blocks(readme)
    # The step-by-step block makes the run; the export block makes x-lora.gguf that another
    # block inspects.
    def block_with(needle):
        found = [b for b in all_blocks if any(needle in c for c in b)]
        if len(found) != 1:
            fail(f"no single README block with '{needle}': the README changed?")
        return found[0]
    first = [block_with("slimtune inspect models/"), block_with("--format gguf-lora")]
    ran, skipped = 0, []
    # The first blocks run in `base`; every other block in a fresh copy of it, since the
    # README's blocks are alternatives, not one script (two of them start the same run).
    rest = [b for b in all_blocks if all(b is not f for f in first)]
    for i, block in enumerate(first + rest):
        cwd = base
        if i >= len(first):
            cwd = os.path.join(work, f"block{i}")
            shutil.copytree(base, cwd, symlinks=True)
            if block and block[0].startswith("slimtune train recipes/"):
                shutil.rmtree(os.path.join(cwd, "runs"))  # a block that starts its own run
        for command in block:
            if not re.search(r"(^|\| *)slimtune ", command) or "slimtune quickstart" in command:
                skipped.append(command)
                continue
            line = command
            for pattern, replacement in SUBSTITUTE:
                line = re.sub(pattern, replacement, line)
            if re.match(r"^slimtune train (?!--resume)", line):
                line += TRAIN_ARGS
            script = f'slimtune() {{ "{binary}" "$@"; }}\nset -o pipefail\n{line}\n'
            r = subprocess.run(["bash", "-c", script], cwd=cwd, capture_output=True, text=True,
                               timeout=600)
            if r.returncode != 0:
                fail(f"README command failed (exit {r.returncode}):\n  {command}\nran as:\n  {line}\n"
                     + "\n".join(r.stderr.strip().splitlines()[-8:]))
            ran += 1
    print(f"check_readme_commands: {ran} README commands ran; skipped: " + "; ".join(skipped))
    if ran < 30:
        fail(f"only {ran} commands found: the README's shell blocks moved?")


main()
