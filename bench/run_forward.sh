#!/usr/bin/env bash
# One command for the inference-throughput benchmark: installs the peer (PyTorch + OpenBLAS:
# without libopenblas0-openmp Debian's torch runs the reference BLAS and every ratio would be
# meaningless, see shared/research/baselines.md), builds bench_forward (Release, build-bench/),
# writes the random GPT-2-124M and SmolLM2-135M checkpoints once (bench/out/models/, ~1 GB,
# git-ignored; bench/make_bench_checkpoints.py), then runs slimtune (bench_forward) and the peer
# (bench/torch_forward.py) one after the other on each model at the same thread count, and
# prints the markdown table (also saved to bench/out/forward_table.md).
#
#   bench/run_forward.sh [--rounds N] [--wait-quiet S] [--models "gpt2_124m smollm2_135m"]
#                        [--check]
#   THREADS=2 (the machine's 2 cores), PEAK_GFLOPS=480 (FP32 FMA peak of 2 cores, for MFU).
#   BENCH_FORWARD=path runs that executable instead of building build-bench/bench/bench_forward
#   (it must take --model DIR --json OUT --threads N and write the JSON below).
#   --check first compares the peer's float32 model code with the float64 reference of
#   tests/reference/gen_models.py on each checkpoint.
#
# Workloads (both sides): prompt = batch 1 x 256 tokens (ids i*7919 % vocab), one forward pass
# with the logits of every position, tokens/s = 256 / s, best of 5 after a warm-up;
# generation = after that prompt, 64 greedy tokens with a KV cache, tokens/s = 64 / s of the
# 64 steps, best of 3. Each round runs, per model, slimtune then the peer; each side keeps its
# best round per model and workload (a burst of other work on this 2-core machine then spoils
# one round rather than one side of a ratio).
#
# JSON each side writes (--json OUT): one object,
#   "model"               string  the checkpoint directory's name (a path is accepted: its
#                                 last component must be the name)
#   "prompt_tokens_per_s" number  > 0
#   "gen_tokens_per_s"    number  > 0
#   optional: "threads" (int; must equal THREADS), "prompt_tokens" (256), "gen_tokens" (64),
#   "gen_ids" (the 64 greedy token ids; compared with the other side's), "backend" (string);
#   the peer also writes "gemm_gflops" (its FP32 GEMM on 1024x768x768), "torch_version", "blas".
set -euo pipefail
cd "$(dirname "$0")/.."

threads="${THREADS:-2}"
peak="${PEAK_GFLOPS:-480}"
rounds=2
wait_quiet=90 # seconds to wait, before each round, for other work on the machine to finish
models="gpt2_124m smollm2_135m"
check=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift ;;
        --wait-quiet) wait_quiet="$2"; shift ;;
        --models) models="$2"; shift ;;
        --check) check=1 ;;
        *) echo "run_forward.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

scripts/install-deps.sh --bench
if [ -n "${BENCH_FORWARD:-}" ]; then
    bench_forward="$BENCH_FORWARD"
    echo "# slimtune side: $bench_forward (BENCH_FORWARD; not built here)"
else
    cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=OFF \
        -DSLIMTUNE_BUILD_BENCH=ON >/dev/null
    ninja -C build-bench bench_forward >/dev/null
    bench_forward=build-bench/bench/bench_forward
fi
read -r -a model_list <<<"$models"
/usr/bin/python3 bench/make_bench_checkpoints.py --only "${model_list[@]}"

out=bench/out
mkdir -p "$out"
rm -f "$out"/forward_*.json
export OMP_NUM_THREADS="$threads"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus," \
    "threads=$threads, rounds=$rounds, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ "$check" = 1 ]; then
    for m in "${model_list[@]}"; do
        /usr/bin/python3 bench/torch_forward.py --model "$out/models/$m" --threads "$threads" \
            --check
    done
fi
. bench/quiet.sh
for r in $(seq 1 "$rounds"); do
    wait_for_quiet "round $r/$rounds" "other work is running; both sides share $(nproc) cores, \
so this round's figures (and its ratios) are unreliable"
    for m in "${model_list[@]}"; do
        "$bench_forward" --model "$out/models/$m" --json "$out/forward_slimtune_$m.r$r.json" \
            --threads "$threads"
        /usr/bin/python3 bench/torch_forward.py --model "$out/models/$m" --threads "$threads" \
            --json "$out/forward_torch_$m.r$r.json"
    done
done

table="$out/forward_table.md"
/usr/bin/python3 - "$out" "$rounds" "$threads" "$peak" "${model_list[@]}" <<'EOF' | tee "$table"
import json, math, os, sys
out, rounds, threads, peak, models = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                      float(sys.argv[4]), sys.argv[5:])
WORK = {"prompt": ("prompt_tokens_per_s", "prompt_tokens", 256),
        "generation": ("gen_tokens_per_s", "gen_tokens", 64)}


def load(side, m, r):
    path = f"{out}/forward_{side}_{m}.r{r}.json"
    try:
        d = json.load(open(path))
    except (OSError, ValueError) as e:
        sys.exit(f"run_forward.sh: {path}: {e}")
    bad = lambda why: sys.exit(f"run_forward.sh: {path}: {why}")
    if not isinstance(d, dict):
        bad("not a JSON object")
    if not isinstance(d.get("model"), str) or os.path.basename(d["model"].rstrip("/")) != m:
        bad(f"'model' is {d.get('model')!r}, expected {m!r} (or a path ending in it)")
    for key, nkey, n in WORK.values():
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isinf(v):
            bad(f"'{key}' must be a positive number, got {v!r}")
        if d.get(nkey, n) != n:
            bad(f"'{nkey}' is {d[nkey]}, expected {n}")
    if d.get("threads", threads) != threads:
        bad(f"'threads' is {d['threads']}, expected {threads}")
    g = d.get("gemm_gflops")
    if side == "torch" and not (isinstance(g, (int, float)) and g > 0):
        bad("'gemm_gflops' missing")
    return d


def model_flops(m, T):
    """(N matmul weights incl. the head, attention width d, layers, FLOPs per prompt token)."""
    c = json.load(open(f"{out}/models/{m}/config.json"))
    if c["model_type"] == "gpt2":
        C, L, V = c["n_embd"], c["n_layer"], c["vocab_size"]
        F = c.get("n_inner") or 4 * C
        N, d = L * (C * 3 * C + C * C + 2 * C * F) + V * C, C
    else:
        C, L, V = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
        F = c["intermediate_size"]
        Hq = c["num_attention_heads"]
        Hkv = c.get("num_key_value_heads") or Hq
        D = c.get("head_dim") or C // Hq
        N = L * (C * Hq * D + 2 * C * Hkv * D + Hq * D * C + 3 * C * F) + V * C
        d = Hq * D
    return N, d, L, 2 * N + 4 * L * (T / 2) * d


S = {m: [load("slimtune", m, r) for r in range(1, rounds + 1)] for m in models}
P = {m: [load("torch", m, r) for r in range(1, rounds + 1)] for m in models}
p0, s0 = P[models[0]][0], S[models[0]][0]
print(f"\nslimtune: {s0.get('backend', '?')}; peer: PyTorch {p0.get('torch_version', '?')} eager "
      f"float32 (transformers-style GPT-2/Llama, DynamicCache-like KV cache) + "
      f"{' '.join(os.path.basename(b) for b in p0.get('blas', [])) or '?'}; threads {threads}; "
      f"best per side over {rounds} alternating round(s)\n")
print("| model | workload | slimtune tok/s | peer tok/s | ratio slimtune/peer "
      "| peer GEMM GFLOP/s | slimtune MFU | peer MFU |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
notes, slow_gemm = [], []
for m in models:
    N, d, L, fpt = model_flops(m, WORK["prompt"][2])
    for w, (key, _, n) in WORK.items():
        s = max(S[m], key=lambda x: x[key])
        p = max(P[m], key=lambda x: x[key])
        mfu = lambda tps: f"{100 * tps * fpt / (peak * 1e9):.1f}%" if w == "prompt" else "-"
        print(f"| {m} | {w} {n} | {s[key]:.1f} | {p[key]:.1f} | **{s[key] / p[key]:.2f}** "
              f"| {p['gemm_gflops']:.0f} | {mfu(s[key])} | {mfu(p[key])} |")
        if p["gemm_gflops"] < 150:
            slow_gemm.append(f"{m} {w}")
    notes.append(f"{m}: N = {N / 1e6:.1f} M matmul weights (incl. the head), L = {L}, d = {d}: "
                 f"{fpt / 1e6:.1f} MFLOP per prompt token")
    si = [x.get("gen_ids") for x in S[m]][-1]
    pi = [x.get("gen_ids") for x in P[m]][-1]
    if isinstance(si, list) and isinstance(pi, list):
        same = next((i for i, (a, b) in enumerate(zip(si, pi)) if a != b), min(len(si), len(pi)))
        notes.append(f"{m}: greedy tokens, slimtune vs peer: the first {same} of {len(pi)} agree")
print()
print(f"MFU (prompt) = tokens/s x (2 N + 4 L (T/2) d) / {peak:.0f} GFLOP/s (FP32 FMA peak of "
      f"2 cores), T = {WORK['prompt'][2]}, N = matmul weights including the output head, "
      f"d = attention width (heads x head_dim).")
for line in notes:
    print(f"- {line}")
print("- peer GEMM GFLOP/s: the peer's own FP32 GEMM (1024x768x768) in the run that gave its "
      "figure; expect ~270-400 with OpenBLAS on 2 threads.")
for r in range(rounds):
    print(f"- round {r + 1}: " + "; ".join(
        f"{m} prompt {S[m][r]['prompt_tokens_per_s']:.0f}/{P[m][r]['prompt_tokens_per_s']:.0f}, "
        f"gen {S[m][r]['gen_tokens_per_s']:.1f}/{P[m][r]['gen_tokens_per_s']:.1f}, "
        f"peer GEMM {P[m][r]['gemm_gflops']:.0f}" for m in models) + "  (slimtune/peer tok/s)")
if slow_gemm:
    print(f"\nWARNING: the peer's GEMM ran below 150 GFLOP/s ({', '.join(slow_gemm)}): other "
          "work was running or the BLAS is wrong; those ratios are not trustworthy.")
EOF
