#!/usr/bin/env bash
# Installs what is missing (Debian packages), configures and builds slimtune.
#   scripts/build.sh              Release build in build/: the tool, the tests, the benchmarks
#   scripts/build.sh --no-tests   Release build of the tool alone (no Catch2, Node.js or Go needed)
#   scripts/build.sh --sanitize   ASan + UBSan build of the tests in build-asan/ (RelWithDebInfo)
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
flags=(-DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=ON -DSLIMTUNE_BUILD_BENCH=ON)
deps=(--tests)
for arg in "$@"; do
    case "$arg" in
        --sanitize) dir=build-asan
                    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLIMTUNE_SANITIZE=ON
                           -DSLIMTUNE_BUILD_TESTS=ON -DSLIMTUNE_BUILD_BENCH=OFF) ;;
        --no-tests) flags=(-DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=OFF
                           -DSLIMTUNE_BUILD_BENCH=OFF)
                    deps=() ;;
        *) echo "build.sh: unknown option '$arg' (known: --no-tests, --sanitize)" >&2; exit 2 ;;
    esac
done

scripts/install-deps.sh "${deps[@]}"
cmake -S . -B "$dir" -G Ninja "${flags[@]}" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
# Two parallel compiles fit the 2-core, 24 GiB machines; Eigen-heavy units need ~1 GB each.
cmake --build "$dir" -j 2
ln -sf "$dir/compile_commands.json" compile_commands.json 2>/dev/null || true
