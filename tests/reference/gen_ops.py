#!/usr/bin/python3
"""Independent PyTorch reference for slimtune's op tests.

Writes one safetensors file per case (tests/golden/<case>.safetensors) holding the float32
inputs, the float32 upstream gradient, and the float64 forward output and input gradients,
then a SHA256SUMS file. See tests/reference/README.md for the format.

Run with the system interpreter (Debian's python3-torch + python3-numpy):

    /usr/bin/python3 tests/reference/gen_ops.py [--out DIR] [--list]

Everything is deterministic: each case draws its inputs from its own seeded torch.Generator,
and all reference math runs in float64 on one CPU thread.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

GENERATOR = "tests/reference/gen_ops.py"
MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------------
# safetensors writer
# --------------------------------------------------------------------------------------------

_DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I64": np.dtype("<i8"),
}


def encode_safetensors(tensors, metadata):
    """tensors: list of (name, dtype tag, numpy array) in write order; metadata: str -> str."""
    header = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, tag, arr in tensors:
        if name in header:
            raise ValueError("duplicate tensor name %r" % name)
        data = np.ascontiguousarray(np.asarray(arr), dtype=_DTYPES[tag]).tobytes(order="C")
        header[name] = {
            "dtype": tag,
            "shape": [int(s) for s in np.shape(arr)],
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    hdr = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    hdr += b" " * ((-(8 + len(hdr))) % 8)  # 8 + N is a multiple of 8
    return struct.pack("<Q", len(hdr)) + hdr + b"".join(blobs)


def decode_safetensors(buf):
    """Minimal reader used to verify what was written."""
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("ascii"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[base + b:base + e], dtype=_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"])
    return out, meta


def write_atomic(path, data):
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------------------------
# reference math (float64, written out explicitly)
# --------------------------------------------------------------------------------------------

def linear(x, w, b=None):
    y = x @ w.transpose(-1, -2)
    return y if b is None else y + b


def rms_norm(x, w, eps):
    inv = torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps)
    return x * inv * w


def layer_norm(x, w, b, eps):
    mu = x.mean(dim=-1, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(dim=-1, keepdim=True)  # biased
    return xc / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):
    c = math.sqrt(2.0 / math.pi)
    return 0.5 * x * (1.0 + torch.tanh(c * (x + 0.044715 * x * x * x)))


def silu(x):
    return x * torch.sigmoid(x)


def rope(x, positions, theta, rotary_dim):
    """x [B, T, H, D], positions [B, T] int; Hugging Face rotate-half convention."""
    half = rotary_dim // 2
    i = torch.arange(half, dtype=torch.float64)
    inv_freq = 1.0 / (theta ** (2.0 * i / rotary_dim))               # [half]
    ang = positions.to(torch.float64)[..., None] * inv_freq          # [B, T, half]
    emb = torch.cat([ang, ang], dim=-1)[:, :, None, :]              # [B, T, 1, rd]
    cos, sin = torch.cos(emb), torch.sin(emb)
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    rot_half = torch.cat([-x_rot[..., half:], x_rot[..., :half]], dim=-1)
    return torch.cat([x_rot * cos + rot_half * sin, x_pass], dim=-1)


def attention(q, k, v, scale, doc=None):
    """Causal self-attention with grouped-query heads.

    q [B, T, Hq, D], k/v [B, T, Hkv, D], doc [B, T] int or None -> out [B, T, Hq, D].
    """
    B, T, Hq, D = q.shape
    Hkv = k.shape[2]
    assert Hq % Hkv == 0
    group = Hq // Hkv
    kv_index = torch.arange(Hq) // group                            # query head -> kv head
    qh = q.permute(0, 2, 1, 3)                                       # [B, Hq, T, D]
    kh = k.permute(0, 2, 1, 3)[:, kv_index]                          # [B, Hq, T, D]
    vh = v.permute(0, 2, 1, 3)[:, kv_index]
    scores = (qh @ kh.transpose(-1, -2)) * scale                     # [B, Hq, Tq, Tk]
    ii = torch.arange(T)[:, None]
    jj = torch.arange(T)[None, :]
    masked = (jj > ii)[None, None]                                   # [1, 1, T, T]
    if doc is not None:
        masked = masked | (doc[:, :, None] != doc[:, None, :])[:, None]
    scores = scores.masked_fill(masked, float("-inf"))
    m = scores.max(dim=-1, keepdim=True).values.detach()
    e = torch.exp(scores - m)
    p = e / e.sum(dim=-1, keepdim=True)
    return (p @ vh).permute(0, 2, 1, 3)                             # [B, T, Hq, D]


def cross_entropy(logits, targets, ignore_index=-100):
    """Mean over non-ignored rows of logsumexp(z) - z[target]; returns shape [1]."""
    valid = targets != ignore_index
    m = logits.max(dim=-1, keepdim=True).values.detach()
    lse = torch.log(torch.exp(logits - m).sum(dim=-1)) + m[:, 0]
    safe_t = torch.where(valid, targets, torch.zeros_like(targets))
    picked = logits.gather(1, safe_t[:, None])[:, 0]
    per_row = (lse - picked) * valid.to(logits.dtype)
    return (per_row.sum() / valid.sum().to(logits.dtype)).reshape(1)


def splitmix_mix(seed, counter):
    z = (seed * 0x9E3779B97F4A7C15 + counter) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def dropout_keep(numel, p, seed, offset):
    keep = np.empty(numel, dtype=np.float64)
    for i in range(numel):
        u = (splitmix_mix(seed, offset + i) >> 40) / float(1 << 24)
        keep[i] = 1.0 if u >= p else 0.0
    return keep


# --------------------------------------------------------------------------------------------
# input drawing helpers (float32, from a per-case generator)
# --------------------------------------------------------------------------------------------

def randn(g, *shape, scale=1.0, shift=0.0):
    t = torch.randn(*shape, generator=g, dtype=torch.float32)
    return (t * scale + shift).to(torch.float32)


def weight(g, out_f, in_f):
    return randn(g, out_f, in_f, scale=1.0 / math.sqrt(in_f))


def i64(values):
    return torch.tensor(values, dtype=torch.int64)


def fmt(x):
    """Metadata string for a scalar parameter (repr-exact for floats)."""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float):
        return repr(x)
    return str(x)


# --------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------

class Spec:
    def __init__(self, inputs, diff, forward, meta=None, grad_out=None, aux=None):
        self.inputs = inputs        # list of (name, tensor float32 | int64)
        self.diff = diff            # names of differentiable inputs
        self.forward = forward      # fn(dict name -> float64/int64 tensor) -> float64 tensor
        self.meta = meta or {}      # op scalar parameters (python values)
        self.grad_out = grad_out    # float32 tensor or None (then drawn ~ randn like out)
        self.aux = aux or []        # list of (name, tag, numpy array)


CASES = []  # (name, op, seed, builder)


def case(name, op, seed):
    def register(fn):
        CASES.append((name, op, seed, fn))
        return fn
    return register


# 1. linear -----------------------------------------------------------------------------------

@case("linear", "linear", 101)
def _(g):
    x, w, b = randn(g, 2, 5, 8), weight(g, 6, 8), randn(g, 6, scale=0.5)
    return Spec([("x", x), ("weight", w), ("bias", b)], ["x", "weight", "bias"],
                lambda t: linear(t["x"], t["weight"], t["bias"]))


@case("linear_nobias", "linear", 102)
def _(g):
    x, w = randn(g, 2, 5, 8), weight(g, 6, 8)
    return Spec([("x", x), ("weight", w)], ["x", "weight"],
                lambda t: linear(t["x"], t["weight"]))


# 2. matmul -----------------------------------------------------------------------------------

def _matmul_case(name, seed, ta, tb):
    @case(name, "matmul", seed)
    def _(g):
        Bt, M, K, N = 2, 3, 4, 5
        a = randn(g, Bt, K, M) if ta else randn(g, Bt, M, K)
        b = randn(g, Bt, N, K) if tb else randn(g, Bt, K, N)

        def fwd(t):
            A = t["a"].transpose(-1, -2) if ta else t["a"]
            Bm = t["b"].transpose(-1, -2) if tb else t["b"]
            return A @ Bm
        return Spec([("a", a), ("b", b)], ["a", "b"], fwd,
                    meta={"trans_a": int(ta), "trans_b": int(tb)})


_matmul_case("matmul_nn", 201, False, False)
_matmul_case("matmul_nt", 202, False, True)
_matmul_case("matmul_tn", 203, True, False)
_matmul_case("matmul_tt", 204, True, True)


@case("matmul_2d", "matmul", 205)
def _(g):
    a, b = randn(g, 3, 4), randn(g, 4, 5)
    return Spec([("a", a), ("b", b)], ["a", "b"], lambda t: t["a"] @ t["b"],
                meta={"trans_a": 0, "trans_b": 0})


# 3. elementwise ------------------------------------------------------------------------------

def _binary_case(name, op, seed, sa, sb):
    @case(name, op, seed)
    def _(g):
        a, b = randn(g, *sa), randn(g, *sb)
        if op == "add":
            fwd = lambda t: t["a"] + t["b"]
        else:
            fwd = lambda t: t["a"] * t["b"]
        return Spec([("a", a), ("b", b)], ["a", "b"], fwd)


_binary_case("add_same", "add", 301, (3, 4), (3, 4))
_binary_case("add_bcast_row", "add", 302, (2, 3, 4), (4,))
_binary_case("add_bcast_mixed", "add", 303, (2, 1, 4), (3, 1))
_binary_case("mul_same", "mul", 304, (3, 4), (3, 4))
_binary_case("mul_bcast", "mul", 305, (2, 3, 4), (3, 1))


@case("scale", "scale", 306)
def _(g):
    x = randn(g, 3, 4)
    alpha = float(np.float32(0.37))  # the C++ multiplies by 0.37f
    return Spec([("x", x)], ["x"], lambda t: alpha * t["x"], meta={"alpha": "0.37"})


@case("narrow_last", "narrow_last", 307)
def _(g):
    x = randn(g, 2, 3, 7)
    return Spec([("x", x)], ["x"], lambda t: t["x"][..., 2:6],
                meta={"start": "2", "len": "4"})


@case("sum", "sum", 308)
def _(g):
    x = randn(g, 3, 5)
    return Spec([("x", x)], ["x"], lambda t: t["x"].sum().reshape(1))


# 4. embedding --------------------------------------------------------------------------------

@case("embedding", "embedding", 401)
def _(g):
    w = randn(g, 10, 6)
    ids = i64([3, 0, 9, 3, 3, 5, 0])
    return Spec([("weight", w), ("ids", ids)], ["weight"], lambda t: t["weight"][t["ids"]])


# 5-6. norms ----------------------------------------------------------------------------------

@case("layer_norm", "layer_norm", 501)
def _(g):
    eps = 1e-5
    x = randn(g, 4, 5, 16, scale=2.0, shift=0.5)
    w = randn(g, 16, scale=0.2, shift=1.0)
    b = randn(g, 16, scale=0.2)
    return Spec([("x", x), ("weight", w), ("bias", b)], ["x", "weight", "bias"],
                lambda t: layer_norm(t["x"], t["weight"], t["bias"], eps), meta={"eps": eps})


@case("rms_norm", "rms_norm", 601)
def _(g):
    eps = 1e-6
    x = randn(g, 4, 5, 16, scale=1.5, shift=0.3)
    w = randn(g, 16, scale=0.2, shift=1.0)
    return Spec([("x", x), ("weight", w)], ["x", "weight"],
                lambda t: rms_norm(t["x"], t["weight"], eps), meta={"eps": eps})


# 7. activations ------------------------------------------------------------------------------

@case("gelu_tanh", "gelu_tanh", 701)
def _(g):
    base = torch.linspace(-6.0, 6.0, 60, dtype=torch.float32).reshape(3, 20)
    x = (base + randn(g, 3, 20, scale=0.05)).to(torch.float32)
    return Spec([("x", x)], ["x"], lambda t: gelu_tanh(t["x"]))


@case("silu", "silu", 702)
def _(g):
    x = randn(g, 3, 20, scale=3.0)
    return Spec([("x", x)], ["x"], lambda t: silu(t["x"]))


@case("swiglu", "swiglu", 703)
def _(g):
    gate, up = randn(g, 3, 20, scale=2.0), randn(g, 3, 20)
    return Spec([("gate", gate), ("up", up)], ["gate", "up"],
                lambda t: silu(t["gate"]) * t["up"])


# 8. rope -------------------------------------------------------------------------------------

ROPE_POS = [[0, 1, 2, 3, 4, 5], [0, 1, 2, 0, 1, 2]]


def _rope_case(name, seed, D, rotary_dim):
    @case(name, "rope", seed)
    def _(g):
        theta = 10000.0
        x = randn(g, 2, 6, 3, D)
        return Spec([("x", x), ("positions", i64(ROPE_POS))], ["x"],
                    lambda t: rope(t["x"], t["positions"], theta, rotary_dim),
                    meta={"theta": theta, "rotary_dim": rotary_dim})


_rope_case("rope_full", 801, 8, 8)
_rope_case("rope_partial", 802, 10, 4)


# 9. attention --------------------------------------------------------------------------------

def _attn_case(name, seed, B, T, Hq, Hkv, D, scale, doc):
    @case(name, "attention", seed)
    def _(g):
        q, k, v = randn(g, B, T, Hq, D), randn(g, B, T, Hkv, D), randn(g, B, T, Hkv, D)
        inputs = [("q", q), ("k", k), ("v", v)]
        if doc is not None:
            inputs.append(("doc", i64(doc)))
        return Spec(inputs, ["q", "k", "v"],
                    lambda t: attention(t["q"], t["k"], t["v"], scale, t.get("doc")),
                    meta={"scale": scale, "causal": 1, "n_heads": Hq, "n_kv_heads": Hkv,
                          "head_dim": D})


_attn_case("attention_gqa", 901, 2, 7, 4, 2, 8, 1.0 / math.sqrt(8), None)
_attn_case("attention_doc", 902, 2, 7, 4, 2, 8, 1.0 / math.sqrt(8),
           [[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 2, 2]])
_attn_case("attention_mha", 903, 1, 9, 3, 3, 4, 0.3, None)


# 10-11. cross-entropy ------------------------------------------------------------------------

CE_TARGETS = [4, -100, 12, 0, 7, 7, -100, 1, 9]


@case("cross_entropy", "cross_entropy", 1001)
def _(g):
    z = randn(g, 9, 13, scale=4.0)
    return Spec([("logits", z), ("targets", i64(CE_TARGETS))], ["logits"],
                lambda t: cross_entropy(t["logits"], t["targets"]),
                meta={"ignore_index": -100, "reduction": "mean"},
                grad_out=torch.tensor([0.7], dtype=torch.float32))


@case("cross_entropy_scaled", "cross_entropy", 1002)
def _(g):
    logit_scale = 0.25
    z = randn(g, 9, 13, scale=4.0)
    return Spec([("logits", z), ("targets", i64(CE_TARGETS))], ["logits"],
                lambda t: cross_entropy(logit_scale * t["logits"], t["targets"]),
                meta={"ignore_index": -100, "reduction": "mean", "logit_scale": logit_scale},
                grad_out=torch.tensor([0.7], dtype=torch.float32))


@case("linear_cross_entropy", "linear_cross_entropy", 1101)
def _(g):
    h, w = randn(g, 9, 8), weight(g, 13, 8)
    targets = [2, 11, 0, -100, 5, 5, 12, 3, 8]
    return Spec([("h", h), ("weight", w), ("targets", i64(targets))], ["h", "weight"],
                lambda t: cross_entropy(linear(t["h"], t["weight"]), t["targets"]),
                meta={"ignore_index": -100, "reduction": "mean"},
                grad_out=torch.tensor([1.3], dtype=torch.float32))


# 12. dropout ---------------------------------------------------------------------------------

# The generator seed of this case equals the dropout seed, so the single "seed" metadata entry
# is right for both meanings.
@case("dropout", "dropout", 1234)
def _(g):
    p, seed, offset = 0.3, 1234, 7
    x = randn(g, 4, 50)
    keep = dropout_keep(x.numel(), p, seed, offset).reshape(4, 50)
    keep_t = torch.from_numpy(keep)
    return Spec([("x", x)], ["x"], lambda t: t["x"] * keep_t / (1.0 - p),
                meta={"p": p, "seed": seed, "offset": offset},
                aux=[("aux.keep", "F32", keep.astype(np.float32))])


# 13. transformer blocks ----------------------------------------------------------------------

LLAMA_PARAMS = [
    ("input_layernorm.weight", (32,)),
    ("self_attn.q_proj.weight", (32, 32)),
    ("self_attn.k_proj.weight", (16, 32)),
    ("self_attn.v_proj.weight", (16, 32)),
    ("self_attn.o_proj.weight", (32, 32)),
    ("post_attention_layernorm.weight", (32,)),
    ("mlp.gate_proj.weight", (48, 32)),
    ("mlp.up_proj.weight", (48, 32)),
    ("mlp.down_proj.weight", (32, 48)),
]


def llama_block(t, eps, theta, rotary_dim, Hq, Hkv, D):
    x = t["x"]
    B, T, C = x.shape
    h = rms_norm(x, t["input_layernorm.weight"], eps)
    q = linear(h, t["self_attn.q_proj.weight"]).reshape(B, T, Hq, D)
    k = linear(h, t["self_attn.k_proj.weight"]).reshape(B, T, Hkv, D)
    v = linear(h, t["self_attn.v_proj.weight"]).reshape(B, T, Hkv, D)
    q = rope(q, t["positions"], theta, rotary_dim)
    k = rope(k, t["positions"], theta, rotary_dim)
    a = attention(q, k, v, 1.0 / math.sqrt(D), t["doc"]).reshape(B, T, Hq * D)
    y = x + linear(a, t["self_attn.o_proj.weight"])
    m = rms_norm(y, t["post_attention_layernorm.weight"], eps)
    f = silu(linear(m, t["mlp.gate_proj.weight"])) * linear(m, t["mlp.up_proj.weight"])
    return y + linear(f, t["mlp.down_proj.weight"])


@case("block_llama", "block_llama", 1301)
def _(g):
    eps, theta, rotary_dim, Hq, Hkv, D, F_ = 1e-6, 10000.0, 8, 4, 2, 8, 48
    x = randn(g, 2, 8, 32)
    inputs = [("x", x)]
    for name, shape in LLAMA_PARAMS:
        if len(shape) == 1:
            inputs.append((name, randn(g, *shape, scale=0.1, shift=1.0)))
        else:
            inputs.append((name, weight(g, *shape)))
    inputs.append(("positions", i64([[0, 1, 2, 3, 4, 0, 1, 2], [0, 1, 2, 3, 4, 5, 6, 7]])))
    inputs.append(("doc", i64([[0, 0, 0, 0, 0, 1, 1, 1], [0] * 8])))
    diff = ["x"] + [n for n, _ in LLAMA_PARAMS]
    return Spec(inputs, diff,
                lambda t: llama_block(t, eps, theta, rotary_dim, Hq, Hkv, D),
                meta={"eps": eps, "theta": theta, "rotary_dim": rotary_dim, "n_heads": Hq,
                      "n_kv_heads": Hkv, "head_dim": D, "hidden_size": 32,
                      "intermediate_size": F_, "scale": 1.0 / math.sqrt(D), "causal": 1})


GPT2_PARAMS = [
    ("ln_1.weight", (32,)), ("ln_1.bias", (32,)),
    ("attn.q_proj.weight", (32, 32)), ("attn.q_proj.bias", (32,)),
    ("attn.k_proj.weight", (32, 32)), ("attn.k_proj.bias", (32,)),
    ("attn.v_proj.weight", (32, 32)), ("attn.v_proj.bias", (32,)),
    ("attn.c_proj.weight", (32, 32)), ("attn.c_proj.bias", (32,)),
    ("ln_2.weight", (32,)), ("ln_2.bias", (32,)),
    ("mlp.c_fc.weight", (128, 32)), ("mlp.c_fc.bias", (128,)),
    ("mlp.c_proj.weight", (32, 128)), ("mlp.c_proj.bias", (32,)),
]


def gpt2_block(t, eps, H, D):
    x = t["x"]
    B, T, C = x.shape
    h = layer_norm(x, t["ln_1.weight"], t["ln_1.bias"], eps)
    q = linear(h, t["attn.q_proj.weight"], t["attn.q_proj.bias"]).reshape(B, T, H, D)
    k = linear(h, t["attn.k_proj.weight"], t["attn.k_proj.bias"]).reshape(B, T, H, D)
    v = linear(h, t["attn.v_proj.weight"], t["attn.v_proj.bias"]).reshape(B, T, H, D)
    a = attention(q, k, v, 1.0 / math.sqrt(D)).reshape(B, T, H * D)
    y = x + linear(a, t["attn.c_proj.weight"], t["attn.c_proj.bias"])
    m = layer_norm(y, t["ln_2.weight"], t["ln_2.bias"], eps)
    f = gelu_tanh(linear(m, t["mlp.c_fc.weight"], t["mlp.c_fc.bias"]))
    return y + linear(f, t["mlp.c_proj.weight"], t["mlp.c_proj.bias"])


@case("block_gpt2", "block_gpt2", 1302)
def _(g):
    eps, H, D, F_ = 1e-5, 4, 8, 128
    x = randn(g, 2, 8, 32)
    inputs = [("x", x)]
    for name, shape in GPT2_PARAMS:
        if name.startswith("ln_") and name.endswith(".weight"):
            t = randn(g, *shape, scale=0.1, shift=1.0)
        elif name.endswith(".bias"):
            t = randn(g, *shape, scale=0.1)
        else:
            t = weight(g, *shape)
        inputs.append((name, t))
    diff = ["x"] + [n for n, _ in GPT2_PARAMS]
    return Spec(inputs, diff, lambda t: gpt2_block(t, eps, H, D),
                meta={"eps": eps, "n_heads": H, "head_dim": D, "hidden_size": 32,
                      "intermediate_size": F_, "scale": 1.0 / math.sqrt(D), "causal": 1})


# --------------------------------------------------------------------------------------------
# running a case
# --------------------------------------------------------------------------------------------

def build_case(name, op, seed, builder):
    g = torch.Generator()
    g.manual_seed(seed)
    spec = builder(g)

    vals = {}
    for n, t in spec.inputs:
        if t.dtype == torch.float32:
            vals[n] = t.to(torch.float64).requires_grad_(n in spec.diff)
        elif t.dtype == torch.int64:
            assert n not in spec.diff, n
            vals[n] = t.clone()
        else:
            raise TypeError("%s: input %s has dtype %s" % (name, n, t.dtype))

    out = spec.forward(vals)
    assert out.dtype == torch.float64, (name, out.dtype)
    r = spec.grad_out
    if r is None:
        r = randn(g, *out.shape)
    assert tuple(r.shape) == tuple(out.shape), (name, r.shape, out.shape)
    loss = (r.to(torch.float64) * out).sum()
    grads = torch.autograd.grad(loss, [vals[n] for n in spec.diff])

    tensors = []
    for n, t in spec.inputs:
        tag = "F32" if t.dtype == torch.float32 else "I64"
        tensors.append(("in." + n, tag, t.numpy()))
    tensors.append(("grad_out", "F32", r.numpy()))
    tensors.append(("out", "F64", out.detach().numpy()))
    for n, gr in zip(spec.diff, grads):
        tensors.append(("grad." + n, "F64", gr.detach().numpy()))
    tensors.extend(spec.aux)

    for tname, _, arr in tensors:
        if np.issubdtype(np.asarray(arr).dtype, np.floating):
            assert np.all(np.isfinite(arr)), (name, tname)

    meta = {"op": op, "generator": GENERATOR, "torch": torch.__version__, "seed": str(seed)}
    for k, v in spec.meta.items():
        assert k not in meta or meta[k] == fmt(v), (name, k)
        meta[k] = fmt(v)
    return encode_safetensors(tensors, meta), tensors, meta


# --------------------------------------------------------------------------------------------
# self-checks of the explicit reference math against torch built-ins / naive loops
# --------------------------------------------------------------------------------------------

def _close(a, b, what, tol=1e-12):
    a = a.detach() if torch.is_tensor(a) else torch.as_tensor(a)
    b = b.detach() if torch.is_tensor(b) else torch.as_tensor(b)
    err = (a - b).abs().max().item()
    scale = max(1.0, b.abs().max().item())
    if not err <= tol * scale:
        raise AssertionError("self-check %s failed: max abs err %g" % (what, err))


def self_check():
    g = torch.Generator()
    g.manual_seed(7)
    d = torch.float64
    x = torch.randn(3, 5, 16, generator=g, dtype=d) * 2 + 0.5
    w = torch.randn(16, generator=g, dtype=d)
    b = torch.randn(16, generator=g, dtype=d)
    _close(layer_norm(x, w, b, 1e-5), F.layer_norm(x, (16,), w, b, 1e-5), "layer_norm")
    _close(rms_norm(x, w, 1e-6),
           x / torch.sqrt((x ** 2).sum(-1, keepdim=True) / 16 + 1e-6) * w, "rms_norm")
    _close(gelu_tanh(x), F.gelu(x, approximate="tanh"), "gelu_tanh")
    _close(silu(x), F.silu(x), "silu")

    # cross-entropy vs F.cross_entropy
    z = torch.randn(9, 13, generator=g, dtype=d) * 4
    tg = i64(CE_TARGETS)
    _close(cross_entropy(z, tg)[0], F.cross_entropy(z, tg, ignore_index=-100), "cross_entropy")

    # rope vs a complex-number formulation on pairs (i, i + half)
    B, T, H, D, rd = 2, 6, 3, 10, 4
    xr = torch.randn(B, T, H, D, generator=g, dtype=d)
    pos = i64(ROPE_POS)
    half = rd // 2
    ref = xr.clone()
    for bi in range(B):
        for ti in range(T):
            for i in range(half):
                ang = pos[bi, ti].item() / (10000.0 ** (2.0 * i / rd))
                c = complex(math.cos(ang), math.sin(ang))
                for hi in range(H):
                    zc = complex(xr[bi, ti, hi, i].item(), xr[bi, ti, hi, i + half].item()) * c
                    ref[bi, ti, hi, i] = zc.real
                    ref[bi, ti, hi, i + half] = zc.imag
    _close(rope(xr, pos, 10000.0, rd), ref, "rope")

    # attention vs naive per-(b, h, i) loops
    B, T, Hq, Hkv, D = 2, 7, 4, 2, 8
    q = torch.randn(B, T, Hq, D, generator=g, dtype=d)
    k = torch.randn(B, T, Hkv, D, generator=g, dtype=d)
    v = torch.randn(B, T, Hkv, D, generator=g, dtype=d)
    doc = i64([[0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 2, 2]])
    for dd in (None, doc):
        ref = torch.zeros(B, T, Hq, D, dtype=d)
        for bi in range(B):
            for h in range(Hq):
                gk = h // (Hq // Hkv)
                for i in range(T):
                    js = [j for j in range(i + 1) if dd is None or dd[bi, j] == dd[bi, i]]
                    s = torch.stack([(q[bi, i, h] * k[bi, j, gk]).sum() * 0.3 for j in js])
                    p = torch.softmax(s, 0)
                    ref[bi, i, h] = sum(p[n] * v[bi, j, gk] for n, j in enumerate(js))
        _close(attention(q, k, v, 0.3, dd), ref, "attention")

    # gradients of the explicit attention / cross-entropy / rms_norm vs finite differences
    qs = torch.randn(1, 4, 2, 3, generator=g, dtype=d, requires_grad=True)
    ks = torch.randn(1, 4, 1, 3, generator=g, dtype=d, requires_grad=True)
    vs = torch.randn(1, 4, 1, 3, generator=g, dtype=d, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b_, c: attention(a, b_, c, 0.5), (qs, ks, vs))
    zs = torch.randn(5, 7, generator=g, dtype=d, requires_grad=True)
    ts = i64([1, -100, 6, 0, 3])
    assert torch.autograd.gradcheck(lambda z_: cross_entropy(z_, ts), (zs,))
    xs = torch.randn(3, 6, generator=g, dtype=d, requires_grad=True)
    ws = torch.randn(6, generator=g, dtype=d, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b_: rms_norm(a, b_, 1e-6), (xs, ws))

    # u = k / 2^24 >= p selects the same k whether p is the double 0.3 or the float 0.3f
    assert math.ceil(0.3 * (1 << 24)) == math.ceil(float(np.float32(0.3)) * (1 << 24))


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def main(argv=None):
    default_out = Path(__file__).resolve().parent.parent / "golden"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_out,
                    help="output directory (default: %s)" % default_out)
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    ap.add_argument("--no-self-check", action="store_true",
                    help="skip the consistency checks of the reference math")
    args = ap.parse_args(argv)

    names = [c[0] for c in CASES]
    assert len(set(names)) == len(names), "duplicate case names"
    if args.list:
        print("\n".join(names))
        return 0

    torch.set_num_threads(1)  # bit-reproducible float64 reductions
    if not args.no_self_check:
        self_check()

    out_dir = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, op, seed, builder in CASES:
        data, tensors, meta = build_case(name, op, seed, builder)
        # round-trip the encoding before publishing it
        back, back_meta = decode_safetensors(data)
        assert back_meta == meta and list(back) == [t[0] for t in tensors], name
        for tname, _, arr in tensors:
            assert np.array_equal(back[tname], np.asarray(arr)), (name, tname)
        fname = name + ".safetensors"
        write_atomic(out_dir / fname, data)
        sums[fname] = hashlib.sha256(data).hexdigest()
        print("%-24s %6d bytes" % (fname, len(data)))

    stale = sorted(p.name for p in out_dir.glob("*.safetensors") if p.name not in sums)
    if stale:
        print("warning: files not produced by this script: %s" % ", ".join(stale),
              file=sys.stderr)
    lines = "".join("%s  %s\n" % (sums[f], f) for f in sorted(sums))
    write_atomic(out_dir / "SHA256SUMS", lines.encode("ascii"))
    print("wrote %d cases + SHA256SUMS to %s" % (len(sums), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
