"""Independent PyTorch reference of Gemma, Gemma 2 and Gemma 3 (text), from the published
architecture (the Gemma papers and transformers' configuration keys), for gen_models.py
(float64 goldens) and gen_train_parity.py (float32 training with autograd).

What sets the family apart from Llama:
  * RMSNorm scales by (1 + w): the stored weights are offsets from one;
  * the MLP is GeGLU with the tanh GELU: down(gelu_tanh(gate(x)) * up(x));
  * the token embeddings are multiplied by sqrt(hidden_size), rounded to float32 (the
    activations' dtype in slimtune and in transformers run in float32; llama.cpp likewise);
  * head_dim is its own key (not hidden / heads); the head is tied to the embeddings;
  * Gemma 2 and 3: a norm after each branch (post_attention_layernorm, and
    pre_/post_feedforward_layernorm around the MLP), scores scaled by query_pre_attn_scalar^-1/2,
    and sliding-window attention on some layers (a query sees its `sliding_window` latest keys,
    itself included);
  * Gemma 2: scores and final logits soft-capped, cap * tanh(z / cap);
  * Gemma 3: RMSNorm (1 + w) on every query and key head before RoPE; sliding layers rotate with
    rope_local_base_freq and no scaling, global layers with rope_theta and rope_scaling.
"""

import math

import torch

GEMMA_TYPES = ("gemma", "gemma2", "gemma3_text")


def gemma_config(kind, V, C, F_, L, Hq, Hkv, D, bos=2, eos=1, P=512, window=None,
                 qpas=None, attn_cap=None, final_cap=None, pattern_key=None, pattern=None,
                 layer_types=False, rope_scaling=None):
    """config.json in the layout of the hub's google/gemma-2b (kind "gemma"), gemma-2-2b
    ("gemma2"), gemma-3-1b-it (gemma3_text with sliding_window_pattern) and gemma-3-270m
    (gemma3_text with layer_types and _sliding_window_pattern)."""
    cfg = {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "head_dim": D,
        "hidden_size": C,
        "initializer_range": 0.02,
        "intermediate_size": F_,
        "max_position_embeddings": P,
        "num_attention_heads": Hq,
        "num_hidden_layers": L,
        "num_key_value_heads": Hkv,
        "pad_token_id": 0,
        "rms_norm_eps": 1e-06,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": V,
    }
    if kind == "gemma":
        cfg.update({"architectures": ["GemmaForCausalLM"], "hidden_act": "gelu",
                    "model_type": "gemma", "rope_scaling": None, "rope_theta": 10000.0})
        return cfg
    cfg.update({"hidden_activation": "gelu_pytorch_tanh", "query_pre_attn_scalar": qpas,
                "sliding_window": window, "attn_logit_softcapping": attn_cap,
                "final_logit_softcapping": final_cap, "cache_implementation": "hybrid"})
    if kind == "gemma2":
        cfg.update({"architectures": ["Gemma2ForCausalLM"], "hidden_act": "gelu_pytorch_tanh",
                    "model_type": "gemma2", "rope_theta": 10000.0})
        return cfg
    cfg.update({"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
                "rope_local_base_freq": 10000.0, "rope_scaling": rope_scaling,
                "rope_theta": 1000000.0})
    cfg[pattern_key] = pattern
    if layer_types:
        cfg["layer_types"] = ["full_attention" if (i + 1) % pattern == 0 else "sliding_attention"
                              for i in range(L)]
        cfg["use_bidirectional_attention"] = False
    return cfg


def _default_inv_freq(D, base):
    return 1.0 / base ** (torch.arange(0, D, 2, dtype=torch.float64) / D)


class GemmaArch:
    """Hyper-parameters of a Gemma config, with transformers' defaults."""

    def __init__(self, cfg):
        mt = cfg["model_type"]
        assert mt in GEMMA_TYPES, mt
        self.model_type = mt
        self.V, self.C = cfg["vocab_size"], cfg["hidden_size"]
        self.F, self.L = cfg["intermediate_size"], cfg["num_hidden_layers"]
        self.Hq = cfg["num_attention_heads"]
        self.Hkv = cfg.get("num_key_value_heads") or self.Hq
        self.D = cfg.get("head_dim", 256)
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        assert not cfg.get("attention_bias", False)
        assert cfg.get("hidden_activation") in (None, "gelu_pytorch_tanh")
        assert cfg.get("tie_word_embeddings", True)
        self.tied = True
        # sqrt(hidden) as a float32 number, then exact in float64
        self.emb_scale = float(torch.tensor(self.C ** 0.5, dtype=torch.float32))
        g3 = mt == "gemma3_text"
        self.post_norms = mt != "gemma"
        self.qk_norm = g3
        if mt == "gemma":
            self.scale = self.D ** -0.5
            self.attn_cap = self.final_cap = None
            self.sliding = [False] * self.L
            self.window = None
        else:
            self.scale = float(cfg.get("query_pre_attn_scalar", 256)) ** -0.5
            self.attn_cap = cfg.get("attn_logit_softcapping", None if g3 else 50.0)
            self.final_cap = cfg.get("final_logit_softcapping", None if g3 else 30.0)
            self.window = cfg.get("sliding_window", 4096)
            if "layer_types" in cfg:
                self.sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
            else:
                pat = cfg.get("sliding_window_pattern", cfg.get("_sliding_window_pattern", 6)) \
                    if g3 else 2
                self.sliding = [(i + 1) % pat != 0 for i in range(self.L)]
        base = float(cfg.get("rope_theta", 1e6 if g3 else 10000.0))
        inv = _default_inv_freq(self.D, base)
        rs = cfg.get("rope_scaling")
        if rs is not None and rs.get("rope_type", rs.get("type")) != "default":
            assert rs.get("rope_type", rs.get("type")) == "linear", rs
            inv = inv / float(rs["factor"])
        self.inv_global = inv
        self.inv_local = _default_inv_freq(self.D, float(cfg.get("rope_local_base_freq", 10000.0))) \
            if g3 else inv

    def inv_freq(self, layer):
        return self.inv_local if self.sliding[layer] else self.inv_global

    def params(self):
        """(name, shape, kind) in the order of the HF modules; "gnorm" weights act as 1 + w."""
        C, D, F_ = self.C, self.D, self.F
        out = [("model.embed_tokens.weight", (self.V, C), "embed")]
        for i in range(self.L):
            p = "model.layers.%d." % i
            out.append((p + "input_layernorm.weight", (C,), "gnorm"))
            out.append((p + "self_attn.q_proj.weight", (self.Hq * D, C), "linear"))
            out.append((p + "self_attn.k_proj.weight", (self.Hkv * D, C), "linear"))
            out.append((p + "self_attn.v_proj.weight", (self.Hkv * D, C), "linear"))
            if self.qk_norm:
                out.append((p + "self_attn.q_norm.weight", (D,), "gnorm"))
                out.append((p + "self_attn.k_norm.weight", (D,), "gnorm"))
            out.append((p + "self_attn.o_proj.weight", (C, self.Hq * D), "linear_out"))
            out.append((p + "post_attention_layernorm.weight", (C,), "gnorm"))
            if self.post_norms:
                out.append((p + "pre_feedforward_layernorm.weight", (C,), "gnorm"))
            out.append((p + "mlp.gate_proj.weight", (F_, C), "linear"))
            out.append((p + "mlp.up_proj.weight", (F_, C), "linear"))
            out.append((p + "mlp.down_proj.weight", (C, F_), "linear_out"))
            if self.post_norms:
                out.append((p + "post_feedforward_layernorm.weight", (C,), "gnorm"))
        out.append(("model.norm.weight", (C,), "gnorm"))
        return out


# --- the math ---------------------------------------------------------------------------------

def rms_norm_1p(x, w, eps):
    return x * torch.rsqrt((x * x).mean(dim=-1, keepdim=True) + eps) * (1.0 + w)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softcap(z, cap):
    return z if not cap else cap * torch.tanh(z / cap)


def rope(x, positions, inv_freq):
    """x [B, T, H, D], positions [B, T]: rotate-half over the whole head."""
    ang = positions.to(torch.float64)[..., None] * inv_freq                # [B, T, D/2]
    cos = torch.cos(torch.cat([ang, ang], dim=-1))[:, :, None, :].to(x.dtype)
    sin = torch.sin(torch.cat([ang, ang], dim=-1))[:, :, None, :].to(x.dtype)
    half = x.shape[-1] // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rot * sin


def attend(q, k, v, scale, cap, window, doc):
    """q [B, T, Hq, D], k/v [B, T, Hkv, D]; causal, within a document (doc [B, T]), and within
    the last `window` positions when window is set."""
    B, T, Hq, D = q.shape
    rep = Hq // k.shape[2]
    kh = k.repeat_interleave(rep, dim=2).permute(0, 2, 3, 1)              # [B, Hq, D, T]
    vh = v.repeat_interleave(rep, dim=2).permute(0, 2, 1, 3)              # [B, Hq, T, D]
    s = softcap(q.permute(0, 2, 1, 3) @ kh * scale, cap)                  # [B, Hq, T, T]
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = (j <= i)[None]
    if window:
        allowed = allowed & (i - j < window)[None]
    if doc is not None:
        allowed = allowed & (doc[:, :, None] == doc[:, None, :])
    s = s.masked_fill(~allowed[:, None], float("-inf"))
    p = torch.softmax(s, dim=-1)
    return (p @ vh).permute(0, 2, 1, 3)                                   # [B, T, Hq, D]


def _plain_proj(W, key, x):
    return x @ W[key + ".weight"].T


def gemma_hidden(a, W, ids, positions=None, doc=None, proj=_plain_proj):
    """Final hidden states [B, T, C] of ids [B, T]; `proj(W, module, x)` applies a linear
    layer (LoRA hooks in there)."""
    B, T = ids.shape
    if positions is None:
        positions = torch.arange(T)[None].expand(B, T)
    x = W["model.embed_tokens.weight"][ids] * a.emb_scale
    for i in range(a.L):
        p = "model.layers.%d." % i
        h = rms_norm_1p(x, W[p + "input_layernorm.weight"], a.eps)
        q = proj(W, p + "self_attn.q_proj", h).reshape(B, T, a.Hq, a.D)
        k = proj(W, p + "self_attn.k_proj", h).reshape(B, T, a.Hkv, a.D)
        v = proj(W, p + "self_attn.v_proj", h).reshape(B, T, a.Hkv, a.D)
        if a.qk_norm:
            q = rms_norm_1p(q, W[p + "self_attn.q_norm.weight"], a.eps)
            k = rms_norm_1p(k, W[p + "self_attn.k_norm.weight"], a.eps)
        q, k = rope(q, positions, a.inv_freq(i)), rope(k, positions, a.inv_freq(i))
        window = a.window if a.sliding[i] else None
        att = attend(q, k, v, a.scale, a.attn_cap, window, doc).reshape(B, T, a.Hq * a.D)
        o = proj(W, p + "self_attn.o_proj", att)
        if a.post_norms:
            x = x + rms_norm_1p(o, W[p + "post_attention_layernorm.weight"], a.eps)
            h = rms_norm_1p(x, W[p + "pre_feedforward_layernorm.weight"], a.eps)
        else:
            x = x + o
            h = rms_norm_1p(x, W[p + "post_attention_layernorm.weight"], a.eps)
        m = gelu_tanh(proj(W, p + "mlp.gate_proj", h)) * proj(W, p + "mlp.up_proj", h)
        m = proj(W, p + "mlp.down_proj", m)
        if a.post_norms:
            m = rms_norm_1p(m, W[p + "post_feedforward_layernorm.weight"], a.eps)
        x = x + m
    return rms_norm_1p(x, W["model.norm.weight"], a.eps)


def gemma_logits(a, W, hidden):
    return softcap(hidden @ W["model.embed_tokens.weight"].T, a.final_cap)


def gemma_forward(a, W, ids):
    """ids [T] -> logits [T, V] (one sequence, as gen_models' forward)."""
    return gemma_logits(a, W, gemma_hidden(a, W, ids[None]))[0]


# --- a second formulation for the self-check: one token at a time with a KV cache that keeps
# only the window's keys on sliding layers, per-head loops and complex-number RoPE -------------

def gemma_naive_decode(a, W, ids):
    cache = [([], []) for _ in range(a.L)]
    return torch.stack([_naive_step(a, W, tok, t, cache) for t, tok in enumerate(ids.tolist())])


def _rms(v, w, eps):
    return v / torch.sqrt((v * v).mean() + eps) * (1.0 + w)


def _complex_rope(x, t, inv_freq):
    half = inv_freq.shape[0]
    z = torch.complex(x[:, :half], x[:, half:])
    z = z * torch.polar(torch.ones_like(inv_freq), t * inv_freq)
    return torch.cat([z.real, z.imag], dim=1)


def _naive_step(a, W, tok, t, cache):
    def lin(v, n):
        return torch.nn.functional.linear(v, W[n + ".weight"])

    x = W["model.embed_tokens.weight"][tok] * a.emb_scale
    for i in range(a.L):
        p = "model.layers.%d." % i
        h = _rms(x, W[p + "input_layernorm.weight"], a.eps)
        q = lin(h, p + "self_attn.q_proj").reshape(a.Hq, a.D)
        k = lin(h, p + "self_attn.k_proj").reshape(a.Hkv, a.D)
        v = lin(h, p + "self_attn.v_proj").reshape(a.Hkv, a.D)
        if a.qk_norm:
            q = torch.stack([_rms(r, W[p + "self_attn.q_norm.weight"], a.eps) for r in q])
            k = torch.stack([_rms(r, W[p + "self_attn.k_norm.weight"], a.eps) for r in k])
        q, k = _complex_rope(q, t, a.inv_freq(i)), _complex_rope(k, t, a.inv_freq(i))
        K, V = cache[i]
        K.append(k)
        V.append(v)
        if a.sliding[i] and len(K) > a.window:  # the oldest key leaves the window
            del K[0], V[0]
        outs = []
        for hq in range(a.Hq):
            hk = hq // (a.Hq // a.Hkv)
            s = torch.stack([kk[hk] @ q[hq] for kk in K]) * a.scale
            if a.attn_cap:
                s = a.attn_cap * torch.tanh(s / a.attn_cap)
            pr = torch.softmax(s, dim=0)
            outs.append(sum(pr[j] * V[j][hk] for j in range(len(V))))
        o = lin(torch.cat(outs), p + "self_attn.o_proj")
        if a.post_norms:
            x = x + _rms(o, W[p + "post_attention_layernorm.weight"], a.eps)
            h = _rms(x, W[p + "pre_feedforward_layernorm.weight"], a.eps)
        else:
            x = x + o
            h = _rms(x, W[p + "post_attention_layernorm.weight"], a.eps)
        g = torch.nn.functional.gelu(lin(h, p + "mlp.gate_proj"), approximate="tanh")
        m = lin(g * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        if a.post_norms:
            m = _rms(m, W[p + "post_feedforward_layernorm.weight"], a.eps)
        x = x + m
    x = _rms(x, W["model.norm.weight"], a.eps)
    z = torch.nn.functional.linear(x, W["model.embed_tokens.weight"])
    return a.final_cap * torch.tanh(z / a.final_cap) if a.final_cap else z
