#!/usr/bin/python3
"""Random float32 checkpoints in the true Hugging Face layout for bench/run_forward.sh and
bench/run_train.sh.

Four models at their real sizes, written once into bench/out/models/<name>/ (git-ignored, not
committed; about 1 GB for the first two and the Gemma 3 shape, 2 GB for the Qwen2.5 shape):

  gpt2_124m     GPT-2 small: vocab 50257, n_positions 1024, n_embd 768, 12 layers, 12 heads,
                tied head; keys `transformer.*`, Conv1D weights stored [in, out]
  smollm2_135m  SmolLM2-135M (llama): vocab 49152, hidden 576, intermediate 1536, 30 layers,
                9 heads / 3 KV heads, rope_theta 100000, rms_norm_eps 1e-5, tied head,
                max_position_embeddings 2048
  qwen25_05b    Qwen2.5-0.5B (qwen2): vocab 151936, hidden 896, intermediate 4864, 24 layers,
                14 heads / 2 KV heads (head_dim 64), q/k/v biases (o_proj and the MLP have
                none), rope_theta 1e6, rms_norm_eps 1e-6, tied head, max_position_embeddings
                32768, no sliding window; 494 M parameters, 1.98 GB of F32 (kept F32, not the
                hub's BF16, so that the float32 peer computes exactly what slimtune reads)
  gemma3_270m   Gemma 3 270M (gemma3_text): vocab 262144, hidden 640, intermediate 2048,
                18 layers (layer_types: five sliding-window layers of 512 tokens, then a
                global one), 4 heads / 1 KV head of head_dim 256, q/k norms, four norms per
                block, rope_theta 1e6 (global) and 10000 (local), tied head; 268 M parameters
                (168 M of them the embedding), 1.07 GB of F32. Gemma's norm weights act as
                1 + w: they are written 0 (an identity norm, like the others' 1)

Each directory holds config.json and generation_config.json with the keys and spellings of
the hub's files (torch_dtype says float32, which is what the weights are here) and one
model.safetensors (F32, tensors sorted by name, metadata {"format": "pt"}, no lm_head.weight:
the head is tied, as save_pretrained writes it; no GPT-2 attn.bias mask buffers). Matrices
and embeddings are N(0, 0.02), norm weights 1, biases 0 except Qwen2's q/k/v biases, which are
N(0, 0.02) too (so the bias path is exercised). Deterministic: every tensor has its
own numpy PCG64 stream seeded from (model seed, crc32 of its name).

The safetensors file is streamed, one tensor at a time (peak memory: the largest tensor, not
the whole model); its bytes are those gen_ops.encode_safetensors would write.

A directory is built under a temporary name and renamed into place, and it carries a stamp
file (.bench-checkpoint.json: generator version, config, SHA-256 of every file); a directory
whose stamp matches is left alone, anything else under that name is rebuilt.

    /usr/bin/python3 bench/make_bench_checkpoints.py [--out DIR] [--only NAME ...] [--force]
                                                     [--verify]
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "reference"))
from gen_ops import write_atomic  # noqa: E402

GENERATOR = "bench/make_bench_checkpoints.py"
VERSION = 1          # bump whenever the bytes this script writes change
STAMP = ".bench-checkpoint.json"
STD = 0.02


def dump_json(obj):
    """config.json the way transformers' save_pretrained writes it."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode("ascii")


# The hub's config.json of openai-community/gpt2, key for key (it has no torch_dtype and no
# tie_word_embeddings: GPT-2 ties by default).
GPT2_124M_CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 50256,
    "embd_pdrop": 0.1,
    "eos_token_id": 50256,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 1024,
    "n_embd": 768,
    "n_head": 12,
    "n_layer": 12,
    "n_positions": 1024,
    "resid_pdrop": 0.1,
    "summary_activation": None,
    "summary_first_dropout": 0.1,
    "summary_proj_to_labels": True,
    "summary_type": "cls_index",
    "summary_use_proj": True,
    "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
    "vocab_size": 50257,
}

# The hub's config.json of HuggingFaceTB/SmolLM2-135M, key for key, except torch_dtype
# (bfloat16 there; these weights are float32).
SMOLLM2_135M_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "hidden_act": "silu",
    "hidden_size": 576,
    "initializer_range": 0.041666666666666664,
    "intermediate_size": 1536,
    "is_llama_config": True,
    "max_position_embeddings": 2048,
    "model_type": "llama",
    "num_attention_heads": 9,
    "num_hidden_layers": 30,
    "num_key_value_heads": 3,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_interleaved": False,
    "rope_scaling": None,
    "rope_theta": 100000,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.42.3",
    "use_cache": True,
    "vocab_size": 49152,
}


# The hub's config.json of Qwen/Qwen2.5-0.5B, key for key, except torch_dtype (bfloat16 there;
# these weights are float32).
QWEN25_05B_CONFIG = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151643,
    "hidden_act": "silu",
    "hidden_size": 896,
    "initializer_range": 0.02,
    "intermediate_size": 4864,
    "max_position_embeddings": 32768,
    "max_window_layers": 24,
    "model_type": "qwen2",
    "num_attention_heads": 14,
    "num_hidden_layers": 24,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "sliding_window": 32768,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": "4.40.1",
    "use_cache": True,
    "use_mrope": False,
    "use_sliding_window": False,
    "vocab_size": 151936,
}


# The hub's config.json of google/gemma-3-270m, key for key, except dtype (bfloat16 there).
GEMMA3_270M_CONFIG = {
    "_sliding_window_pattern": 6,
    "architectures": ["Gemma3ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "attn_logit_softcapping": None,
    "bos_token_id": 2,
    "dtype": "float32",
    "eos_token_id": 1,
    "final_logit_softcapping": None,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "hidden_size": 640,
    "initializer_range": 0.02,
    "intermediate_size": 2048,
    "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention"
                    for i in range(18)],
    "max_position_embeddings": 32768,
    "model_type": "gemma3_text",
    "num_attention_heads": 4,
    "num_hidden_layers": 18,
    "num_key_value_heads": 1,
    "pad_token_id": 0,
    "query_pre_attn_scalar": 256,
    "rms_norm_eps": 1e-06,
    "rope_local_base_freq": 10000.0,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": 512,
    "transformers_version": "4.55.0.dev0",
    "use_bidirectional_attention": False,
    "use_cache": True,
    "vocab_size": 262144,
}


def gpt2_params(c):
    """(HF name, shape, kind) of every tensor GPT2LMHeadModel.save_pretrained writes."""
    V, P, C, L = c["vocab_size"], c["n_positions"], c["n_embd"], c["n_layer"]
    F = c.get("n_inner") or 4 * C
    out = [("transformer.wte.weight", (V, C), "w"), ("transformer.wpe.weight", (P, C), "w")]
    for i in range(L):
        h = "transformer.h.%d." % i
        out += [(h + "ln_1.weight", (C,), "one"), (h + "ln_1.bias", (C,), "zero"),
                (h + "attn.c_attn.weight", (C, 3 * C), "w"),
                (h + "attn.c_attn.bias", (3 * C,), "zero"),
                (h + "attn.c_proj.weight", (C, C), "w"), (h + "attn.c_proj.bias", (C,), "zero"),
                (h + "ln_2.weight", (C,), "one"), (h + "ln_2.bias", (C,), "zero"),
                (h + "mlp.c_fc.weight", (C, F), "w"), (h + "mlp.c_fc.bias", (F,), "zero"),
                (h + "mlp.c_proj.weight", (F, C), "w"), (h + "mlp.c_proj.bias", (C,), "zero")]
    out += [("transformer.ln_f.weight", (C,), "one"), ("transformer.ln_f.bias", (C,), "zero")]
    return out


def llama_params(c):
    """(HF name, shape, kind) of every tensor LlamaForCausalLM (or Qwen2ForCausalLM: q/k/v
    biases) save_pretrained writes."""
    V, C, F, L = c["vocab_size"], c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    D = c.get("head_dim") or C // c["num_attention_heads"]
    nq, nkv = c["num_attention_heads"] * D, c["num_key_value_heads"] * D
    out = [("model.embed_tokens.weight", (V, C), "w")]
    for i in range(L):
        p = "model.layers.%d." % i
        out += [(p + "input_layernorm.weight", (C,), "one"),
                (p + "self_attn.q_proj.weight", (nq, C), "w"),
                (p + "self_attn.k_proj.weight", (nkv, C), "w"),
                (p + "self_attn.v_proj.weight", (nkv, C), "w"),
                *([(p + "self_attn.q_proj.bias", (nq,), "w"),
                   (p + "self_attn.k_proj.bias", (nkv,), "w"),
                   (p + "self_attn.v_proj.bias", (nkv,), "w")]
                  if c["model_type"] == "qwen2" else []),
                (p + "self_attn.o_proj.weight", (C, nq), "w"),
                (p + "post_attention_layernorm.weight", (C,), "one"),
                (p + "mlp.gate_proj.weight", (F, C), "w"),
                (p + "mlp.up_proj.weight", (F, C), "w"),
                (p + "mlp.down_proj.weight", (C, F), "w")]
    out.append(("model.norm.weight", (C,), "one"))
    if not c.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (V, C), "w"))
    return out


def gemma3_params(c):
    """(HF name, shape, kind) of every tensor Gemma3ForCausalLM save_pretrained writes (the
    head is tied); norm weights are offsets from 1."""
    V, C, F, L = c["vocab_size"], c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"]
    D = c["head_dim"]
    nq, nkv = c["num_attention_heads"] * D, c["num_key_value_heads"] * D
    out = [("model.embed_tokens.weight", (V, C), "w")]
    for i in range(L):
        p = "model.layers.%d." % i
        out += [(p + "input_layernorm.weight", (C,), "zero"),
                (p + "self_attn.q_proj.weight", (nq, C), "w"),
                (p + "self_attn.k_proj.weight", (nkv, C), "w"),
                (p + "self_attn.v_proj.weight", (nkv, C), "w"),
                (p + "self_attn.q_norm.weight", (D,), "zero"),
                (p + "self_attn.k_norm.weight", (D,), "zero"),
                (p + "self_attn.o_proj.weight", (C, nq), "w"),
                (p + "post_attention_layernorm.weight", (C,), "zero"),
                (p + "pre_feedforward_layernorm.weight", (C,), "zero"),
                (p + "mlp.gate_proj.weight", (F, C), "w"),
                (p + "mlp.up_proj.weight", (F, C), "w"),
                (p + "mlp.down_proj.weight", (C, F), "w"),
                (p + "post_feedforward_layernorm.weight", (C,), "zero")]
    out.append(("model.norm.weight", (C,), "zero"))
    return out


MODELS = {
    "gpt2_124m": dict(seed=124, config=GPT2_124M_CONFIG, params=gpt2_params,
                      generation={"_from_model_config": True, "bos_token_id": 50256,
                                  "eos_token_id": 50256, "transformers_version": "4.26.0.dev0"}),
    "smollm2_135m": dict(seed=135, config=SMOLLM2_135M_CONFIG, params=llama_params,
                         generation={"_from_model_config": True, "bos_token_id": 0,
                                     "eos_token_id": 0, "transformers_version": "4.42.3"}),
    "qwen25_05b": dict(seed=500, config=QWEN25_05B_CONFIG, params=llama_params,
                       generation={"bos_token_id": 151643, "do_sample": False,
                                   "eos_token_id": 151643, "max_new_tokens": 2048,
                                   "transformers_version": "4.37.0"}),
    "gemma3_270m": dict(seed=270, config=GEMMA3_270M_CONFIG, params=gemma3_params,
                        generation={"bos_token_id": 2, "cache_implementation": "hybrid",
                                    "do_sample": True, "eos_token_id": [1, 106],
                                    "pad_token_id": 0, "top_k": 64, "top_p": 0.95,
                                    "transformers_version": "4.55.0.dev0"}),
}


def tensor(seed, name, shape, kind):
    if kind == "one":
        return np.ones(shape, np.float32)
    if kind == "zero":
        return np.zeros(shape, np.float32)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [seed, zlib.crc32(name.encode("ascii"))])))
    a = rng.standard_normal(shape, dtype=np.float32)
    a *= np.float32(STD)
    return a


def expected_stamp(name, spec):
    return {"generator": GENERATOR, "version": VERSION, "name": name, "seed": spec["seed"],
            "std": STD, "config": spec["config"], "generation_config": spec["generation"]}


def read_stamp(d):
    try:
        return json.loads((d / STAMP).read_text())
    except (OSError, ValueError):
        return None


def is_current(d, name, spec):
    st = read_stamp(d)
    if st is None:
        return False
    files = st.pop("files", None)
    return (st == expected_stamp(name, spec) and isinstance(files, dict)
            and all((d / f).is_file() for f in files))


def verify(d):
    """Re-hashes the files listed in the stamp; returns the names that differ."""
    st = read_stamp(d) or {}
    bad = []
    for fname, (size, digest) in st.get("files", {}).items():
        p = d / fname
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                h.update(block)
        if p.stat().st_size != size or h.hexdigest() != digest:
            bad.append(fname)
    return bad


def replace_dir(tmp, final):
    """Puts the finished directory tmp in the place of final (a directory, a link or nothing),
    so that a reader never sees a half-written checkpoint."""
    if final.exists() or final.is_symlink():
        old = final.parent / (".%s.old-%d" % (final.name, os.getpid()))
        os.rename(final, old)
        os.rename(tmp, final)
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    else:
        os.rename(tmp, final)


def write_safetensors(path, seed, params, metadata):
    """Streams the F32 tensors `params` ((name, shape, kind), written in this order) into
    `path` (temp file + rename); returns (bytes, SHA-256 hex digest, parameter count). The
    bytes equal gen_ops.encode_safetensors': the same header JSON, padding and data order."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    offset = 0
    for name, shape, _ in params:
        n = 4 * int(np.prod(shape, dtype=np.int64))
        header[name] = {"dtype": "F32", "shape": [int(x) for x in shape],
                        "data_offsets": [offset, offset + n]}
        offset += n
    hdr = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hdr += b" " * ((-(8 + len(hdr))) % 8)  # 8 + N is a multiple of 8
    head = struct.pack("<Q", len(hdr)) + hdr
    digest = hashlib.sha256(head)
    tmp = path.parent / ("." + path.name + ".tmp")
    count = 0
    try:
        with open(tmp, "wb") as f:
            f.write(head)
            for name, shape, kind in params:
                data = tensor(seed, name, shape, kind).astype("<f4", copy=False).tobytes()
                digest.update(data)
                f.write(data)
                count += int(np.prod(shape, dtype=np.int64))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(head) + offset, digest.hexdigest(), count


def build(out, name, spec):
    """Writes the directory under a temporary name, then renames it into place."""
    final = out / name
    tmp = out / (".%s.tmp-%d" % (name, os.getpid()))
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        cfg = spec["config"]
        files = {"config.json": dump_json(cfg),
                 "generation_config.json": dump_json(spec["generation"])}
        stamp = expected_stamp(name, spec)
        stamp["files"] = {}
        for fname, blob in files.items():
            write_atomic(tmp / fname, blob)
            stamp["files"][fname] = [len(blob), hashlib.sha256(blob).hexdigest()]
        st_size, st_hash, n_params = write_safetensors(
            tmp / "model.safetensors", spec["seed"], sorted(spec["params"](cfg)), {"format": "pt"})
        stamp["files"]["model.safetensors"] = [st_size, st_hash]
        size = sum(len(b) for b in files.values()) + st_size
        write_atomic(tmp / STAMP, dump_json(stamp))
        replace_dir(tmp, final)
        return n_params, size
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out" / "models",
                    help="parent directory of the checkpoints (default: %(default)s)")
    ap.add_argument("--only", nargs="+", choices=sorted(MODELS), help="just these models")
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    ap.add_argument("--verify", action="store_true",
                    help="re-hash the files of present checkpoints against their stamps")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    status = 0
    for name in args.only or sorted(MODELS):
        spec, d = MODELS[name], args.out / name
        if not args.force and is_current(d, name, spec):
            if args.verify:
                bad = verify(d)
                if bad:
                    print("%s: FILES DIFFER FROM THE STAMP: %s (rerun with --force)"
                          % (d, ", ".join(bad)), file=sys.stderr)
                    status = 1
                    continue
            print("%s: present%s" % (d, " (verified)" if args.verify else ""))
            continue
        t0 = time.perf_counter()
        n_params, size = build(args.out, name, spec)
        print("%s: written, %.1f M parameters, %.1f MB, %.1f s"
              % (d, n_params / 1e6, size / 1e6, time.perf_counter() - t0), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
