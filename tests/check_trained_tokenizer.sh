#!/usr/bin/env bash
# A tokenizer learned by `slimtune tokenizer-train` must load in transformers.js and encode the
# hard corpus to the same ids as slimtune (live: runs the trainer, then both encoders).
#   check_trained_tokenizer.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR
set -euo pipefail
bin=$1 root=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
corpus=$root/tests/fixtures/tokenizer/corpus.jsonl
# Train on the corpus plus the README (prose) with a small vocabulary and every pre-tokenizer.
for pre in qwen2 llama3 gpt2 smollm; do
    out=$work/$pre
    "$bin" tokenizer-train "$corpus" "$root/README.md" --vocab-size 700 --pre-tokenizer "$pre" \
        --out "$out" > "$work/$pre.log"
    "$bin" tokenize --tokenizer "$out" --jsonl < "$corpus" > "$work/$pre.ours"
    node "$root/tests/reference/encode_file.mjs" "$out/tokenizer.json" "$out/tokenizer_config.json" \
        < "$corpus" > "$work/$pre.reference"
    node -e '
const fs = require("fs");
const ours = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.stringify(JSON.parse(l)));
const ref = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.stringify(JSON.parse(l).ids));
if (ours.length !== ref.length || ours.length < 300) { console.error(`line counts differ: ${ours.length} vs ${ref.length}`); process.exit(1); }
let bad = 0;
ours.forEach((o, i) => { if (o !== ref[i] && ++bad <= 3) console.error(`line ${i + 1}: ${o} != ${ref[i]}`); });
if (bad) { console.error(`${process.argv[3]}: ${bad} lines differ`); process.exit(1); }
console.log(`${process.argv[3]}: ${ours.length} lines identical`);
' "$work/$pre.ours" "$work/$pre.reference" "$pre"
    grep -q "vocab 700 " "$work/$pre.log" || { cat "$work/$pre.log"; exit 1; }
done
