"""PyTorch reference for slimtune's training step: LoRA and full fine-tuning parity.

For small random checkpoints of tests/fixtures/models/ (Llama with GQA, Qwen2, GPT-2, and
Gemma 2 and 3 with sequences longer than their sliding windows) runs
K = 10 optimizer steps exactly as transformers + PEFT + torch.optim would, in float32:

  * LoRA as PEFT: y = base(x) + lora_B(lora_A(x)) * alpha / r (dropout 0), on the modules
    listed per case, A and B drawn here (B non-zero, so the very first step already tests the
    adapter path) and saved, so that the C++ run starts from the same values;
  * AdamW (torch.optim.AdamW, foreach=False), lr from a warmup + cosine LambdaLR with a floor;
  * torch.nn.utils.clip_grad_norm_ before each step;
  * gradient accumulation over 2 micro-batches whose losses are normalised by the number of
    counted targets of both together (so the step equals one batch of both);

plus one full fine-tuning case (every parameter trainable, weight decay on matrices only), and
two LoRA cases with the frozen base in bfloat16 (slimtune's model.base_dtype = bfloat16): the
frozen projection, embedding and head weights rounded to bf16 (nearest, ties to even); the
activations entering those matmuls rounded to bf16 in the forward, and the output gradients
entering their input-gradient matmuls rounded to bf16 in the backward; products accumulated in
float32, as autocast's oneDNN matmuls do. LoRA A/B, norms, attention, the loss and AdamW stay
float32.
Writes tests/golden/train/<case>.safetensors: initial adapters, the batches, per-step loss, lr
and gradient norm, and the final trainable weights. Deterministic (seeded generators, one
thread). Run with the system interpreter:

    /usr/bin/python3 tests/reference/gen_train_parity.py [--out DIR]
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gemma_ref  # noqa: E402
from gen_models import (  # noqa: E402
    arch_of, load_checkpoint, rope_inv_freq,  # noqa: F401
)
from gen_ops import (  # noqa: E402
    attention, encode_safetensors, gelu_tanh, layer_norm, rms_norm, silu, write_atomic,
)

ROOT = Path(__file__).resolve().parents[2]
K_STEPS, ACCUM, BATCH, SEQ = 10, 2, 2, 16
HYPER = dict(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, max_grad_norm=1.0,
             warmup_steps=2, min_lr_ratio=0.1)

CASES = [
    # name, fixture, mode, lora targets (PEFT list), rank, alpha, lr, frozen base dtype
    ("lora_llama", "llama_gqa", "lora", ["q_proj", "v_proj", "o_proj", "down_proj"], 4, 8.0, 5e-3,
     "float32"),
    ("lora_qwen2", "qwen2", "lora", "all-linear", 4, 16.0, 5e-3, "float32"),
    ("lora_gpt2", "gpt2", "lora", ["c_attn", "c_proj"], 4, 8.0, 5e-3, "float32"),
    ("full_llama", "llama_gqa", "full", None, 0, 0.0, 1e-3, "float32"),
    ("lora_llama_bf16", "llama_gqa", "lora", "all-linear", 4, 8.0, 5e-3, "bfloat16"),
    ("lora_gpt2_bf16", "gpt2", "lora", ["c_attn", "c_proj"], 4, 8.0, 5e-3, "bfloat16"),
    ("lora_gemma2", "gemma2", "lora", "all-linear", 4, 8.0, 5e-3, "float32"),
    ("lora_gemma3", "gemma3_270m", "lora", ["q_proj", "v_proj", "o_proj", "down_proj"], 4, 8.0,
     5e-3, "float32"),
    ("full_gemma3", "gemma3_1b", "full", None, 0, 0.0, 1e-3, "float32"),
]


def to_bf16(t):
    """float32 -> nearest bfloat16 (ties to even) -> float32: torch's own rounding."""
    return t.to(torch.bfloat16).to(torch.float32)


class Bf16Matmul(torch.autograd.Function):
    """x @ w^T with x rounded to bf16 (w, frozen, already is); backward rounds dy to bf16 before
    dy @ w. Products of bf16 values are exact in float32; only the summation order differs from
    a BF16 kernel's."""

    @staticmethod
    def forward(ctx, x, w_t):
        ctx.save_for_backward(w_t)
        return to_bf16(x) @ w_t

    @staticmethod
    def backward(ctx, dy):
        (w_t,) = ctx.saved_tensors
        return to_bf16(dy) @ w_t.T, None


BF16_BASE = False  # set per case by run_case


def base_matmul(x, w_t):
    return Bf16Matmul.apply(x, w_t) if BF16_BASE else x @ w_t


def lr_factor(step, total):
    """Warmup then cosine to the floor (transformers' cosine schedule with min_lr_ratio)."""
    w = HYPER["warmup_steps"]
    if step < w:
        return step / max(1, w)
    progress = (step - w) / max(1, total - w)
    cos = 0.5 * (1.0 + math.cos(math.pi * progress))
    return HYPER["min_lr_ratio"] + (1.0 - HYPER["min_lr_ratio"]) * cos


def load_fixture(name):
    d = ROOT / "tests" / "fixtures" / "models" / name
    cfg = json.loads((d / "config.json").read_text())
    files = {p.name: p.read_bytes() for p in d.iterdir() if p.suffix in (".safetensors", ".json")}
    a, W = load_checkpoint(files, cfg)
    return cfg, a, {k: v.to(torch.float32) for k, v in W.items()}


def linear_modules(a):
    """(module name as in the HF model with its prefix, weight key in W, conv1d)."""
    out = []
    for i in range(a.L):
        if a.model_type == "gpt2":
            for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"):
                out.append(("transformer.h.%d.%s" % (i, m), "h.%d.%s" % (i, m), True))
        else:
            for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                      "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
                out.append(("model.layers.%d.%s" % (i, m), "model.layers.%d.%s" % (i, m), False))
    return out


def select(a, targets):
    mods = linear_modules(a)
    if targets == "all-linear":
        return mods
    return [m for m in mods if any(m[0] == t or m[0].endswith("." + t) for t in targets)]


def rope32(x, inv_freq):
    T = x.shape[1]
    rd = 2 * inv_freq.shape[0]
    half = rd // 2
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat([ang, ang], dim=-1)[None, :, None, :]
    cos, sin = torch.cos(emb).to(torch.float32), torch.sin(emb).to(torch.float32)
    x_rot, x_pass = x[..., :rd], x[..., rd:]
    rot_half = torch.cat([-x_rot[..., half:], x_rot[..., :half]], dim=-1)
    return torch.cat([x_rot * cos + rot_half * sin, x_pass], dim=-1)


def forward_hidden(a, W, lora, ids):
    """Hidden states [B*T, C] and the head; `lora` maps weight key -> (A, B, scaling)."""
    B, T = ids.shape

    def proj(key, x, conv1d):
        w, b = W[key + ".weight"], W.get(key + ".bias")
        y = base_matmul(x, w if conv1d else w.T)
        if b is not None:
            y = y + b
        if key in lora:
            A, Bm, s = lora[key]
            y = y + (x @ A.T) @ Bm.T * s
        return y

    if a.model_type in gemma_ref.GEMMA_TYPES:
        x = gemma_ref.gemma_hidden(a, W, ids, proj=lambda W_, key, x: proj(key, x, False))
        return x.reshape(B * T, a.C), W["model.embed_tokens.weight"]
    if a.model_type == "gpt2":
        C, H, D = a.C, a.H, a.D
        x = W["wte.weight"][ids] + W["wpe.weight"][:T][None]
        for i in range(a.L):
            p = "h.%d." % i
            h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], a.eps)
            qkv = proj(p + "attn.c_attn", h, True)
            q, k, v = (t.reshape(B, T, H, D) for t in qkv.split(C, dim=-1))
            att = attention(q, k, v, 1.0 / math.sqrt(D)).reshape(B, T, C)
            x = x + proj(p + "attn.c_proj", att, True)
            h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], a.eps)
            x = x + proj(p + "mlp.c_proj", gelu_tanh(proj(p + "mlp.c_fc", h, True)), True)
        x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"], a.eps)
        return x.reshape(B * T, C), W["wte.weight"]
    x = W["model.embed_tokens.weight"][ids] * a.emb_mult
    for i in range(a.L):
        p = "model.layers.%d." % i
        h = rms_norm(x, W[p + "input_layernorm.weight"], a.eps)
        q = rope32(proj(p + "self_attn.q_proj", h, False).reshape(B, T, a.Hq, a.D), a.inv_freq)
        k = rope32(proj(p + "self_attn.k_proj", h, False).reshape(B, T, a.Hkv, a.D), a.inv_freq)
        v = proj(p + "self_attn.v_proj", h, False).reshape(B, T, a.Hkv, a.D)
        att = attention(q, k, v, a.scale).reshape(B, T, a.Hq * a.D)
        x = x + proj(p + "self_attn.o_proj", att, False) * a.res_mult
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], a.eps)
        m = silu(proj(p + "mlp.gate_proj", h, False)) * proj(p + "mlp.up_proj", h, False)
        x = x + proj(p + "mlp.down_proj", m, False) * a.res_mult
    x = rms_norm(x, W["model.norm.weight"], a.eps)
    head = W["model.embed_tokens.weight"] if a.tied else W["lm_head.weight"]
    return x.reshape(B * T, a.C), head


def summed_ce(hidden, head, targets, logits_scaling, final_cap=None):
    logits = gemma_ref.softcap(base_matmul(hidden, head.T) / logits_scaling, final_cap)
    return torch.nn.functional.cross_entropy(logits, targets.reshape(-1), ignore_index=-100,
                                             reduction="sum")


def draw_batches(seed, V):
    g = torch.Generator().manual_seed(seed)
    n = K_STEPS * ACCUM
    ids = torch.randint(0, V, (n, BATCH, SEQ), generator=g)
    targets = torch.full((n, BATCH, SEQ), -100, dtype=torch.int64)
    targets[:, :, :-1] = ids[:, :, 1:]
    # Mask a prompt-like prefix of varying length in row 0, and the tail of row 1 in odd
    # micro-batches (padding): the counted-token normaliser then differs between micro-batches.
    for j in range(n):
        targets[j, 0, : 1 + j % 5] = -100
        if j % 2:
            targets[j, 1, SEQ - 4:] = -100
    return ids, targets


def run_case(name, fixture, mode, targets, rank, alpha, lr, base_dtype, seed):
    global BF16_BASE
    BF16_BASE = base_dtype == "bfloat16"
    torch.manual_seed(seed)
    cfg, a, W = load_fixture(fixture)
    if BF16_BASE:  # what slimtune holds in bf16: every block projection, the embedding, the head
        for k in W:
            if W[k].dim() == 2 and "wpe" not in k:
                W[k] = to_bf16(W[k])
    logits_scaling = getattr(a, "logits_scaling", 1.0)
    g = torch.Generator().manual_seed(seed + 1)
    lora, tensors_out, params, decay = {}, [], [], []
    if mode == "lora":
        for module, key, conv1d in select(a, targets):
            w = W[key + ".weight"]
            in_f, out_f = (w.shape[0], w.shape[1]) if conv1d else (w.shape[1], w.shape[0])
            bound = 1.0 / math.sqrt(in_f)
            A = ((torch.rand(rank, in_f, generator=g) * 2 - 1) * bound).to(torch.float32)
            Bm = (torch.randn(out_f, rank, generator=g) * 0.02).to(torch.float32)
            tensors_out += [("init/" + module + ".lora_A", "F32", A.numpy().copy()),
                            ("init/" + module + ".lora_B", "F32", Bm.numpy().copy())]
            A.requires_grad_(True)
            Bm.requires_grad_(True)
            lora[key] = (A, Bm, alpha / rank)
            params += [(module + ".lora_A", A), (module + ".lora_B", Bm)]
        decay = [t for _, t in params]  # transformers' Trainer decays LoRA A and B
        nodecay = []
    else:
        for k in list(W):
            W[k].requires_grad_(True)
            params.append((k, W[k]))
        decay = [W[k] for k in W if W[k].dim() >= 2]
        nodecay = [W[k] for k in W if W[k].dim() < 2]
    groups = [{"params": decay, "weight_decay": HYPER["weight_decay"]}]
    if nodecay:
        groups.append({"params": nodecay, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=lr, betas=(HYPER["beta1"], HYPER["beta2"]),
                            eps=HYPER["eps"], foreach=False)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, K_STEPS))
    ids, tg = draw_batches(seed + 2, a.V)
    losses, lrs, norms = [], [], []
    for step in range(K_STEPS):
        micro = range(step * ACCUM, (step + 1) * ACCUM)
        n_total = sum(int((tg[j] != -100).sum()) for j in micro)
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        for j in micro:
            h, head = forward_hidden(a, W, lora, ids[j])
            loss = summed_ce(h, head, tg[j], logits_scaling, getattr(a, "final_cap", None)) / n_total
            loss.backward()
            loss_sum += float(loss)
        all_params = [t for _, t in params]
        norm = torch.nn.utils.clip_grad_norm_(all_params, HYPER["max_grad_norm"])
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(loss_sum)
        norms.append(float(norm))
    tensors_out += [("ids", "I64", ids.numpy()), ("targets", "I64", tg.numpy()),
                    ("loss", "F64", np.array(losses)), ("lr", "F64", np.array(lrs)),
                    ("grad_norm", "F64", np.array(norms))]
    for pname, t in params:
        tensors_out.append(("final/" + pname, "F32", t.detach().numpy().copy()))
    meta = {"generator": "tests/reference/gen_train_parity.py", "fixture": fixture, "mode": mode,
            "targets": json.dumps(targets), "rank": str(rank), "alpha": repr(alpha),
            "lr": repr(lr), "steps": str(K_STEPS), "accum": str(ACCUM),
            "hyper": json.dumps(HYPER, sort_keys=True), "torch": torch.__version__}
    if BF16_BASE:
        meta["base_dtype"] = base_dtype
    print("%-11s loss %.6f -> %.6f  grad norm %.4f -> %.4f  (%d tensors)" %
          (name, losses[0], losses[-1], norms[0], norms[-1], len(params)))
    return encode_safetensors(tensors_out, meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "golden" / "train"))
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, case in enumerate(CASES):
        write_atomic(out / (case[0] + ".safetensors"), run_case(*case, seed=1000 + 10 * i))


if __name__ == "__main__":
    main()
