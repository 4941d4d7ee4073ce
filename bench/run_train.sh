#!/usr/bin/env bash
# One command for the training-throughput benchmark: installs the peer (PyTorch + OpenBLAS:
# without libopenblas0-openmp Debian's torch runs the reference BLAS and every ratio would be
# meaningless, see shared/research/baselines.md), builds bench_train and bench_peak (Release,
# build-bench/), writes the random GPT-2-124M, SmolLM2-135M, Qwen2.5-0.5B- and Gemma-3-270M-shape checkpoints
# once (bench/out/models/, git-ignored; bench/make_bench_checkpoints.py), measures this CPU's
# FP32 and BF16 peaks (bench_peak), then runs slimtune (bench_train) and the peer
# (bench/torch_train.py) on each workload at the same thread count, and prints one markdown
# table (bench/train_table.py; also saved to bench/out/train_table.md).
#
#   bench/run_train.sh [--rounds N] [--wait-quiet S] [--steps N] [--warmup N] [--only A,B]
#                      [--batch 4] [--seq 256]
#   bench/run_train.sh --scaling [--wait-quiet S] [--steps N] [--warmup N]
#                      [--seqs 128,256,512,1024,2048] [--tokens 1024]
#   (--batch/--seq, --seqs/--tokens and small --steps are for quick checks of the plumbing;
#   the figures of bench/RESULTS.md come from the defaults.)
#   THREADS=2 (the machine's 2 cores). PEAK_GFLOPS / PEAK_BF16_GFLOPS replace the measured
#   FP32 / BF16 peaks (the MFU denominators). BENCH_TRAIN=path runs that executable instead of
#   building build-bench/bench/bench_train.
#
# What is measured (both sides): tokens/s of whole optimizer steps (forward with the logits of
# every position, causal-LM cross-entropy = mean over the batch*(seq-1) positions with a next
# token, backward, clip_grad_norm 1.0, AdamW lr 1e-4, zeroing the gradients), on one batch of
# 4 x 256 random ids (ids[i] = splitmix64(1234, i) % vocab, reused every step); tokens/s =
# 4*256 / median step time of --steps (5) steps after --warmup (2); plus the peak RSS of the
# process (VmHWM). Workloads (name: slimtune options / peer options beyond the common ones):
#   smollm2_lora       smollm2_135m, LoRA r=16 alpha=32 on q,k,v,o,gate,up,down_proj, FP32
#   gpt2_lora          gpt2_124m, LoRA r=8 alpha=16 on c_attn,c_proj (attn.c_attn, attn.c_proj
#                      and mlp.c_proj: PEFT's suffix match), FP32
#   smollm2_full       smollm2_135m, every parameter trains, FP32
#   gpt2_full          gpt2_124m, every parameter trains, FP32
#   smollm2_lora_bf16  as smollm2_lora: --base-dtype bfloat16 / --bf16 (torch.autocast bf16)
#   gpt2_lora_bf16     as gpt2_lora:    --base-dtype bfloat16 / --bf16
#   qwen25_lora_bf16   qwen25_05b (Qwen2.5-0.5B shape), LoRA r=16 alpha=32 on the 7
#                      projections: --base-dtype bfloat16 / --bf16; target: peak RSS <= 3 GB
#   smollm2_lora_ckpt  as smollm2_lora (FP32) with --checkpoint-activations on both sides
#                      (the peer: torch.utils.checkpoint per block); its cost is read against
#                      smollm2_lora
#   gemma3_lora        gemma3_270m (Gemma 3 270M shape: 262k vocabulary, head_dim 256, windows
#                      of 512 on five layers in six), LoRA r=16 alpha=32 on the 7 projections,
#                      FP32 (not yet timed: the lead runs it on an idle machine)
# Each round runs every workload on both sides, slimtune first in odd rounds and the peer first
# in even ones; each side keeps its best round (highest tokens/s) per workload, so a burst of
# other work on this 2-core machine spoils one round rather than one side of a ratio.
#
# --scaling (slow, separate): SmolLM2 LoRA r=16 only, seq 128, 256, 512, 1024, 2048 with
# batch = --tokens / seq (1024 / seq: every step holds 1024 tokens; seq 2048: batch 1, 2048
# tokens; a fixed batch 4 would make the seq 2048 steps 8x longer than the seq 256 ones), threads
# 1 and 2, FP32 and BF16 base (peer: autocast), both sides, one round (slimtune first for even
# configurations, the peer first for odd ones), --warmup 1 --steps 2 unless given; table in
# bench/out/train_scaling.md. Estimated 10-15 minutes on an idle machine (not yet timed idle).
#
# JSON each side writes (--json OUT), keys checked by bench/train_table.py: "model" (the
# directory's name), "mode", "tokens_per_s" > 0, "peak_rss_mb", "flops_per_token", "threads"
# (= THREADS), "batch", "seq", "base_dtype", "checkpoint_activations"; optional "first_loss"
# (the base model's loss on the batch: both sides must agree in FP32); the peer also writes
# "gemm_gflops" / "gemm_bf16_gflops" (its FP32 / BF16 GEMM on 1024x1536x576) and "torch".
set -euo pipefail
cd "$(dirname "$0")/.."

threads="${THREADS:-2}"
rounds=2
wait_quiet=90 # seconds to wait, before each round, for other work on the machine to finish
steps=
warmup=
only=
scaling=0
batch=4
seq=256
seqs=128,256,512,1024,2048
tokens=1024
need() { [ $# -ge 2 ] || { echo "run_train.sh: option '$1' needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) need "$@"; rounds="$2"; shift ;;
        --wait-quiet) need "$@"; wait_quiet="$2"; shift ;;
        --steps) need "$@"; steps="$2"; shift ;;
        --warmup) need "$@"; warmup="$2"; shift ;;
        --only) need "$@"; only="$2"; shift ;;
        --batch) need "$@"; batch="$2"; shift ;;
        --seq) need "$@"; seq="$2"; shift ;;
        --seqs) need "$@"; seqs="$2"; shift ;;
        --tokens) need "$@"; tokens="$2"; shift ;;
        --scaling) scaling=1 ;;
        *) echo "run_train.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
for v in "rounds=$rounds" "wait-quiet=$wait_quiet" "steps=${steps:-1}" "warmup=${warmup:-0}" \
         "THREADS=$threads" "batch=$batch" "seq=$seq" "tokens=$tokens"; do
    [[ "${v#*=}" =~ ^[0-9]+$ ]] || { echo "run_train.sh: $v is not a whole number" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] && [ "$threads" -ge 1 ] && [ "${steps:-1}" -ge 1 ] && [ "$batch" -ge 1 ] &&
    [ "$seq" -ge 2 ] && [ "$tokens" -ge 1 ] ||
    { echo "run_train.sh: --rounds, --steps, --batch, --tokens, THREADS >= 1, --seq >= 2" >&2; exit 2; }
[[ "$seqs" =~ ^[0-9]+(,[0-9]+)*$ ]] ||
    { echo "run_train.sh: --seqs '$seqs' is not a comma-separated list of lengths" >&2; exit 2; }
for v in PEAK_GFLOPS PEAK_BF16_GFLOPS; do
    [ -z "${!v:-}" ] || [[ "${!v}" =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
        { echo "run_train.sh: $v='${!v}' is not a positive number" >&2; exit 2; }
done
if [ "$scaling" = 1 ]; then steps="${steps:-2}"; warmup="${warmup:-1}"; else
    steps="${steps:-5}"; warmup="${warmup:-2}"; fi

smollm2_targets=q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
smollm2_lora="--mode lora --targets $smollm2_targets --rank 16 --alpha 32"
gpt2_lora="--mode lora --targets c_attn,c_proj --rank 8 --alpha 16"
# name | model | options of both sides | slimtune's own | the peer's own
workloads=(
    "smollm2_lora|smollm2_135m|$smollm2_lora||"
    "gpt2_lora|gpt2_124m|$gpt2_lora||"
    "smollm2_full|smollm2_135m|--mode full||"
    "gpt2_full|gpt2_124m|--mode full||"
    "smollm2_lora_bf16|smollm2_135m|$smollm2_lora|--base-dtype bfloat16|--bf16"
    "gpt2_lora_bf16|gpt2_124m|$gpt2_lora|--base-dtype bfloat16|--bf16"
    "qwen25_lora_bf16|qwen25_05b|$smollm2_lora|--base-dtype bfloat16|--bf16"
    "smollm2_lora_ckpt|smollm2_135m|$smollm2_lora|--checkpoint-activations|--checkpoint-activations"
    "gemma3_lora|gemma3_270m|$smollm2_lora||"
)
if [ -n "$only" ]; then
    kept=()
    IFS=, read -r -a wanted <<<"$only"
    for n in "${wanted[@]}"; do
        found=0
        for w in "${workloads[@]}"; do [ "${w%%|*}" = "$n" ] && { kept+=("$w"); found=1; }; done
        [ "$found" = 1 ] || { echo "run_train.sh: --only: no workload '$n'" >&2; exit 2; }
    done
    workloads=("${kept[@]}")
fi
[ "$scaling" = 0 ] || [ -z "$only" ] || { echo "run_train.sh: --only is not for --scaling" >&2; exit 2; }

scripts/install-deps.sh --bench
quiet() { # runs a build command, showing its output only when it fails
    local log
    log=$("$@" 2>&1) || { echo "$log" >&2; echo "run_train.sh: $* failed" >&2; exit 1; }
}
if [ -n "${BENCH_TRAIN:-}" ]; then
    bench_train="$BENCH_TRAIN"
    echo "# slimtune side: $bench_train (BENCH_TRAIN; not built here)"
    targets=(bench_peak)
else
    bench_train=build-bench/bench/bench_train
    targets=(bench_train bench_peak)
fi
quiet cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSLIMTUNE_BUILD_TESTS=OFF -DSLIMTUNE_BUILD_BENCH=ON
quiet cmake --build build-bench --target "${targets[@]}"
models=()
for w in "${workloads[@]}"; do IFS='|' read -r _ m _ <<<"$w"; models+=("$m"); done
[ "$scaling" = 1 ] && models=(smollm2_135m)
read -r -a models <<<"$(printf '%s\n' "${models[@]}" | sort -u | tr '\n' ' ')"
/usr/bin/python3 bench/make_bench_checkpoints.py --only "${models[@]}"

out=bench/out
mkdir -p "$out"
export OMP_NUM_THREADS="$threads"
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -1)
flags=$(sed -n 's/^flags[[:space:]]*: *//p' /proc/cpuinfo | head -1)
has() { [[ " $flags " == *" $1 "* ]] && echo yes || echo no; }
cpu_line="$cpu, $(nproc) cpus, AVX-512 $(has avx512f), AVX-512 BF16 $(has avx512_bf16), AMX $(has amx_tile) (amx_bf16 $(has amx_bf16))"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $cpu_line; threads=$threads," \
    "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
. bench/quiet.sh

# The MFU denominators: this CPU's FP32 FMA and BF16 dot-product peaks on $threads threads
# (bench_peak), unless PEAK_GFLOPS / PEAK_BF16_GFLOPS give them. Measured after the wait.
measure_peaks() {
    local peaks
    peaks=$(build-bench/bench/bench_peak --threads "$threads" --reps 5)
    peak=${PEAK_GFLOPS:-$(/usr/bin/python3 -c 'import json,sys; print("%.1f" % json.loads(sys.argv[1])["fp32_gflops"])' "$peaks")}
    peak_bf16=${PEAK_BF16_GFLOPS:-$(/usr/bin/python3 -c 'import json,sys; v = json.loads(sys.argv[1])["bf16_gflops"]; print("%.1f" % v if v else "0")' "$peaks")}
    local vector
    vector=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["fp32_vector"])' "$peaks")
    peak_src="bench_peak: FP32 ${PEAK_GFLOPS:+given }$peak, BF16 ${PEAK_BF16_GFLOPS:+given }$peak_bf16 GFLOP/s"
    echo "# peaks on $threads threads ($peak_src; 12 chains of $vector vfmadd231ps / zmm vdpbf16ps)"
}

run_side() { # side name model json common... -- slimtune-own... -- peer-own...
    local side="$1" name="$2" model="$3" json="$4"; shift 4
    local common=() mine=() peer=()
    while [ "$1" != -- ]; do common+=("$1"); shift; done; shift
    while [ "$1" != -- ]; do mine+=("$1"); shift; done; shift
    peer=("$@")
    echo "## $side $name ${common[*]} ${mine[*]:-}${peer[*]:+ / peer ${peer[*]}}" >&2
    if [ "$side" = slimtune ]; then
        "$bench_train" --model "$out/models/$model" "${common[@]}" "${mine[@]}" \
            --json "$json" >/dev/null
        /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print("slimtune %s %s %s%s: %.3f s/step (median), %.1f tokens/s, peak RSS %.0f MB" % (d.get("model"),
      d.get("mode"), d.get("base_dtype"), " ckpt" if d.get("checkpoint_activations") else "",
      d["step_s_median"], d["tokens_per_s"], d["peak_rss_mb"]))' "$json"
    else
        /usr/bin/python3 bench/torch_train.py --model "$out/models/$model" "${common[@]}" \
            "${peer[@]}" --json "$json" | grep -v '^step '
    fi
}

if [ "$scaling" = 1 ]; then
    rm -f "$out"/trainscale_*.json
    wait_for_quiet "scaling run" "other work is running; both sides share $(nproc) cores, \
so these figures (and their ratios) are unreliable"
    measure_peaks
    quiet_pct=$pct
    i=0
    specs=()
    IFS=, read -r -a seq_list <<<"$seqs"
    for seq in "${seq_list[@]}"; do
        [ "$seq" -ge 2 ] || { echo "run_train.sh: --seqs: $seq < 2" >&2; exit 2; }
        batch=$((tokens / seq)); [ "$batch" -ge 1 ] || batch=1
        for t in 1 2; do
            for dt in float32 bfloat16; do
                mine=(); peer=()
                [ "$dt" = bfloat16 ] && { mine=(--base-dtype bfloat16); peer=(--bf16); }
                tag="s${seq}_t${t}_${dt}"
                specs+=("$tag")
                if [ $((i % 2)) = 0 ]; then order="slimtune torch"; else order="torch slimtune"; fi
                for side in $order; do
                    read -r -a lora <<<"$smollm2_lora"
                    OMP_NUM_THREADS=$t run_side "$side" "scaling $tag" smollm2_135m \
                        "$out/trainscale_${side}_$tag.json" "${lora[@]}" --batch "$batch" \
                        --seq "$seq" --threads "$t" --steps "$steps" --warmup "$warmup" -- \
                        "${mine[@]}" -- "${peer[@]}"
                done
                i=$((i + 1))
            done
        done
    done
    /usr/bin/python3 bench/train_table.py scaling --out "$out" --threads "$threads" --peak "$peak" \
        --peak-bf16 "$peak_bf16" --peak-source "$peak_src" --cpu "$cpu_line" \
        --busy "$quiet_pct" --steps "$steps" --warmup "$warmup" --tokens "$tokens" \
        "${specs[@]}" |
        tee "$out/train_scaling.md"
    exit 0
fi

rm -f "$out"/train_*.r*.json
busy_pcts=()
for r in $(seq 1 "$rounds"); do
    wait_for_quiet "round $r/$rounds" "other work is running; both sides share $(nproc) cores, \
so this round's figures (and its ratios) are unreliable"
    busy_pcts+=("$pct")
    [ "$r" = 1 ] && measure_peaks
    for w in "${workloads[@]}"; do
        IFS='|' read -r name model opts mine peer <<<"$w"
        read -r -a o <<<"$opts"; read -r -a m <<<"$mine"; read -r -a p <<<"$peer"
        if [ $((r % 2)) = 1 ]; then order="slimtune torch"; else order="torch slimtune"; fi
        for side in $order; do
            run_side "$side" "$name (round $r)" "$model" "$out/train_${side}_${name}.r$r.json" \
                "${o[@]}" --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" \
                --threads "$threads" -- "${m[@]}" -- "${p[@]}"
        done
    done
done

names=()
for w in "${workloads[@]}"; do names+=("${w%%|*}"); done
/usr/bin/python3 bench/train_table.py table --out "$out" --rounds "$rounds" --threads "$threads" \
    --peak "$peak" --peak-bf16 "$peak_bf16" --peak-source "$peak_src" --cpu "$cpu_line" \
    --busy "$(IFS=,; echo "${busy_pcts[*]}")" --steps "$steps" --warmup "$warmup" \
    --batch "$batch" --seq "$seq" "${names[@]}" |
    tee "$out/train_table.md"
