#!/usr/bin/python3
"""The PyTorch peer of bench_forward: the same checkpoint, written the way transformers'
GPT-2 and Llama modeling code computes it (float32, eager), a 256-token prompt in one pass and
64 greedy tokens with a KV cache, at 2 threads. Refuses to run on the reference BLAS (it must
be OpenBLAS: libopenblas0-openmp, see shared/research/baselines.md).

    /usr/bin/python3 bench/torch_forward.py --model DIR [--json OUT] [--threads 2]
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
from torch_gemm import check_blas  # noqa: E402  (the OpenBLAS guard)
from gen_ops import decode_safetensors  # noqa: E402


class Model:
    def __init__(self, d):
        self.cfg = json.loads((Path(d) / "config.json").read_text())
        arrays, _ = decode_safetensors((Path(d) / "model.safetensors").read_bytes())
        self.w = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
        c = self.cfg
        self.gpt2 = c["model_type"] == "gpt2"
        if self.gpt2:
            self.L, self.C, self.H = c["n_layer"], c["n_embd"], c["n_head"]
            self.Hkv, self.D = self.H, self.C // self.H
        else:
            self.L, self.C, self.H = c["num_hidden_layers"], c["hidden_size"], c["num_attention_heads"]
            self.Hkv, self.D = c["num_key_value_heads"], self.C // self.H
            inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.D, 2, dtype=torch.float32) / self.D))
            self.inv_freq = inv

    def attend(self, q, k, v, cache, layer, start):
        # q: (T, H, D), k, v: (T, Hkv, D); appends k, v to the cache (DynamicCache-like)
        if cache is not None:
            if layer in cache:
                k = torch.cat([cache[layer][0], k]); v = torch.cat([cache[layer][1], v])
            cache[layer] = (k, v)
        rep = self.H // self.Hkv
        k = k.repeat_interleave(rep, dim=1); v = v.repeat_interleave(rep, dim=1)
        q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)  # (H, T, D)
        s = q @ k.transpose(1, 2) / math.sqrt(self.D)
        Tq, Tk = s.shape[1], s.shape[2]
        mask = torch.ones(Tq, Tk, dtype=torch.bool).tril(Tk - Tq)
        s = s.masked_fill(~mask, float("-inf"))
        return (F.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(Tq, self.H * self.D)

    def rope(self, x, pos):
        f = pos[:, None].float() * self.inv_freq[None, :]
        emb = torch.cat([f, f], dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        half = x.shape[-1] // 2
        rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rot * sin

    def forward(self, ids, start, cache=None, last_only=False):
        w, T = self.w, len(ids)
        pos = torch.arange(start, start + T)
        if self.gpt2:
            p = "transformer."
            x = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][pos]
            for i in range(self.L):
                h = f"{p}h.{i}."
                a = F.layer_norm(x, (self.C,), w[h + "ln_1.weight"], w[h + "ln_1.bias"], 1e-5)
                qkv = torch.addmm(w[h + "attn.c_attn.bias"], a, w[h + "attn.c_attn.weight"])
                q, k, v = qkv.split(self.C, dim=1)
                o = self.attend(q.view(T, self.H, self.D), k.view(T, self.H, self.D),
                                v.view(T, self.H, self.D), cache, i, start)
                x = x + torch.addmm(w[h + "attn.c_proj.bias"], o, w[h + "attn.c_proj.weight"])
                m = F.layer_norm(x, (self.C,), w[h + "ln_2.weight"], w[h + "ln_2.bias"], 1e-5)
                m = F.gelu(torch.addmm(w[h + "mlp.c_fc.bias"], m, w[h + "mlp.c_fc.weight"]), approximate="tanh")
                x = x + torch.addmm(w[h + "mlp.c_proj.bias"], m, w[h + "mlp.c_proj.weight"])
            x = F.layer_norm(x, (self.C,), w[p + "ln_f.weight"], w[p + "ln_f.bias"], 1e-5)
            head = w[p + "wte.weight"]
        else:
            eps = self.cfg["rms_norm_eps"]

            def rms(t, g):
                return g * (t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + eps))

            x = w["model.embed_tokens.weight"][ids]
            for i in range(self.L):
                p = f"model.layers.{i}."
                a = rms(x, w[p + "input_layernorm.weight"])
                q = (a @ w[p + "self_attn.q_proj.weight"].t()).view(T, self.H, self.D)
                k = (a @ w[p + "self_attn.k_proj.weight"].t()).view(T, self.Hkv, self.D)
                v = (a @ w[p + "self_attn.v_proj.weight"].t()).view(T, self.Hkv, self.D)
                o = self.attend(self.rope(q, pos), self.rope(k, pos), v, cache, i, start)
                x = x + o @ w[p + "self_attn.o_proj.weight"].t()
                m = rms(x, w[p + "post_attention_layernorm.weight"])
                g = F.silu(m @ w[p + "mlp.gate_proj.weight"].t()) * (m @ w[p + "mlp.up_proj.weight"].t())
                x = x + g @ w[p + "mlp.down_proj.weight"].t()
            x = rms(x, w["model.norm.weight"])
            head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        if last_only:
            x = x[-1:]
        return x @ head.t()


def gemm_gflops():
    a, b = torch.randn(1024, 768), torch.randn(768, 768)
    best = 1e9
    for _ in range(5):
        t0 = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t0)
    return 2 * 1024 * 768 * 768 / best / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--gen", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    check_blas(torch)
    m = Model(args.model)
    V = m.cfg["vocab_size"]
    ids = torch.tensor([(i * 7919) % V for i in range(args.prompt)])
    g = gemm_gflops()
    with torch.inference_mode():
        best_prompt = 1e9
        for rep in range(6):  # 1 warm-up + best of 5
            t0 = time.perf_counter(); m.forward(ids, 0); dt = time.perf_counter() - t0
            if rep:
                best_prompt = min(best_prompt, dt)
        best_gen = 1e9
        for _ in range(3):
            cache = {}
            nxt = int(m.forward(ids, 0, cache, last_only=True)[-1].argmax())
            t0 = time.perf_counter()
            for step in range(args.gen):
                nxt = int(m.forward(torch.tensor([nxt]), args.prompt + step, cache, last_only=True)[-1].argmax())
            best_gen = min(best_gen, time.perf_counter() - t0)
    r = {"model": args.model, "prompt_tokens_per_s": args.prompt / best_prompt,
         "gen_tokens_per_s": args.gen / best_gen, "gemm_gflops": g, "threads": args.threads}
    print(f"torch {args.model}  threads {args.threads}  peer FP32 GEMM 1024x768x768: {g:.0f} GFLOP/s")
    print(f"prompt {args.prompt} tokens: {r['prompt_tokens_per_s']:.1f} tokens/s")
    print(f"generation {args.gen} tokens: {r['gen_tokens_per_s']:.1f} tokens/s")
    if args.json:
        Path(args.json).write_text(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
