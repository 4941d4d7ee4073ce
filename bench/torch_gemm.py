#!/usr/bin/python3
"""The PyTorch peer of bench_gemm: the same 18 FP32 products, timed the same way.

Shapes: M = 1024 tokens, (in, out) of GPT-2 124M and SmolLM2-135M linear layers. W [out, in],
X [1024, in], dY [1024, out]:  fwd = x @ w.t(),  dX = dy @ w,  dW = dy.t() @ x.
Warm-up once, then at least --reps timings and at least --min-time seconds; best time is the
figure. Results go into a preallocated tensor (out=), as bench_gemm writes into a preallocated C,
so neither side pays for allocating and page-faulting the output.

Runs with the system interpreter (/usr/bin/python3; Debian's python3-torch). It refuses to run
when torch's libblas.so.3 is the reference BLAS (about 50x slower: every ratio would be
meaningless); install libopenblas0-openmp (scripts/install-deps.sh --bench).

usage: /usr/bin/python3 bench/torch_gemm.py [--threads N] [--reps N] [--min-time S]
                                            [--peak GFLOPS] [--json FILE]
"""
import argparse
import json
import os
import re
import sys
import time

TOKENS = 1024
SHAPES = [
    ("gpt2", "attn.qkv", 768, 2304),
    ("gpt2", "mlp.fc", 768, 3072),
    ("gpt2", "mlp.proj", 3072, 768),
    ("smollm2", "mlp.up", 576, 1536),
    ("smollm2", "mlp.down", 1536, 576),
    ("smollm2", "lm_head", 576, 49152),
]
BLAS_ALTERNATIVE = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"


def parse_args():
    env = os.environ.get("OMP_NUM_THREADS", "")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=int(env) if env.isdigit() and int(env) > 0 else 2)
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--min-time", type=float, default=0.3)
    p.add_argument("--peak", type=float, default=480.0)
    p.add_argument("--json")
    a = p.parse_args()
    if a.threads < 1 or a.reps < 1 or a.peak <= 0:
        p.error("--threads, --reps and --peak must be positive")
    return a


def loaded_blas():
    """Real paths of the BLAS libraries mapped into this process (call after a matmul)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in os.path.basename(path):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def check_blas(torch):
    a = torch.ones(64, 64)
    a @ a  # loads libblas.so.3
    libs = loaded_blas()
    alt = os.path.realpath(BLAS_ALTERNATIVE) if os.path.exists(BLAS_ALTERNATIVE) else "(none)"
    info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    print(f"# torch {torch.__version__}  BLAS_INFO={info.group(1) if info else '?'} "
          f"(Debian: system libblas.so.3)  libblas.so.3 -> {alt}")
    print(f"# BLAS mapped in this process: {' '.join(libs) or '(none)'}")
    if not any("openblas" in lib for lib in libs) or any("/blas/libblas" in lib for lib in libs):
        sys.exit(
            "torch_gemm.py: REFUSING TO RUN: PyTorch is not using OpenBLAS but "
            f"{' '.join(libs) or 'no BLAS'} (libblas.so.3 -> {alt}); with the reference BLAS its "
            "FP32 GEMM runs at ~6 GFLOP/s and every ratio would be meaningless.\n"
            "Install OpenBLAS: scripts/install-deps.sh --bench  (apt-get install libopenblas0-openmp)"
        )
    return libs


def main():
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before torch/OpenBLAS/libgomp start
    try:
        import torch
    except ImportError:
        sys.exit(f"torch_gemm.py: no torch in {sys.executable}; run it with /usr/bin/python3 "
                 "after scripts/install-deps.sh --bench")
    torch.set_num_threads(args.threads)
    libs = check_blas(torch)
    print(f"# pytorch torch_gemm  backend=torch.matmul+openblas  threads={args.threads} "
          f"(torch.get_num_threads={torch.get_num_threads()})  reps>={args.reps} "
          f"min-time={args.min_time:.2f}s  stat=best  peak={args.peak:.0f} GFLOP/s")
    print(f"{'model':<8} {'layer':<9} {'in x out':<10} {'prod':<4} {'M x N x K':>17} "
          f"{'best ms':>10} {'median ms':>10} {'GFLOP/s':>9} {'%peak':>7}")
    gen = torch.Generator().manual_seed(1234)

    def rand(*shape):
        return torch.rand(*shape, generator=gen, dtype=torch.float32) * 2 - 1

    results = []
    with torch.no_grad():
        for model, layer, n_in, n_out in SHAPES:
            x, w, dy = rand(TOKENS, n_in), rand(n_out, n_in), rand(TOKENS, n_out)
            products = [
                ("fwd", False, True, TOKENS, n_out, n_in, lambda o: torch.matmul(x, w.t(), out=o)),
                ("dX", False, False, TOKENS, n_in, n_out, lambda o: torch.matmul(dy, w, out=o)),
                ("dW", True, False, n_out, n_in, TOKENS, lambda o: torch.matmul(dy.t(), x, out=o)),
            ]
            for name, ta, tb, m, n, k, fn in products:
                c = torch.empty(m, n, dtype=torch.float32)
                fn(c)  # warm-up
                times = []
                while len(times) < args.reps or (sum(times) < args.min_time and len(times) < 1000):
                    t0 = time.perf_counter()
                    fn(c)
                    times.append(time.perf_counter() - t0)
                times.sort()
                best, median = times[0], times[len(times) // 2]
                flops = 2.0 * m * n * k
                gflops = flops / best * 1e-9
                print(f"{model:<8} {layer:<9} {f'{n_in}x{n_out}':<10} {name:<4} "
                      f"{f'{m}x{n}x{k}':>17} {best * 1e3:10.3f} {median * 1e3:10.3f} "
                      f"{gflops:9.1f} {100 * gflops / args.peak:6.1f}%", flush=True)
                results.append(dict(model=model, layer=layer, **{"in": n_in, "out": n_out},
                                    product=name, trans_a=ta, trans_b=tb, M=m, N=n, K=k,
                                    flops=flops, reps=len(times), best_s=best, median_s=median,
                                    gflops=gflops, gflops_median=flops / median * 1e-9,
                                    pct_peak=100 * gflops / args.peak))
            del x, w, dy
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(tool="pytorch", torch_version=torch.__version__,
                           backend="torch.matmul+openblas", blas=libs, threads=args.threads,
                           peak_gflops=args.peak, stat="best", results=results), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
