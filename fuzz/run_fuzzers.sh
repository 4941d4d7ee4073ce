#!/usr/bin/env bash
# Builds the fuzz harnesses with clang + libFuzzer + ASan/UBSan in build-fuzz/ and runs each for
# SECONDS (default 60), one after the other, on a scratch copy of its committed corpus. New
# inputs that add coverage stay in build-fuzz/corpus/<name>/ (merge them into fuzz/corpus/ with
# -merge=1 when worth keeping); crashes, leaks, timeouts and OOMs land in build-fuzz/findings/.
#   fuzz/run_fuzzers.sh [SECONDS] [HARNESS...]     (all harnesses when none is named)
# Prints one line per harness: executions, corpus size, findings. Exit 1 when any run found one.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
scripts/install-deps.sh --fuzz
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSLIMTUNE_FUZZ=ON -DSLIMTUNE_BUILD_TESTS=OFF -DSLIMTUNE_BUILD_BENCH=OFF \
    > build-fuzz.configure.log 2>&1 || { cat build-fuzz.configure.log; exit 1; }
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || mapfile -t harnesses < <(ls fuzz/corpus)
cmake --build build-fuzz -j 2 --target "${harnesses[@]/#/fuzz_}"
status=0
for h in "${harnesses[@]}"; do
    work=build-fuzz/corpus/$h findings=build-fuzz/findings/$h
    mkdir -p "$work" "$findings"
    # -rss_limit_mb: a file must never make slimtune take more than its size justifies.
    # -timeout: any single input running 10 s is a hang.
    ASAN_OPTIONS=detect_leaks=1 "build-fuzz/fuzz/fuzz_$h" "$work" "fuzz/corpus/$h" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 \
        -artifact_prefix="$findings/" -print_final_stats=1 > "build-fuzz/fuzz_$h.log" 2>&1 || true
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/fuzz_$h.log" |
           grep -o '[0-9]*$' || echo 0)
    found=$(find "$findings" -type f | wc -l)
    echo "$h: ${runs:-0} executions in ${seconds} s, corpus $(ls "$work" | wc -l) files," \
         "$found findings"
    [ "$found" -eq 0 ] || status=1
done
exit $status
