#!/usr/bin/python3
"""PyTorch reference for `slimtune export --format hf`: PEFT LoRA adapters merged into the base.

For reference checkpoints of tests/fixtures/models/ (made by gen_models.py) this script writes
a deterministic LoRA adapter exactly as PEFT's save_pretrained lays it out
(tests/fixtures/adapters/<name>/: adapter_config.json + adapter_model.safetensors with keys
"base_model.model.<module>.lora_A.weight" (r, in) and "...lora_B.weight" (out, r)), merges it
as PEFT's merge_and_unload does (W += transpose(B @ A, fan_in_fan_out) * scaling), and writes
the merged model's golden to tests/golden/export/<name>.safetensors. A SHA256SUMS file is
written last in each output directory (paths relative to it); the script warns about files it
did not produce and deletes nothing.

    /usr/bin/python3 tests/reference/gen_export.py [--out-fixtures DIR] [--out-golden DIR]

Golden file (gen_ops' safetensors layout):
    tokens                 I64 [64]     the prompt (gen_models.draw_tokens; tokens[0] = bos)
    logits                 F64 [64, V]  one causal forward of the merged model, in float64 from
                                        the merged weights rounded to float32 (what an export
                                        holds)
    merged.<tensor name>   F64          each adapted weight merged in float64, under its
                                        checkpoint name and in the checkpoint's layout (GPT-2
                                        Conv1D: (in, out))
    __metadata__           generator, torch, model, adapter, seed, scaling.<module> per module

Deterministic: seeded torch.Generators, float64 math on one thread. Before writing, the script
checks that the merged forward equals the adapter applied at run time (gen_train_parity's
forward_hidden), and that the merge moves the weights and the logits far beyond float32 noise.
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_models import draw_tokens, forward, write_case, write_sums  # noqa: E402
from gen_ops import decode_safetensors, encode_safetensors  # noqa: E402
from gen_train_parity import forward_hidden, load_fixture, select  # noqa: E402

GENERATOR = "tests/reference/gen_export.py"
T_TOKENS = 64  # golden prompt length

# Each case exercises a different scaling rule, so a loader that ignores one of them gets the
# logits wrong rather than failing loudly:
#   llama_gqa_lora: alpha / r, rank_pattern (v_proj at rank 2: other shapes in the file) and an
#                   alpha_pattern for one module (same shapes, only the scaling differs);
#   gpt2_lora:      rsLoRA (alpha / sqrt(r)) on GPT-2's Conv1D layers, which PEFT adapts with
#                   fan_in_fan_out = true ("c_proj" matches attn.c_proj and mlp.c_proj).
CASES = [
    dict(name="llama_gqa_lora", fixture="llama_gqa", seed=601, r=4, alpha=8,
         targets=["q_proj", "v_proj"], rslora=False,
         rank_pattern={"v_proj": 2}, alpha_pattern={"layers.1.self_attn.q_proj": 12}),
    dict(name="gpt2_lora", fixture="gpt2", seed=602, r=3, alpha=8,
         targets=["c_attn", "c_proj"], rslora=True, rank_pattern={}, alpha_pattern={}),
]


def pattern_key(keys, module):
    """PEFT's get_pattern_key: the first key matching `.*\\.<key>$`, else the module itself
    (which then only finds an exact entry)."""
    return next((k for k in keys if re.match(r".*\.%s$" % k, module)), module)


def peft_config(case, conv1d):
    """adapter_config.json as PEFT 0.13 writes it (every key of LoraConfig that it saves)."""
    return {
        "alpha_pattern": case["alpha_pattern"],
        "auto_mapping": None,
        "base_model_name_or_path": "tests/fixtures/models/" + case["fixture"],
        "bias": "none",
        "fan_in_fan_out": conv1d,
        "inference_mode": True,
        "init_lora_weights": True,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": case["alpha"],
        "lora_dropout": 0.05,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "peft_type": "LORA",
        "r": case["r"],
        "rank_pattern": case["rank_pattern"],
        "revision": None,
        "target_modules": sorted(case["targets"]),  # a set in PEFT; its order carries nothing
        "task_type": "CAUSAL_LM",
        "use_dora": False,
        "use_rslora": case["rslora"],
    }


def make_adapter(case, a, W):
    """[(module, weight key, conv1d, A, B, scaling)] with float32 A (r, in) and B (out, r)."""
    g = torch.Generator()
    g.manual_seed(case["seed"])
    out = []
    for module, key, conv1d in select(a, case["targets"]):
        r = case["rank_pattern"].get(pattern_key(case["rank_pattern"], module), case["r"])
        alpha = case["alpha_pattern"].get(pattern_key(case["alpha_pattern"], module),
                                          case["alpha"])
        scaling = alpha / math.sqrt(r) if case["rslora"] else alpha / r
        w = W[key + ".weight"]
        in_f, out_f = (w.shape[0], w.shape[1]) if conv1d else (w.shape[1], w.shape[0])
        # A as PEFT initialises it (kaiming-uniform, ±1/sqrt(in)); B non-zero (as after
        # training) and sized so that scaling * B @ A is about half the base weight (std
        # 1/sqrt(in)): a merge that is missing, transposed or scaled wrongly shows in the logits.
        A = (torch.rand(r, in_f, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(in_f)
        sigma = 0.5 * math.sqrt(3.0) / (scaling * math.sqrt(r))
        B = torch.randn(out_f, r, generator=g, dtype=torch.float64) * sigma
        out.append((module, key, conv1d, A.float(), B.float(), scaling))
    for patterns in (case["rank_pattern"], case["alpha_pattern"]):
        for k in patterns:  # a pattern that selects nothing would test nothing
            assert any(pattern_key([k], m[0]) == k for m in out), (case["name"], k)
    return out


def adapter_files(case, mods):
    conv1d = any(m[2] for m in mods)
    assert all(m[2] == conv1d for m in mods)  # PEFT's fan_in_fan_out is one flag per adapter
    items = []
    for module, _, _, A, B, _ in mods:
        items.append(("base_model.model.%s.lora_A.weight" % module, "F32", A.numpy()))
        items.append(("base_model.model.%s.lora_B.weight" % module, "F32", B.numpy()))
    items.sort(key=lambda it: it[0])  # safetensors' save_file order
    config = json.dumps(peft_config(case, conv1d), indent=2, sort_keys=True).encode("ascii")
    return {"adapter_config.json": config,
            "adapter_model.safetensors": encode_safetensors(items, {"format": "pt"})}


def merged_weights(W, mods):
    """PEFT's merge in float64: W + transpose(B @ A, fan_in_fan_out) * scaling, in the
    checkpoint's layout (Conv1D weights stay (in, out))."""
    M = dict(W)
    for _, key, conv1d, A, B, scaling in mods:
        delta = (B.double() @ A.double()) * scaling  # (out, in)
        M[key + ".weight"] = W[key + ".weight"] + (delta.T if conv1d else delta)
    return M


def unmerged_logits(a, W, mods, ids):
    """The adapter applied at run time (y = base(x) + B(A(x)) * scaling): a second
    formulation of the merged model."""
    lora = {key: (A.double(), B.double(), s) for _, key, _, A, B, s in mods}
    hidden, head = forward_hidden(a, W, lora, ids[None])
    return hidden @ head.T / getattr(a, "logits_scaling", 1.0)


def max_rel(x, ref):
    return ((x - ref).abs().max() / ref.abs().max()).item()


def build(case):
    cfg, a, W32 = load_fixture(case["fixture"])
    W = {k: v.double() for k, v in W32.items()}
    mods = make_adapter(case, a, W)
    files = adapter_files(case, mods)

    # The adapter file holds exactly what the merge uses.
    back, meta = decode_safetensors(files["adapter_model.safetensors"])
    assert meta == {"format": "pt"} and len(back) == 2 * len(mods)
    for module, _, _, A, B, _ in mods:
        assert np.array_equal(back["base_model.model.%s.lora_A.weight" % module], A.numpy())
        assert np.array_equal(back["base_model.model.%s.lora_B.weight" % module], B.numpy())

    M = merged_weights(W, mods)
    # The golden logits come from what an export holds: the merged weights in float32.
    M32 = {k: v.float().double() for k, v in M.items()}
    ids = draw_tokens(case["seed"], a.V, cfg["bos_token_id"])[:T_TOKENS]
    logits = forward(a, M32, ids)

    # Self-checks: merging equals applying the adapter at run time (forward_hidden rounds
    # RoPE's cos/sin to float32, hence the tolerance); the merge changed the weights and the
    # logits well beyond any float32 tolerance.
    err = max_rel(forward(a, M, ids), unmerged_logits(a, W, mods, ids))
    assert err < 1e-6, (case["name"], "merged vs unmerged", err)
    for _, key, _, _, _, _ in mods:
        w = W[key + ".weight"]
        assert max_rel(M[key + ".weight"], w) > 0.2, (case["name"], key)
    base_gap = max_rel(forward(a, W, ids), logits)
    assert base_gap > 0.05, (case["name"], "merge barely changes the logits", base_gap)

    tensors = [("tokens", "I64", ids.numpy()), ("logits", "F64", logits.numpy())]
    for module, key, _, _, _, _ in mods:
        tensors.append(("merged.%s.weight" % module, "F64", M[key + ".weight"].numpy()))
    meta = {
        "generator": GENERATOR,
        "torch": torch.__version__,
        "model": case["fixture"],
        "adapter": case["name"],
        "seed": str(case["seed"]),
    }
    for module, _, _, _, _, scaling in mods:
        meta["scaling." + module] = repr(scaling)
    golden = encode_safetensors(tensors, meta)
    gback, gmeta = decode_safetensors(golden)
    assert gmeta == meta and list(gback) == [t[0] for t in tensors]
    print("%-15s %d adapted layers, logit std %.2f, merge moves the logits by %.2f of their "
          "max, merged vs unmerged %.1e" % (case["name"], len(mods), logits.std().item(),
                                           base_gap, err))
    return files, golden


def main(argv=None):
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out-fixtures", type=Path, default=root / "fixtures" / "adapters",
                    help="adapter directory (default: %(default)s)")
    ap.add_argument("--out-golden", type=Path, default=root / "golden" / "export",
                    help="golden directory (default: %(default)s)")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    args = ap.parse_args(argv)
    names = [c["name"] for c in CASES]
    if args.list:
        print("\n".join(names))
        return 0

    torch.set_num_threads(1)  # bit-reproducible float64 reductions
    fix_dir, gold_dir = args.out_fixtures, args.out_golden
    fix_dir.mkdir(parents=True, exist_ok=True)
    gold_dir.mkdir(parents=True, exist_ok=True)
    fix_sums, gold_sums = {}, {}
    for case in CASES:
        files, golden = build(case)
        write_case(fix_dir, gold_dir, case["name"], files, golden, fix_sums, gold_sums)
    write_sums(fix_dir, gold_dir, fix_sums, gold_sums, names)
    print("wrote %d adapters to %s and their goldens + SHA256SUMS to %s"
          % (len(CASES), fix_dir, gold_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
