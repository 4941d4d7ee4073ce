#!/usr/bin/python3
"""Random float32 checkpoints in the true Hugging Face layout, at the sizes of GPT-2 small
(124M) and SmolLM2-135M, for bench/run_forward.sh. Not committed: written to bench/out/models/
(git-ignored), once (a stamp file marks a finished directory). Weights N(0, 0.02), norms 1.

    /usr/bin/python3 bench/make_bench_checkpoints.py [--out DIR]
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "reference"))
import gen_models  # noqa: E402  (HF config.json builders)
from gen_ops import encode_safetensors, write_atomic  # noqa: E402


def gpt2_tensors(cfg, rng):
    V, P, C, L = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    F = cfg["n_inner"] or 4 * C
    w = lambda *s: rng.standard_normal(s, dtype=np.float32) * np.float32(0.02)
    t = [("transformer.wte.weight", w(V, C)), ("transformer.wpe.weight", w(P, C))]
    for i in range(L):
        h = f"transformer.h.{i}."
        t += [(h + "ln_1.weight", np.ones(C, np.float32)), (h + "ln_1.bias", np.zeros(C, np.float32)),
              (h + "attn.c_attn.weight", w(C, 3 * C)), (h + "attn.c_attn.bias", np.zeros(3 * C, np.float32)),
              (h + "attn.c_proj.weight", w(C, C)), (h + "attn.c_proj.bias", np.zeros(C, np.float32)),
              (h + "ln_2.weight", np.ones(C, np.float32)), (h + "ln_2.bias", np.zeros(C, np.float32)),
              (h + "mlp.c_fc.weight", w(C, F)), (h + "mlp.c_fc.bias", np.zeros(F, np.float32)),
              (h + "mlp.c_proj.weight", w(F, C)), (h + "mlp.c_proj.bias", np.zeros(C, np.float32))]
    t += [("transformer.ln_f.weight", np.ones(C, np.float32)),
          ("transformer.ln_f.bias", np.zeros(C, np.float32))]
    return t


def llama_tensors(cfg, rng):
    V, C, F, L = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    D = C // cfg["num_attention_heads"]
    nq, nkv = cfg["num_attention_heads"] * D, cfg["num_key_value_heads"] * D
    w = lambda *s: rng.standard_normal(s, dtype=np.float32) * np.float32(0.02)
    t = [("model.embed_tokens.weight", w(V, C))]
    for i in range(L):
        p = f"model.layers.{i}."
        t += [(p + "input_layernorm.weight", np.ones(C, np.float32)),
              (p + "self_attn.q_proj.weight", w(nq, C)), (p + "self_attn.k_proj.weight", w(nkv, C)),
              (p + "self_attn.v_proj.weight", w(nkv, C)), (p + "self_attn.o_proj.weight", w(C, nq)),
              (p + "post_attention_layernorm.weight", np.ones(C, np.float32)),
              (p + "mlp.gate_proj.weight", w(F, C)), (p + "mlp.up_proj.weight", w(F, C)),
              (p + "mlp.down_proj.weight", w(C, F))]
    t.append(("model.norm.weight", np.ones(C, np.float32)))
    return t


MODELS = {
    "gpt2_124m": (lambda: gen_models.gpt2_config(50257, 1024, 768, 12, 12, None, 50256, 50256), gpt2_tensors),
    "smollm2_135m": (lambda: gen_models.llama_config(49152, 576, 1536, 30, 9, 3, 0, 0, P=2048,
                                                     eps=1e-5, theta=100000.0, tie=True), llama_tensors),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out" / "models"))
    args = ap.parse_args()
    for name, (make_cfg, make_tensors) in MODELS.items():
        d = Path(args.out) / name
        if (d / ".complete").exists():
            print(f"{d}: present")
            continue
        d.mkdir(parents=True, exist_ok=True)
        cfg = make_cfg()
        tensors = make_tensors(cfg, np.random.default_rng(1234))
        write_atomic(d / "config.json", (json.dumps(cfg, indent=2) + "\n").encode())
        write_atomic(d / "model.safetensors",
                     encode_safetensors([(n, "F32", a) for n, a in tensors], {"format": "pt"}))
        (d / ".complete").write_text("ok\n")
        print(f"{d}: {sum(a.size for _, a in tensors) / 1e6:.1f} M parameters written")


if __name__ == "__main__":
    main()
