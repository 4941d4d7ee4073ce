#!/usr/bin/env bash
# Installs what is missing (Debian packages), configures and builds slimtune.
#   scripts/build.sh              Release build in build/
#   scripts/build.sh --sanitize   ASan + UBSan build in build-asan/ (RelWithDebInfo)
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
flags=(-DCMAKE_BUILD_TYPE=Release)
for arg in "$@"; do
    case "$arg" in
        --sanitize) dir=build-asan
                    flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLIMTUNE_SANITIZE=ON
                           -DSLIMTUNE_BUILD_BENCH=OFF) ;;
        *) echo "build.sh: unknown option '$arg' (known: --sanitize)" >&2; exit 2 ;;
    esac
done

scripts/install-deps.sh
cmake -S . -B "$dir" -G Ninja "${flags[@]}" > "$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
# Two parallel compiles fit the 2-core, 24 GiB machines; Eigen-heavy units need ~1 GB each.
cmake --build "$dir" -j 2
ln -sf "$dir/compile_commands.json" compile_commands.json 2>/dev/null || true
