#!/usr/bin/python3
"""The PyTorch peer of bench_train: training throughput as transformers + PEFT + torch.optim.

What one timed step is (eager float32 on CPU, --threads threads; --bf16: the same under
torch.autocast("cpu", dtype=torch.bfloat16), see below):
  forward   the model of torch_forward.py (GPT2LMHeadModel / LlamaForCausalLM written the way
            transformers computes them; imported, not copied), in train mode, logits for every
            position. Model dropout is left out (both sides compute the same function; GPT-2's
            config has p = 0.1, SmolLM2's 0).
  loss      transformers' ForCausalLMLoss: labels = ids padded with one -100 and shifted left,
            cross_entropy(logits.view(-1, V), labels, ignore_index=-100, reduction="mean"),
            i.e. the mean over the batch*(seq-1) positions that have a next token.
  backward  loss.backward()
  clip      torch.nn.utils.clip_grad_norm_(trainable, 1.0)
  optimizer torch.optim.AdamW(lr 1e-4, betas (0.9, 0.999), eps 1e-8, weight decay 0 = the
            Trainer's defaults, in the Trainer's two groups: decay / no decay for biases and
            norm weights), foreach=None as the Trainer leaves it; in torch 1.13 None means
            the single-tensor loop (foreach=False). Then zero_grad(set_to_none=True).
--bf16    forward and loss run under torch.autocast("cpu", dtype=torch.bfloat16), backward
          outside it (as the autocast docs say): every Linear's matmul runs BF16 x BF16 -> FP32
          accumulate (oneDNN when torch.backends.mkldnn is available) while the parameters stay
          float32, i.e. the usual PEFT + autocast setup on CPU: LoRA A/B, their gradients and
          AdamW in FP32, the frozen float32 base weights cast to BF16 at each use (autocast
          caches casts only of leaves that require grad). Softmax, norms and the loss follow
          autocast's own fp32 lists; causal_lm_loss takes logits.float().
--checkpoint-activations  every transformer block runs through
          torch.utils.checkpoint.checkpoint(use_reentrant=False): only its input is kept, and it
          is recomputed in backward (the transformers gradient_checkpointing_enable() setup).
The figure is the median wall time of --steps steps after --warmup untimed ones (the upper
median for an even count, as bench_train); tokens/s = batch*seq / median (every input token).
Peak RSS = VmHWM of /proc/self/status for the whole process (checkpoint loading included), MiB.

LoRA as PEFT builds it: each nn.Linear / Conv1D whose name is a target or ends with
".<target>" becomes base_layer(x) + lora_B(lora_A(lora_dropout(x))) * alpha/r, lora_A =
nn.Linear(in, r, bias=False) kaiming-uniform (a = sqrt(5)), lora_B = nn.Linear(r, out,
bias=False) zeros, lora_dropout = nn.Identity() (dropout 0); every other parameter frozen.
Full mode: every parameter trains (the tied head/embedding once).

Data: one batch reused every step, ids[b, t] = splitmix64(1234, b*seq + t) % vocab, the same
ids as bench_train (slimtune's Rng(1234).next_u64()), labels = ids. So both sides' first_loss
(the base model's loss: LoRA's B is 0) must agree.

It times its own GEMMs on x[1024, 576] @ w[1536, 576].t() (SmolLM2's up_proj shape,
M x N x K = 1024 x 1536 x 576): FP32 (torch.matmul -> OpenBLAS; it refuses to run without
OpenBLAS) and BF16 (the same matmul on bf16 tensors: what autocast's Linear layers reach).
--check also asserts: the LoRA model's step-0 loss equals the plain model's loss, lora_A's
gradient is 0 at step 0 (B = 0), and the loss falls over the steps on the repeated batch.

usage: /usr/bin/python3 bench/torch_train.py --model DIR [--mode lora|full]
         [--targets c_attn,c_proj] [--rank 8] [--alpha 16] [--batch 4] [--seq 256] [--steps 5]
         [--warmup 2] [--lr 1e-4] [--threads 2] [--bf16] [--checkpoint-activations]
         [--json OUT] [--check]
JSON: model, mode, targets, rank, batch, seq, threads, tokens_per_s, step_s_median, step_s_all,
peak_rss_mb, trainable_params, matmul_params, flops_per_token, flops_formula, gemm_gflops (FP32),
gemm_bf16_gflops, gemm_shape, bf16_matmul_backend, base_dtype ("float32" or "autocast-bf16"),
checkpoint_activations, torch, versions, plus first_loss, last_loss, losses, grad_norms, lora_layers, optimizer.
"""
import argparse
import json
import math
import os
import platform
import resource
import sys
import time
from contextlib import nullcontext
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="Hugging Face model directory")
    ap.add_argument("--mode", choices=("lora", "full"), default="lora")
    ap.add_argument("--targets", default="c_attn,c_proj", help="LoRA target module names")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true",
                    help='forward + loss under torch.autocast("cpu", dtype=torch.bfloat16)')
    ap.add_argument("--checkpoint-activations", action="store_true",
                    help="torch.utils.checkpoint around every transformer block")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--check", action="store_true", help="also assert the LoRA invariants")
    a = ap.parse_args()
    if min(a.rank, a.batch, a.steps, a.threads) < 1 or a.warmup < 0 or a.seq < 2:
        ap.error("--rank, --batch, --steps, --threads must be >= 1, --seq >= 2, --warmup >= 0")
    return a


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:  # before torch / OpenBLAS / libgomp read it
    os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(HERE))
import torch_forward  # noqa: E402  (model classes, loader, GEMM timing)
from torch_gemm import check_blas  # noqa: E402  (refuses the reference BLAS)


class LoraLinear(nn.Module):
    """peft.tuners.lora.Linear with one adapter (Conv1D bases: fan_in_fan_out, weight [in, out])."""

    def __init__(self, base_layer, r, alpha):
        super().__init__()
        self.base_layer = base_layer
        if isinstance(base_layer, torch_forward.Conv1D):
            in_features, out_features = base_layer.weight.shape
        else:
            out_features, in_features = base_layer.weight.shape
        self.lora_dropout = nn.Identity()
        self.lora_A = nn.Linear(in_features, r, bias=False)
        self.lora_B = nn.Linear(r, out_features, bias=False)
        self.scaling = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        result = self.base_layer(x)
        return result + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def inject_lora(model, targets, r, alpha):
    """PEFT's matching: a module name equal to a target or ending with '.' + target."""
    names = [n for n, m in model.named_modules()
             if isinstance(m, (nn.Linear, torch_forward.Conv1D))
             and any(n == t or n.endswith("." + t) for t in targets)]
    if not names:
        sys.exit("torch_train.py: --targets %s match no linear layer" % ",".join(targets))
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoraLinear(getattr(parent, child), r, alpha))
    return names


def matmul_params(model):
    """Every base matmul weight (Linear / Conv1D, the head included; tied: counted as the head)."""
    return sum(m.weight.numel() for n, m in model.named_modules()
               if isinstance(m, (nn.Linear, torch_forward.Conv1D))
               and not n.split(".")[-1].startswith("lora_"))


def attention_shape(cfg):
    """(layers, attention width d = heads * head_dim)."""
    if cfg["model_type"] == "gpt2":
        return cfg["n_layer"], cfg["n_embd"]
    hq = cfg["num_attention_heads"]
    return cfg["num_hidden_layers"], hq * (cfg.get("head_dim") or cfg["hidden_size"] // hq)


def bench_ids(batch, seq, vocab, seed=1234):
    """slimtune's Rng(seed).next_u64() % vocab, counter i = b*seq + t (SplitMix64 finalizer)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.arange(batch * seq,
                                                                        dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return torch.from_numpy((z % np.uint64(vocab)).astype(np.int64).reshape(batch, seq))


def causal_lm_loss(logits, labels, vocab_size):
    """transformers.loss.loss_utils.ForCausalLMLoss (reduction mean, ignore_index -100)."""
    logits = logits.float()
    labels = nn.functional.pad(labels, (0, 1), value=-100)
    shift_labels = labels[..., 1:].contiguous()
    return nn.functional.cross_entropy(logits.view(-1, vocab_size), shift_labels.view(-1),
                                       ignore_index=-100, reduction="mean")


def peak_rss_mib():
    """VmHWM of /proc/self/status in MiB (the peak resident set), as bench_train reads it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def blocks(model):
    """The transformer blocks (GPT-2 transformer.h, Llama/Qwen2 model.layers)."""
    inner = getattr(model, "transformer", None) or getattr(model, "model", None)
    found = getattr(inner, "h", None) or getattr(inner, "layers", None)
    if found is None:
        sys.exit("torch_train.py: --checkpoint-activations: no transformer blocks found")
    return found


def checkpoint_blocks(model):
    """Wraps every block's forward in torch.utils.checkpoint (non-reentrant: the frozen
    embedding's output needs no grad, which the reentrant variant would not backprop through)."""
    import torch.utils.checkpoint as ckpt
    for blk in blocks(model):
        inner = blk.forward
        blk.forward = (lambda *a, _f=inner, **k:
                       ckpt.checkpoint(_f, *a, use_reentrant=False, **k))


def bf16_backend():
    """Where a bf16 matmul goes in this torch (call after one): oneDNN when torch has mkldnn
    and a oneDNN library is mapped into this process."""
    with open("/proc/self/maps") as f:
        libs = sorted({os.path.basename(line.split()[-1]) for line in f
                       if "dnnl" in line or "mkldnn" in line})
    if torch.backends.mkldnn.is_available() and libs:
        return "oneDNN: %s" % " ".join(libs)
    return "no oneDNN mapped (torch.backends.mkldnn %s): ATen's own bf16 gemm" \
        % torch.backends.mkldnn.is_available()


def optimizer_groups(model):
    """The Trainer's grouping: weight decay on all but biases and norm weights."""
    norm_types = (nn.LayerNorm, torch_forward.LlamaRMSNorm, torch_forward.Gemma3RMSNorm)
    no_decay = {id(p) for m in model.modules() if isinstance(m, norm_types)
                for p in m.parameters(recurse=False)}
    decay, rest = [], []
    for n, p in model.named_parameters():
        if p.requires_grad:
            (rest if id(p) in no_decay or n.endswith("bias") else decay).append(p)
    return [{"params": decay, "weight_decay": 0.0}, {"params": rest, "weight_decay": 0.0}]


def main():
    args = ARGS
    torch.set_num_threads(args.threads)
    name = Path(args.model).resolve().name
    libs = check_blas(torch)
    t0 = time.perf_counter()
    cfg, model = torch_forward.load_model(args.model)
    load_s = time.perf_counter() - t0
    V = cfg["vocab_size"]
    n_pos = cfg.get("n_positions") or cfg.get("max_position_embeddings") or 0
    if n_pos and args.seq > n_pos:
        sys.exit("torch_train.py: --seq %d exceeds the model's %d positions" % (args.seq, n_pos))
    # M x N x K = 1024 x 1536 x 576 (x[1024, 576] @ w[1536, 576].t()).
    gflops = torch_forward.gemm_gflops(1024, 576, 1536)
    gflops_bf16 = torch_forward.gemm_gflops(1024, 576, 1536, dtype=torch.bfloat16)
    ids = bench_ids(args.batch, args.seq, V)

    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.bf16 else nullcontext
    plain_loss = None
    if args.check:
        with torch.no_grad(), autocast():
            plain_loss = causal_lm_loss(model(ids), ids, V).item()
    targets = [t for t in args.targets.split(",") if t] if args.mode == "lora" else []
    torch.manual_seed(0)  # adapter init
    wrapped = inject_lora(model, targets, args.rank, args.alpha) if args.mode == "lora" else []
    for n, p in model.named_parameters():
        p.requires_grad_(args.mode == "full" or ".lora_" in n)
    if args.checkpoint_activations:
        checkpoint_blocks(model)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_train = sum(p.numel() for p in trainable)
    opt = torch.optim.AdamW(optimizer_groups(model), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0)
    N = matmul_params(model)
    L, d = attention_shape(cfg)
    k = 6 if args.mode == "full" else 4
    fpt = k * N + 6 * L * args.seq * d
    formula = "%d*N + 6*L*T*d (N = %d matmul weights incl. the head, L = %d, T = %d, d = %d)" \
        % (k, N, L, args.seq, d)
    print("# pytorch torch_train  torch %s  threads=%d (torch.get_num_threads=%d)  model %s "
          "(%s, loaded in %.1f s)  mode %s  %s  trainable %d  batch %dx%d  %s%s"
          % (torch.__version__, args.threads, torch.get_num_threads(), name, cfg["model_type"],
             load_s, args.mode, ("r=%d alpha=%g on %d layers (%s)" % (
                 args.rank, args.alpha, len(wrapped), ",".join(targets))) if wrapped else "",
             n_train, args.batch, args.seq,
             "autocast bf16" if args.bf16 else "float32",
             "  checkpointed blocks" if args.checkpoint_activations else ""))
    print("# peer GEMM 1024x1536x576 (x @ w.t(), best of >=10): FP32 %.1f GFLOP/s (OpenBLAS), "
          "BF16 %.1f GFLOP/s (%s)" % (gflops, gflops_bf16, bf16_backend()), flush=True)

    times, losses, grad_norms, a_grad0 = [], [], [], None
    for s in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        with autocast():  # logits live only inside the autograd graph
            loss = causal_lm_loss(model(ids), ids, V)
        loss.backward()
        if s == 0 and wrapped:
            a_grad0 = max(m.lora_A.weight.grad.abs().max().item() for m in model.modules()
                          if isinstance(m, LoraLinear))
        gn = torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        grad_norms.append(gn.item())
        del loss
        if s >= args.warmup:
            times.append(dt)
        print("step %d%s  %.3f s  loss %.6f  grad norm %.4g"
              % (s, " (warm-up)" if s < args.warmup else "", dt, losses[-1], grad_norms[-1]),
              flush=True)
    median = sorted(times)[len(times) // 2]  # as bench_train: the upper median when even
    tps = args.batch * args.seq / median
    rss_mb = peak_rss_mib()
    print("%-14s %s  %8.3f s/step (median of %d)  %8.1f tokens/s  peak RSS %.0f MB  "
          "loss %.6f -> %.6f" % (name, args.mode, median, len(times), tps, rss_mb, losses[0],
                                 losses[-1]), flush=True)

    ok = True
    if args.check:
        same = abs(losses[0] - plain_loss) <= 1e-6 * max(1.0, abs(plain_loss))
        falls = losses[-1] < losses[0] and all(math.isfinite(x) for x in losses)
        print("check: step-0 loss %.7f vs plain model %.7f: %s" % (losses[0], plain_loss,
                                                                   "equal" if same else "DIFFER"))
        if wrapped:
            print("check: max |grad lora_A| at step 0 (B = 0): %g" % a_grad0)
            same = same and a_grad0 == 0.0
        print("check: loss over %d steps on one batch: %.6f -> %.6f: %s"
              % (len(losses), losses[0], losses[-1], "falls" if falls else "DOES NOT FALL"))
        ok = same and falls
        print("check: %s" % ("OK" if ok else "FAILED"))
    if args.json:
        r = {"model": name, "mode": args.mode, "targets": ",".join(targets), "rank": args.rank,
             "alpha": args.alpha, "batch": args.batch, "seq": args.seq, "threads": args.threads,
             "tokens_per_s": tps, "step_s_median": median, "step_s_all": times,
             "peak_rss_mb": rss_mb, "trainable_params": n_train, "matmul_params": N,
             "flops_per_token": fpt, "flops_formula": formula, "gemm_gflops": gflops,
             "gemm_bf16_gflops": gflops_bf16, "gemm_shape": "1024x1536x576",
             "bf16_matmul_backend": bf16_backend(),
             "base_dtype": "autocast-bf16" if args.bf16 else "float32",
             "checkpoint_activations": args.checkpoint_activations,
             "torch": torch.__version__, "first_loss": losses[0], "last_loss": losses[-1],
             "losses": losses, "grad_norms": grad_norms, "lora_layers": len(wrapped),
             "optimizer": "torch.optim.AdamW(lr=%g, foreach=None -> single-tensor)" % args.lr,
             "versions": {"python": platform.python_version(), "torch": torch.__version__,
                          "numpy": np.__version__, "blas": libs}}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
