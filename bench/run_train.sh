#!/usr/bin/env bash
# One command for the training-throughput benchmark: installs the peer (PyTorch + OpenBLAS:
# without libopenblas0-openmp Debian's torch runs the reference BLAS and every ratio would be
# meaningless, see shared/research/baselines.md), builds bench_train (Release, build-bench/),
# writes the random GPT-2-124M and SmolLM2-135M checkpoints once (bench/out/models/, git-ignored;
# bench/make_bench_checkpoints.py), then runs slimtune (bench_train) and the peer
# (bench/torch_train.py) on each workload at the same thread count, and prints the markdown
# table (also saved to bench/out/train_table.md).
#
#   bench/run_train.sh [--rounds N] [--wait-quiet S] [--steps N] [--warmup N]
#   THREADS=2 (the machine's 2 cores), PEAK_GFLOPS=480 (FP32 FMA peak of 2 cores, for MFU).
#   BENCH_TRAIN=path runs that executable instead of building build-bench/bench/bench_train.
#
# What is measured (both sides): tokens/s of whole optimizer steps (forward with the logits of
# every position, causal-LM cross-entropy = mean over the batch*(seq-1) positions with a next
# token, backward, clip_grad_norm 1.0, AdamW lr 1e-4, zeroing the gradients), eager float32,
# on one batch of 4 x 256 random ids (ids[i] = splitmix64(1234, i) % vocab, reused every step);
# tokens/s = 4*256 / median step time of --steps (5) steps after --warmup (2); plus the peak RSS
# of the process (getrusage). Workloads:
#   gpt2 lora     gpt2_124m, LoRA r=8 alpha=16 on c_attn,c_proj (attn.c_attn, attn.c_proj and
#                 mlp.c_proj: PEFT's suffix match)
#   smollm2 lora  smollm2_135m, LoRA r=16 alpha=32 on q,k,v,o,gate,up,down_proj
#   gpt2 full     gpt2_124m, every parameter trains
#   smollm2 full  smollm2_135m, every parameter trains
# Each round runs every workload on both sides, slimtune first in odd rounds and the peer first
# in even ones; each side keeps its best round (highest tokens/s) per workload, so a burst of
# other work on this 2-core machine spoils one round rather than one side of a ratio.
#
# JSON each side writes (--json OUT), keys checked here: "model" (the directory's name),
# "mode", "tokens_per_s" > 0, "peak_rss_mb", "flops_per_token", "threads" (= THREADS), "batch",
# "seq"; optional "first_loss" (the base model's loss on the batch: both sides must agree);
# the peer also writes "gemm_gflops" (its FP32 GEMM on 1024x768x768) and "torch".
set -euo pipefail
cd "$(dirname "$0")/.."

threads="${THREADS:-2}"
peak="${PEAK_GFLOPS:-480}"
rounds=2
wait_quiet=90 # seconds to wait, before each round, for other work on the machine to finish
steps=5
warmup=2
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift ;;
        --wait-quiet) wait_quiet="$2"; shift ;;
        --steps) steps="$2"; shift ;;
        --warmup) warmup="$2"; shift ;;
        *) echo "run_train.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done

scripts/install-deps.sh --bench
if [ -n "${BENCH_TRAIN:-}" ]; then
    bench_train="$BENCH_TRAIN"
    echo "# slimtune side: $bench_train (BENCH_TRAIN; not built here)"
else
    quiet() { # runs a build command, showing its output only when it fails
        local log
        log=$("$@" 2>&1) || { echo "$log" >&2; echo "run_train.sh: $* failed" >&2; exit 1; }
    }
    quiet cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DSLIMTUNE_BUILD_TESTS=OFF -DSLIMTUNE_BUILD_BENCH=ON
    quiet cmake --build build-bench --target bench_train
    bench_train=build-bench/bench/bench_train
fi
/usr/bin/python3 bench/make_bench_checkpoints.py --only gpt2_124m smollm2_135m

# name | model | options (both sides take the same ones)
smollm2_targets=q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
workloads=(
    "gpt2_lora|gpt2_124m|--mode lora --targets c_attn,c_proj --rank 8 --alpha 16"
    "smollm2_lora|smollm2_135m|--mode lora --targets $smollm2_targets --rank 16 --alpha 32"
    "gpt2_full|gpt2_124m|--mode full"
    "smollm2_full|smollm2_135m|--mode full"
)
common=(--batch 4 --seq 256 --steps "$steps" --warmup "$warmup" --threads "$threads")

out=bench/out
mkdir -p "$out"
rm -f "$out"/train_*.json
export OMP_NUM_THREADS="$threads"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus," \
    "threads=$threads, rounds=$rounds, git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
. bench/quiet.sh
run_side() { # side name model options... ; round number in $r
    local side="$1" name="$2" model="$3"; shift 3
    local json="$out/train_${side}_${name}.r$r.json"
    echo "## round $r: $side $name" >&2
    if [ "$side" = slimtune ]; then
        "$bench_train" --model "$out/models/$model" "$@" "${common[@]}" --json "$json" >/dev/null
        /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print("slimtune %s %s: %.3f s/step (median), %.1f tokens/s, peak RSS %.0f MB" % (d.get("model"),
      d.get("mode"), d["step_s_median"], d["tokens_per_s"], d["peak_rss_mb"]))' "$json"
    else
        /usr/bin/python3 bench/torch_train.py --model "$out/models/$model" "$@" "${common[@]}" \
            --json "$json" | grep -v '^step '
    fi
}
for r in $(seq 1 "$rounds"); do
    wait_for_quiet "round $r/$rounds" "other work is running; both sides share $(nproc) cores, \
so this round's figures (and its ratios) are unreliable"
    for w in "${workloads[@]}"; do
        IFS='|' read -r name model opts <<<"$w"
        read -r -a opt <<<"$opts"
        if [ $((r % 2)) = 1 ]; then order="slimtune torch"; else order="torch slimtune"; fi
        for side in $order; do run_side "$side" "$name" "$model" "${opt[@]}"; done
    done
done

table="$out/train_table.md"
names=()
for w in "${workloads[@]}"; do names+=("${w%%|*}"); done
/usr/bin/python3 - "$out" "$rounds" "$threads" "$peak" "${names[@]}" <<'EOF' | tee "$table"
import json, math, sys
out, rounds, threads, peak, names = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                     float(sys.argv[4]), sys.argv[5:])


def load(side, name, r):
    path = f"{out}/train_{side}_{name}.r{r}.json"
    try:
        d = json.load(open(path))
    except (OSError, ValueError) as e:
        sys.exit(f"run_train.sh: {path}: {e}")
    bad = lambda why: sys.exit(f"run_train.sh: {path}: {why}")
    if not isinstance(d, dict):
        bad("not a JSON object")
    for key in ("tokens_per_s", "peak_rss_mb", "flops_per_token") + \
            (("gemm_gflops",) if side == "torch" else ()):
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isinf(v):
            bad(f"'{key}' must be a positive number, got {v!r}")
    for key, want in (("threads", threads), ("batch", 4), ("seq", 256),
                      ("mode", name.rsplit("_", 1)[1])):
        if d.get(key) != want:
            bad(f"'{key}' is {d.get(key)!r}, expected {want!r}")
    return d


S = {n: [load("slimtune", n, r) for r in range(1, rounds + 1)] for n in names}
P = {n: [load("torch", n, r) for r in range(1, rounds + 1)] for n in names}
p0 = P[names[0]][0]
blas = " ".join(b.rsplit("/", 1)[-1] for b in p0.get("versions", {}).get("blas", [])) or "?"
print(f"\nslimtune bench_train vs PyTorch {p0['torch']} eager float32 (transformers-style "
      f"models, PEFT-style LoRA, torch.optim.AdamW) + {blas}; threads {threads}; batch 4 x 256; "
      f"median step of each run, best run per side over {rounds} alternating round(s)\n")
print("| workload | slimtune tokens/s | PyTorch tokens/s | ratio | slimtune MFU | PyTorch MFU "
      "| slimtune peak RSS MB | PyTorch peak RSS MB |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
notes, gemm = [], []
for n in names:
    s = max(S[n], key=lambda x: x["tokens_per_s"])
    p = max(P[n], key=lambda x: x["tokens_per_s"])
    fpt = p["flops_per_token"]
    mfu = lambda d: f"{100 * d['tokens_per_s'] * fpt / (peak * 1e9):.1f}%"
    print(f"| {n.replace('_', ' ')} | {s['tokens_per_s']:.1f} | {p['tokens_per_s']:.1f} "
          f"| **{s['tokens_per_s'] / p['tokens_per_s']:.2f}** | {mfu(s)} | {mfu(p)} "
          f"| {s['peak_rss_mb']:.0f} | {p['peak_rss_mb']:.0f} |")
    notes.append(f"{n}: {p['flops_formula']} = {fpt / 1e6:.1f} MFLOP per token; trainable "
                 f"{s.get('trainable_params', '?')} (slimtune) / {p['trainable_params']} (PyTorch)")
    if abs(s["flops_per_token"] / fpt - 1) > 0.01:
        notes.append(f"WARNING {n}: slimtune counts {s['flops_per_token'] / 1e6:.1f} MFLOP per "
                     "token; the MFU columns both use the peer's count")
    sl, pl = s.get("first_loss"), p.get("first_loss")
    if isinstance(sl, (int, float)) and isinstance(pl, (int, float)):
        agree = abs(sl - pl) <= 2e-5 * max(1.0, abs(pl))
        notes.append(f"{n}: first-step loss (base model, same ids) slimtune {sl:.5f}, PyTorch "
                     f"{pl:.5f}{'' if agree else '  <-- DIFFERENT: not the same computation'}")
    gemm.append(f"{n} {p['gemm_gflops']:.0f}")
print()
print(f"MFU = tokens/s x FLOPs per token / {peak:.0f} GFLOP/s (FP32 FMA peak of 2 cores); FLOPs "
      "per token: full fine-tuning 6 N, LoRA 4 N (frozen base: forward 2 N + input-gradient "
      "half of backward 2 N), plus causal attention 6 L T d; N = every matmul weight including "
      "the output head (tied: once), T = 256, d = heads x head_dim.")
for line in notes:
    print(f"- {line}")
print(f"- peer FP32 GEMM GFLOP/s (1024x768x768, in the run that gave its figure): "
      f"{', '.join(gemm)}; expect ~270-400 with OpenBLAS on 2 threads.")
for r in range(rounds):
    print(f"- round {r + 1} (slimtune/PyTorch tokens/s): " + "; ".join(
        f"{n} {S[n][r]['tokens_per_s']:.0f}/{P[n][r]['tokens_per_s']:.0f}" for n in names))
if min(max(x["gemm_gflops"] for x in P[n]) for n in names) < 150:
    print("\nWARNING: the peer's GEMM ran below 150 GFLOP/s: other work was running or the BLAS "
          "is wrong; those ratios are not trustworthy.")
EOF
