#!/usr/bin/env bash
# One command for the GEMM benchmark: installs the peer (PyTorch + OpenBLAS), builds bench_gemm
# (Release, build-bench/), runs slimtune and PyTorch in the same run at the same thread count,
# and prints the combined table (markdown, also saved to bench/out/gemm_table.md).
#
#   bench/run_gemm.sh [--portable] [--rounds N] [--wait-quiet S] [--reps N] [--min-time S]
#   THREADS=2 by default (the machine's 2 cores). --portable times the AVX2 build of the Eigen
#   GEMM instead of the dispatched one (bench_gemm only; the peer is unchanged).
set -euo pipefail
cd "$(dirname "$0")/.."

threads="${THREADS:-2}"
rounds=2
wait_quiet=90 # seconds to wait, before each round, for other work on the machine to finish
common=() slim=()
while [ $# -gt 0 ]; do
    case "$1" in
        --portable) slim+=(--portable) ;;
        --rounds) rounds="$2"; shift ;;
        --wait-quiet) wait_quiet="$2"; shift ;;
        --reps | --min-time) common+=("$1" "$2"); shift ;;
        *) echo "run_gemm.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

scripts/install-deps.sh --bench
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=OFF \
    -DSLIMTUNE_BUILD_BENCH=ON >/dev/null
ninja -C build-bench bench_gemm >/dev/null

out=bench/out
mkdir -p "$out"
rm -f "$out"/gemm_*.json
export OMP_NUM_THREADS="$threads"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus," \
    "threads=$threads, rounds=$rounds, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
# Rounds alternate slimtune and the peer, and each side keeps its best round per product: on this
# small machine a burst of other work then spoils one round rather than one side of a ratio.
. bench/quiet.sh
for r in $(seq 1 "$rounds"); do
    wait_for_quiet "round $r/$rounds" "other work is running; both sides share $(nproc) cores, \
so this round's figures (and its ratio) are unreliable"
    build-bench/bench/bench_gemm --threads "$threads" "${common[@]}" "${slim[@]}" \
        --json "$out/gemm_slimtune.r$r.json"
    /usr/bin/python3 bench/torch_gemm.py --threads "$threads" "${common[@]}" \
        --json "$out/gemm_torch.r$r.json"
done

/usr/bin/python3 - "$out" "$rounds" <<'EOF' | tee "$out/gemm_table.md"
import json, math, sys
out, n = sys.argv[1], int(sys.argv[2])
S = [json.load(open(f"{out}/gemm_slimtune.r{r}.json")) for r in range(1, n + 1)]
T = [json.load(open(f"{out}/gemm_torch.r{r}.json")) for r in range(1, n + 1)]
gf = lambda d: {(r["in"], r["out"], r["product"]): r["gflops"] for r in d["results"]}
sg, tg = [gf(d) for d in S], [gf(d) for d in T]
sb, tb = ({k: max(d[k] for d in runs) for k in runs[0]} for runs in (sg, tg))
g = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
s0, t0, peak = S[0], T[0], S[0]["peak_gflops"]
print(f"\nslimtune backend: {s0['backend']}; peer: torch {t0['torch_version']} + "
      f"{' '.join(t0['blas'])}; threads {s0['threads']}/{t0['threads']}; best time per product "
      f"over {n} alternating round(s); peak {peak:.0f} GFLOP/s\n")
print("| shape (in x out) | product | M x N x K | slimtune GFLOP/s | peer GFLOP/s "
      "| ratio slimtune/peer | slimtune % peak | peer % peak |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
ratios = []
for r in s0["results"]:
    k = (r["in"], r["out"], r["product"])
    ratios.append(sb[k] / tb[k])
    print(f"| {r['model']} {r['layer']} {r['in']}x{r['out']} | {r['product']} "
          f"| {r['M']}x{r['N']}x{r['K']} | {sb[k]:.1f} | {tb[k]:.1f} | {ratios[-1]:.2f} "
          f"| {100 * sb[k] / peak:.1f}% | {100 * tb[k] / peak:.1f}% |")
print(f"\ngeomean over {len(ratios)} products: ratio slimtune/peer {g(ratios):.3f} "
      f"(min {min(ratios):.2f}, max {max(ratios):.2f}); slimtune "
      f"{100 * g(sb.values()) / peak:.1f}% of peak, peer {100 * g(tb.values()) / peak:.1f}% of peak")
for i in range(n):
    print(f"round {i + 1}: geomean slimtune {g(sg[i].values()):.1f} GFLOP/s, peer "
          f"{g(tg[i].values()):.1f} GFLOP/s, ratio {g([sg[i][k] / tg[i][k] for k in sg[i]]):.3f}")
EOF
