#!/usr/bin/env bash
# One command for the inference benchmark: installs the peer (PyTorch + OpenBLAS, see
# shared/research/baselines.md: without libopenblas0-openmp every ratio would be meaningless),
# builds bench_forward (Release, build-bench/), writes random GPT-2-124M and SmolLM2-135M
# checkpoints once (bench/out/models, ~1 GB, git-ignored), runs slimtune and PyTorch one after
# the other on each at 2 threads, and prints the table (also bench/out/forward_table.md).
#
#   bench/run_forward.sh            THREADS=2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${THREADS:-2}"

scripts/install-deps.sh --bench
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMTUNE_BUILD_TESTS=OFF \
    -DSLIMTUNE_BUILD_BENCH=ON >/dev/null
ninja -C build-bench bench_forward >/dev/null
/usr/bin/python3 bench/make_bench_checkpoints.py

out=bench/out
mkdir -p "$out"
for m in gpt2_124m smollm2_135m; do
    build-bench/bench/bench_forward --model "$out/models/$m" --threads "$threads" \
        --json "$out/forward_slimtune_$m.json"
    /usr/bin/python3 bench/torch_forward.py --model "$out/models/$m" --threads "$threads" \
        --json "$out/forward_torch_$m.json"
done

/usr/bin/python3 - "$out" <<'PY' | tee "$out/forward_table.md"
import json, sys
out = sys.argv[1]
# Matmul weights per model (N, including the output head) and attention FLOPs per token for a
# causal 256-token prompt (4 * layers * T/2 * d): model FLOPs per prompt token = 2N + attention.
shapes = {"gpt2_124m": (12, 768, 3072, 50257, 12 * 768),
          "smollm2_135m": (30, 576, 1536, 49152, 9 * 64)}
print("| model | workload | slimtune tok/s | PyTorch tok/s | ratio | PyTorch GEMM GFLOP/s | slimtune MFU |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
for m, (L, C, F, V, d) in shapes.items():
    s = json.load(open(f"{out}/forward_slimtune_{m}.json"))
    t = json.load(open(f"{out}/forward_torch_{m}.json"))
    if m.startswith("gpt2"):
        N = L * (4 * C * C + 2 * C * F) + V * C
    else:
        kv = C // 3  # 3 kv heads of 64 on 9 query heads
        N = L * (2 * C * C + 2 * C * kv + 3 * C * F) + V * C
    flops = 2 * N + 4 * L * 128 * d
    for w in ("prompt", "gen"):
        a, b = s[f"{w}_tokens_per_s"], t[f"{w}_tokens_per_s"]
        mfu = f"{100 * a * flops / 480e9:.1f} %" if w == "prompt" else "-"
        print(f"| {m} | {'prompt 256' if w == 'prompt' else 'generate 64'} | {a:.1f} | {b:.1f} "
              f"| {a / b:.2f} | {t['gemm_gflops']:.0f} | {mfu} |")
print()
print("MFU = prompt tokens/s x (2 N + 4 L (T/2) d) / 480 GFLOP/s (FP32 peak of 2 cores);")
print("N = matmul weights including the output head, T = 256, d = attention width.")
PY
