#!/usr/bin/python3
"""The markdown tables of bench/run_train.sh, from the JSON files both sides wrote.

  train_table.py table --out DIR --rounds N --threads N --peak G --peak-bf16 G --peak-source S
                       --cpu S --busy P[,P...] --steps N --warmup N [--batch 4] [--seq 256] NAME...
      DIR/train_{slimtune,torch}_NAME.rR.json for R = 1..N: one row per NAME, each side's best
      round (highest tokens/s).
  train_table.py scaling --out DIR --peak G --peak-bf16 G --peak-source S --cpu S --busy P
                         --steps N --warmup N [--tokens 1024] TAG...
      DIR/trainscale_{slimtune,torch}_TAG.json, TAG = s<seq>_t<threads>_<float32|bfloat16>.

MFU = tokens/s x FLOPs per token / peak, FLOPs per token as the peer counts them (bench_train
counts the same; a difference is flagged): LoRA 4 N + 6 L T d, full 6 N + 6 L T d. The peak is
the FP32 one for FP32 rows and the BF16 one for BF16-base rows.
"""
import argparse
import json
import math
import sys

# name: (label, precision, checkpointing, issue 16's target: minimum ratio, minimum slimtune
# tokens/s or None, RSS limit in MB or None, RSS limit as a fraction of the peer's or None)
WORKLOADS = {
    "smollm2_lora": ("SmolLM2-135M LoRA r=16, FP32", "fp32", False, 2.0, None, None, 0.4),
    "gpt2_lora": ("GPT-2-124M LoRA r=8, FP32", "fp32", False, 1.6, None, None, None),
    "smollm2_full": ("SmolLM2-135M full, FP32", "fp32", False, 1.5, None, None, None),
    "gpt2_full": ("GPT-2-124M full, FP32", "fp32", False, 1.5, None, None, None),
    "smollm2_lora_bf16": ("SmolLM2-135M LoRA r=16, BF16 base vs autocast", "bf16", False, 2.5,
                          1000.0, None, None),
    "gpt2_lora_bf16": ("GPT-2-124M LoRA r=8, BF16 base vs autocast", "bf16", False, 2.5, None,
                       None, None),
    "qwen25_lora_bf16": ("Qwen2.5-0.5B-shape LoRA r=16, BF16 base vs autocast", "bf16", False,
                         2.5, None, 3072.0, None),
    "smollm2_lora_ckpt": ("SmolLM2-135M LoRA r=16, FP32, checkpointed activations", "fp32",
                          True, None, None, None, None),
    # Issue 20 asks for the figures, with no target of its own.
    "gemma3_lora": ("Gemma-3-270M-shape LoRA r=16, FP32", "fp32", False, None, None, None, None),
}


def target_text(min_ratio, min_tps, rss_mb, rss_frac, ckpt):
    parts = []
    if min_ratio is not None:
        parts.append(f">= {min_ratio:.1f}x")
    if min_tps is not None:
        parts.append(f">= {min_tps:.0f} tok/s")
    if rss_mb is not None:
        parts.append(f"RSS <= {rss_mb / 1024:.0f} GB")
    if rss_frac is not None:
        parts.append(f"RSS <= {rss_frac}x peer")
    if ckpt:
        parts.append("RSS < unckpt.")
    return ", ".join(parts)


def fail(msg):
    sys.exit("train_table.py: " + msg)


def load(path, want):
    """The JSON object at `path`, checked against `want` (key -> expected value)."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    if not isinstance(d, dict):
        fail(f"{path}: not a JSON object")
    for key in ("tokens_per_s", "peak_rss_mb", "flops_per_token"):
        v = d.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or math.isinf(v):
            fail(f"{path}: '{key}' must be a positive number, got {v!r}")
    for key, value in want.items():
        if d.get(key) != value:
            fail(f"{path}: '{key}' is {d.get(key)!r}, expected {value!r}")
    return d


def want_of(side, precision, ckpt, **common):
    base = ("bfloat16" if side == "slimtune" else "autocast-bf16") if precision == "bf16" \
        else "float32"
    return dict(common, base_dtype=base, checkpoint_activations=ckpt)


def num(x):
    """A tokens/s figure: whole numbers from 10 up, two significant digits below."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2g}"


def mfu(tps, fpt, peak):
    return f"{100 * tps * fpt / (peak * 1e9):.1f}%" if peak > 0 else "n/a"


def gemm_line(peers):
    f32 = [p["gemm_gflops"] for p in peers if isinstance(p.get("gemm_gflops"), (int, float))]
    b16 = [p["gemm_bf16_gflops"] for p in peers
           if isinstance(p.get("gemm_bf16_gflops"), (int, float))]
    backend = next((p["bf16_matmul_backend"] for p in peers if p.get("bf16_matmul_backend")),
                   "?")
    rng = lambda v: f"{min(v):.0f}-{max(v):.0f}" if v else "?"
    return (f"Peer GEMM 1024x1536x576 (x @ w.t(), best of >= 10, timed in each peer run): FP32 "
            f"{rng(f32)} GFLOP/s (OpenBLAS), BF16 {rng(b16)} GFLOP/s ({backend}).")


def header(args, p0, what):
    blas = " ".join(b.rsplit("/", 1)[-1] for b in p0.get("versions", {}).get("blas", [])) or "?"
    print(f"\nslimtune bench_train vs PyTorch {p0.get('torch', '?')} (transformers-style models, "
          f"PEFT-style LoRA, torch.optim.AdamW; FP32 via {blas}, BF16 rows under "
          f"torch.autocast(\"cpu\", torch.bfloat16)); {what}; median of {args.steps} steps after "
          f"{args.warmup} warm-up.\n")
    print(f"CPU: {args.cpu}. CPUs busy before the run(s): {args.busy} % (figures taken while "
          "other work runs are noisy).\n")


def table(args):
    S, P = {}, {}
    for n in args.names:
        if n not in WORKLOADS:
            fail(f"unknown workload '{n}' (known: {', '.join(WORKLOADS)})")
        _, prec, ckpt = WORKLOADS[n][:3]
        mode = "full" if "_full" in n else "lora"
        for side, store in (("slimtune", S), ("torch", P)):
            store[n] = [load(f"{args.out}/train_{side}_{n}.r{r}.json",
                             want_of(side, prec, ckpt, threads=args.threads, batch=args.batch,
                                     seq=args.seq,
                                     mode=mode))
                        for r in range(1, args.rounds + 1)]
    allp = [p for n in args.names for p in P[n]]
    header(args, allp[0], f"threads {args.threads}; batch {args.batch} x {args.seq}; best run "
           f"per side over "
           f"{args.rounds} alternating round(s)")
    print(gemm_line(allp))
    print(f"Peaks (MFU denominators, {args.threads} threads): FP32 {args.peak:.0f} GFLOP/s, "
          f"BF16 {args.peak_bf16:.0f} GFLOP/s ({args.peak_source}).\n")
    print("| workload | slimtune tok/s | peer tok/s | ratio | target | slimtune MFU | peer MFU "
          "| slimtune peak RSS MB | peer peak RSS MB |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    notes, best = [], {}
    for n in args.names:
        label, prec, ckpt, min_ratio, min_tps, rss_limit, rss_frac = WORKLOADS[n]
        target = target_text(min_ratio, min_tps, rss_limit, rss_frac, ckpt)
        s = max(S[n], key=lambda x: x["tokens_per_s"])
        p = max(P[n], key=lambda x: x["tokens_per_s"])
        best[n] = (s, p)
        fpt = p["flops_per_token"]
        peak = args.peak_bf16 if prec == "bf16" else args.peak
        ratio = s["tokens_per_s"] / p["tokens_per_s"]
        missed = [] if min_ratio is None or ratio >= min_ratio else ["ratio"]
        if min_tps is not None and s["tokens_per_s"] < min_tps:
            missed.append("tok/s")
        if rss_limit is not None and s["peak_rss_mb"] > rss_limit:
            missed.append("RSS")
        if rss_frac is not None and s["peak_rss_mb"] > rss_frac * p["peak_rss_mb"]:
            missed.append("RSS")
        if ckpt and "smollm2_lora" in best and \
                s["peak_rss_mb"] >= best["smollm2_lora"][0]["peak_rss_mb"]:
            missed.append("RSS")
        verdict = ("none" if not target else
                   f"{target} ({'not met: ' + ', '.join(missed) if missed else 'met'})")
        print(f"| {label} | {s['tokens_per_s']:.1f} | {p['tokens_per_s']:.1f} | **{ratio:.2f}** "
              f"| {verdict} | {mfu(s['tokens_per_s'], fpt, peak)} "
              f"| {mfu(p['tokens_per_s'], fpt, peak)} | {s['peak_rss_mb']:.0f} "
              f"| {p['peak_rss_mb']:.0f} |")
        notes.append(f"{n}: {p['flops_formula']} = {fpt / 1e6:.1f} MFLOP per token; trainable "
                     f"{s.get('trainable_params', '?')} (slimtune) / {p['trainable_params']} "
                     "(PyTorch)")
        if abs(s["flops_per_token"] / fpt - 1) > 0.01:
            notes.append(f"WARNING {n}: slimtune counts {s['flops_per_token'] / 1e6:.1f} MFLOP "
                         "per token; the MFU columns both use the peer's count")
        if prec == "bf16":
            notes.append(f"{n}: slimtune: {s.get('base_note') or '(no base note)'}; peer: "
                         f"{p.get('bf16_matmul_backend', '?')}")
        sl, pl = s.get("first_loss"), p.get("first_loss")
        if isinstance(sl, (int, float)) and isinstance(pl, (int, float)):
            tol = 2e-5 if prec == "fp32" else 1e-2  # BF16 matmuls round differently per side
            agree = abs(sl - pl) <= tol * max(1.0, abs(pl))
            notes.append(f"{n}: first-step loss (base model, same ids) slimtune {sl:.5f}, PyTorch "
                         f"{pl:.5f}{'' if agree else '  <-- DIFFERENT: not the same computation'}")
    print()
    print(f"MFU = tokens/s x FLOPs per token / peak; FP32 rows: the FP32 FMA peak "
          f"{args.peak:.0f} GFLOP/s, BF16 rows: the AVX-512 BF16 dot-product peak "
          f"{args.peak_bf16:.0f} GFLOP/s ({args.peak_source}; against the FP32 peak, the "
          "project's usual denominator, a BF16 row's MFU is "
          f"{args.peak_bf16 / args.peak if args.peak > 0 else float('nan'):.2f}x its figure "
          "here). FLOPs per token: full fine-tuning 6 N, LoRA 4 N (frozen base: forward 2 N + "
          "input-gradient half of backward 2 N), plus causal attention 6 L T d; N = every matmul "
          f"weight including the output head (tied: once), L layers, T = {args.seq}, d = heads x "
          "head_dim (= hidden for these models). Checkpointed rows count the model's FLOPs only, "
          "not the recomputed forward (so their MFU is model FLOPs utilisation, not hardware).")
    for line in notes:
        print(f"- {line}")
    if "smollm2_lora_ckpt" in best and "smollm2_lora" in best:
        (s0, p0), (s1, p1) = best["smollm2_lora"], best["smollm2_lora_ckpt"]
        cost = lambda a, b: (f"{num(a['tokens_per_s'])} -> {num(b['tokens_per_s'])} tokens/s "
                             f"({100 * (b['tokens_per_s'] / a['tokens_per_s'] - 1):+.0f}%), peak "
                             f"RSS {a['peak_rss_mb']:.0f} -> {b['peak_rss_mb']:.0f} MB "
                             f"({100 * (b['peak_rss_mb'] / a['peak_rss_mb'] - 1):+.0f}%)")
        print(f"- checkpointed activations, cost on SmolLM2 LoRA FP32 (without -> with): "
              f"slimtune {cost(s0, s1)}; PyTorch {cost(p0, p1)}")
    for fp, bf in (("smollm2_lora", "smollm2_lora_bf16"), ("gpt2_lora", "gpt2_lora_bf16")):
        if fp in best and bf in best and best[fp][0].get("first_loss") is not None and \
                best[fp][0].get("first_loss") == best[bf][0].get("first_loss"):
            print(f"- NOTE {bf}: slimtune's first-step loss is bit-identical to its FP32 row's: "
                  "--base-dtype bfloat16 had no effect in this build (the BF16 path is not "
                  "there yet), so this row is FP32 against the peer's autocast.")
    for r in range(args.rounds):
        print(f"- round {r + 1} (slimtune/PyTorch tokens/s): " + "; ".join(
            f"{n} {num(S[n][r]['tokens_per_s'])}/{num(P[n][r]['tokens_per_s'])}"
            for n in args.names))
    f32 = [p["gemm_gflops"] for p in allp]
    if min(f32) < 0.3 * args.peak:
        print(f"\nWARNING: the peer's FP32 GEMM ran below 30% of the FP32 peak in some run "
              f"({min(f32):.0f} GFLOP/s): other work was running or the BLAS is wrong; those "
              "ratios are not trustworthy.")


def scaling(args):
    rows = []
    for tag in args.names:
        try:
            seq_s, thr_s, dt = tag.split("_")
            seq, thr = int(seq_s[1:]), int(thr_s[1:])
            assert seq_s[0] == "s" and thr_s[0] == "t" and dt in ("float32", "bfloat16")
        except (ValueError, AssertionError):
            fail(f"bad scaling tag '{tag}' (s<seq>_t<threads>_<float32|bfloat16>)")
        prec = "bf16" if dt == "bfloat16" else "fp32"
        pair = [load(f"{args.out}/trainscale_{side}_{tag}.json",
                     want_of(side, prec, False, threads=thr, seq=seq, mode="lora"))
                for side in ("slimtune", "torch")]
        if pair[0]["batch"] != pair[1]["batch"] or pair[0]["batch"] != max(1, args.tokens // seq):
            fail(f"{tag}: batch {pair[0]['batch']} / {pair[1]['batch']}, expected "
                 f"{max(1, args.tokens // seq)}")
        rows.append((seq, thr, prec, *pair))
    header(args, rows[0][4], f"SmolLM2-135M LoRA r=16 on the 7 projections; batch = "
           f"{args.tokens} / seq ({args.tokens} tokens a step; batch 1 where seq is longer); one "
           "run per side")
    print(gemm_line([r[4] for r in rows]))
    print(f"Peaks (MFU denominators, {args.threads} threads; other thread counts: scaled "
          f"linearly): FP32 {args.peak:.0f} GFLOP/s, "
          f"BF16 {args.peak_bf16:.0f} GFLOP/s ({args.peak_source}).\n")
    print("| seq | batch | threads | base | slimtune tok/s | peer tok/s | ratio | slimtune MFU "
          "| peer MFU | slimtune peak RSS MB | peer peak RSS MB |")
    print("| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for seq, thr, prec, s, p in rows:
        # The peaks were measured on --threads threads; per thread they scale linearly.
        peak = (args.peak_bf16 if prec == "bf16" else args.peak) * thr / args.threads
        fpt = p["flops_per_token"]
        print(f"| {seq} | {s['batch']} | {thr} | {'BF16 / autocast' if prec == 'bf16' else 'FP32'} "
              f"| {s['tokens_per_s']:.1f} | {p['tokens_per_s']:.1f} "
              f"| **{s['tokens_per_s'] / p['tokens_per_s']:.2f}** "
              f"| {mfu(s['tokens_per_s'], fpt, peak)} | {mfu(p['tokens_per_s'], fpt, peak)} "
              f"| {s['peak_rss_mb']:.0f} | {p['peak_rss_mb']:.0f} |")
    print()
    print(f"MFU = tokens/s x (4 N + 6 L T d) / peak (N = {rows[0][4]['matmul_params'] / 1e6:.1f} M "
          "matmul weights incl. the head, L = 30, T = seq, d = 576): the FP32 FMA peak for FP32 "
          "rows, the BF16 dot-product peak for BF16 rows, both scaled to the row's threads "
          f"(peak x threads / {args.threads}).")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("table", "scaling"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peak", type=float, required=True)
    ap.add_argument("--peak-bf16", type=float, required=True)
    ap.add_argument("--peak-source", default="given")
    ap.add_argument("--cpu", default="?")
    ap.add_argument("--busy", default="?")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--warmup", type=int, required=True)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    if args.rounds < 1 or args.threads < 1 or not args.peak > 0 or args.peak_bf16 < 0:
        ap.error("--rounds, --threads and --peak must be positive, --peak-bf16 >= 0")
    (table if args.what == "table" else scaling)(args)


if __name__ == "__main__":
    main()
