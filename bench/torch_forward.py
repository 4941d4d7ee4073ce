#!/usr/bin/python3
"""The PyTorch peer of bench_forward: inference throughput of a Hugging Face checkpoint.

The model code is eager float32 PyTorch written the way transformers' modeling code computes
GPT2LMHeadModel (Conv1D = addmm on [in, out] weights, NewGELUActivation, eager attention with
the boolean tril buffer) and LlamaForCausalLM (LlamaRMSNorm, LlamaRotaryEmbedding +
rotate_half, repeat_kv, eager_attention_forward with the additive causal mask, SiLU-gated
MLP), with a KV cache that concatenates like transformers' DynamicCache and generation that,
like generate(), computes the head only for the last position (logits_to_keep=1). Dropout is
left out (eval mode: identity). Weights are loaded by their HF names into the modules, the
head tied to the embedding as from_pretrained ties it.

Workloads (the same as bench_forward's):
  prompt      batch 1 x 256 tokens, ids i*7919 % vocab, one forward pass producing the logits
              of all 256 positions; tokens/s = 256 / seconds; best of 5 after 1 warm-up
  generation  after that prompt (untimed prefill), 64 greedy tokens with the KV cache, one
              token per forward pass; tokens/s = 64 / seconds of the 64 steps; best of 3
at --threads threads (torch.set_num_threads, OMP_NUM_THREADS) under torch.inference_mode().
It also times its own FP32 GEMM (x @ w.t(), 1024x768x768, into a preallocated output; best
of >= 10 calls and >= 0.3 s after a warm-up) so a reader can see the peer was fast: Debian's
torch calls the system libblas.so.3, the reference BLAS unless libopenblas0-openmp is
installed; this script refuses to run without OpenBLAS (the check of torch_gemm.py).

--check compares, instead of timing, this float32 code with the float64 reference of
tests/reference/gen_models.py on the checkpoint (whole-prompt logits, and KV-cache decoding
against the whole-sequence forward).

usage: /usr/bin/python3 bench/torch_forward.py --model DIR [--json OUT] [--threads 2]
                        [--prompt 256] [--gen 64] [--check]
JSON written: {"model": dir name, "prompt_tokens_per_s", "gen_tokens_per_s", "gemm_gflops",
               plus threads, prompt_tokens, gen_tokens, gen_ids, timings and versions}
"""
import argparse
import json
import math
import os
import struct
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _threads_from_argv(default=2):
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv) and argv[i + 1].isdigit():
            return int(argv[i + 1])
        if a.startswith("--threads=") and a.split("=", 1)[1].isdigit():
            return int(a.split("=", 1)[1])
    return default


if __name__ == "__main__":  # before torch / OpenBLAS / libgomp read it
    os.environ["OMP_NUM_THREADS"] = str(_threads_from_argv())

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils import skip_init  # noqa: E402

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "reference"))
from torch_gemm import check_blas  # noqa: E402  (refuses the reference BLAS)

# --------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------


class DynamicCache:
    """transformers' DynamicCache: per layer, keys/values [B, H, S, D] grown by torch.cat."""

    def __init__(self):
        self.key_cache, self.value_cache = [], []

    def get_seq_length(self, layer_idx=0):
        return 0 if len(self.key_cache) <= layer_idx else self.key_cache[layer_idx].shape[-2]

    def update(self, key_states, value_states, layer_idx):
        if len(self.key_cache) <= layer_idx:
            self.key_cache.append(key_states)
            self.value_cache.append(value_states)
        else:
            self.key_cache[layer_idx] = torch.cat([self.key_cache[layer_idx], key_states], dim=-2)
            self.value_cache[layer_idx] = torch.cat([self.value_cache[layer_idx], value_states],
                                                    dim=-2)
        return self.key_cache[layer_idx], self.value_cache[layer_idx]


# --------------------------------------------------------------------------------------------
# GPT-2 (modeling_gpt2.py)
# --------------------------------------------------------------------------------------------


class Conv1D(nn.Module):
    """Linear layer with the weight stored [in, out] (transformers.pytorch_utils.Conv1D)."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf), requires_grad=False)
        self.bias = nn.Parameter(torch.empty(nf), requires_grad=False)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class NewGELUActivation(nn.Module):
    """ACT2FN["gelu_new"]: the tanh approximation, written out as transformers writes it."""

    def forward(self, input):
        return 0.5 * input * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi)
                                                * (input + 0.044715 * torch.pow(input, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        P = cfg["n_positions"]
        self.register_buffer("bias", torch.tril(torch.ones((P, P), dtype=torch.bool))
                             .view(1, 1, P, P), persistent=False)
        self.embed_dim = cfg["n_embd"]
        self.num_heads = cfg["n_head"]
        self.head_dim = self.embed_dim // self.num_heads
        self.split_size = self.embed_dim
        self.layer_idx = layer_idx
        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)

    def _attn(self, query, key, value):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full([], value.size(-1) ** 0.5,
                                                 dtype=attn_weights.dtype)
        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length:key_length, :key_length]
        mask_value = torch.full([], torch.finfo(attn_weights.dtype).min, dtype=attn_weights.dtype)
        attn_weights = torch.where(causal_mask, attn_weights, mask_value)
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        return torch.matmul(attn_weights, value)

    def _split_heads(self, tensor):
        tensor = tensor.view(tensor.size()[:-1] + (self.num_heads, self.head_dim))
        return tensor.permute(0, 2, 1, 3)  # (batch, head, seq, head_dim)

    def _merge_heads(self, tensor):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        return tensor.view(tensor.size()[:-2] + (self.num_heads * self.head_dim,))

    def forward(self, hidden_states, past_key_value=None):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query, key, value = self._split_heads(query), self._split_heads(key), \
            self._split_heads(value)
        if past_key_value is not None:
            key, value = past_key_value.update(key, value, self.layer_idx)
        attn_output = self._merge_heads(self._attn(query, key, value))
        return self.c_proj(attn_output)


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size, cfg):
        super().__init__()
        self.c_fc = Conv1D(intermediate_size, cfg["n_embd"])
        self.c_proj = Conv1D(cfg["n_embd"], intermediate_size)
        self.act = NewGELUActivation()

    def forward(self, hidden_states):
        return self.c_proj(self.act(self.c_fc(hidden_states)))


class GPT2Block(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        C, eps = cfg["n_embd"], cfg.get("layer_norm_epsilon", 1e-5)
        self.ln_1 = skip_init(nn.LayerNorm, C, eps=eps)
        self.attn = GPT2Attention(cfg, layer_idx)
        self.ln_2 = skip_init(nn.LayerNorm, C, eps=eps)
        self.mlp = GPT2MLP(cfg.get("n_inner") or 4 * C, cfg)

    def forward(self, hidden_states, past_key_value=None):
        residual = hidden_states
        attn_output = self.attn(self.ln_1(hidden_states), past_key_value)
        hidden_states = attn_output + residual
        residual = hidden_states
        feed_forward_hidden_states = self.mlp(self.ln_2(hidden_states))
        return residual + feed_forward_hidden_states


class GPT2Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = skip_init(nn.Embedding, cfg["vocab_size"], cfg["n_embd"])
        self.wpe = skip_init(nn.Embedding, cfg["n_positions"], cfg["n_embd"])
        self.h = nn.ModuleList([GPT2Block(cfg, i) for i in range(cfg["n_layer"])])
        self.ln_f = skip_init(nn.LayerNorm, cfg["n_embd"], eps=cfg.get("layer_norm_epsilon", 1e-5))

    def forward(self, input_ids, past_key_values=None):
        past_length = past_key_values.get_seq_length() if past_key_values is not None else 0
        position_ids = torch.arange(past_length, input_ids.shape[-1] + past_length,
                                    dtype=torch.long).unsqueeze(0)
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        for block in self.h:
            hidden_states = block(hidden_states, past_key_values)
        return self.ln_f(hidden_states)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.get("activation_function", "gelu_new") == "gelu_new"
        assert cfg.get("scale_attn_weights", True)
        assert not cfg.get("scale_attn_by_inverse_layer_idx", False)
        assert not cfg.get("reorder_and_upcast_attn", False)
        assert cfg.get("tie_word_embeddings", True)
        self.transformer = GPT2Model(cfg)
        self.lm_head = skip_init(nn.Linear, cfg["n_embd"], cfg["vocab_size"], bias=False)

    def forward(self, input_ids, past_key_values=None, logits_to_keep=0):
        hidden_states = self.transformer(input_ids, past_key_values)
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:, :]
        return self.lm_head(hidden_states)

    def tie_weights(self):
        self.lm_head.weight = self.transformer.wte.weight


# --------------------------------------------------------------------------------------------
# Llama (modeling_llama.py)
# --------------------------------------------------------------------------------------------


class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(hidden_size), requires_grad=False)
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, cfg, head_dim):
        super().__init__()
        if cfg.get("rope_scaling") not in (None, {}) and \
                cfg["rope_scaling"].get("rope_type", cfg["rope_scaling"].get("type")) != "default":
            sys.exit("torch_forward.py: rope_scaling %r is not implemented" % cfg["rope_scaling"])
        base = float(cfg.get("rope_theta", 10000.0))
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.int64)
                                   .float() / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_scaling = 1.0

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0],
                                                                        -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep,
                                                           slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


def eager_attention_forward(module, query, key, value, attention_mask, scaling):
    key_states = repeat_kv(key, module.num_key_value_groups)
    value_states = repeat_kv(value, module.num_key_value_groups)
    attn_weights = torch.matmul(query, key_states.transpose(2, 3)) * scaling
    if attention_mask is not None:
        causal_mask = attention_mask[:, :, :, : key_states.shape[-2]]
        attn_weights = attn_weights + causal_mask
    attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query.dtype)
    attn_output = torch.matmul(attn_weights, value_states)
    return attn_output.transpose(1, 2).contiguous()


class LlamaAttention(nn.Module):
    def __init__(self, cfg, layer_idx, head_dim):
        super().__init__()
        C, Hq = cfg["hidden_size"], cfg["num_attention_heads"]
        Hkv = cfg.get("num_key_value_heads") or Hq
        bias = bool(cfg.get("attention_bias", False))
        # Qwen2Attention: q, k, v always carry a bias, o_proj never does.
        qkv_bias = True if cfg.get("model_type") == "qwen2" else bias
        o_bias = False if cfg.get("model_type") == "qwen2" else bias
        self.layer_idx = layer_idx
        self.head_dim = head_dim
        self.num_key_value_groups = Hq // Hkv
        self.scaling = head_dim ** -0.5
        self.q_proj = skip_init(nn.Linear, C, Hq * head_dim, bias=qkv_bias)
        self.k_proj = skip_init(nn.Linear, C, Hkv * head_dim, bias=qkv_bias)
        self.v_proj = skip_init(nn.Linear, C, Hkv * head_dim, bias=qkv_bias)
        self.o_proj = skip_init(nn.Linear, Hq * head_dim, C, bias=o_bias)

    def forward(self, hidden_states, position_embeddings, attention_mask, past_key_value=None):
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        key_states = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        if past_key_value is not None:
            key_states, value_states = past_key_value.update(key_states, value_states,
                                                             self.layer_idx)
        attn_output = eager_attention_forward(self, query_states, key_states, value_states,
                                              attention_mask, self.scaling)
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(attn_output)


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, F_ = cfg["hidden_size"], cfg["intermediate_size"]
        bias = bool(cfg.get("mlp_bias", False))
        self.gate_proj = skip_init(nn.Linear, C, F_, bias=bias)
        self.up_proj = skip_init(nn.Linear, C, F_, bias=bias)
        self.down_proj = skip_init(nn.Linear, F_, C, bias=bias)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg, layer_idx, head_dim):
        super().__init__()
        self.self_attn = LlamaAttention(cfg, layer_idx, head_dim)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = LlamaRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.post_attention_layernorm = LlamaRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])

    def forward(self, hidden_states, attention_mask, position_embeddings, past_key_value=None):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states = self.self_attn(hidden_states, position_embeddings, attention_mask,
                                       past_key_value)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        self.embed_tokens = skip_init(nn.Embedding, cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg, i, head_dim)
                                     for i in range(cfg["num_hidden_layers"])])
        self.norm = LlamaRMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.rotary_emb = LlamaRotaryEmbedding(cfg, head_dim)

    @staticmethod
    def _causal_mask(dtype, sequence_length, target_length, cache_position):
        """The eager path's additive 4D mask, as
        _prepare_4d_causal_attention_mask_with_cache_position builds it."""
        min_dtype = torch.finfo(dtype).min
        causal_mask = torch.full((sequence_length, target_length), fill_value=min_dtype,
                                 dtype=dtype)
        if sequence_length != 1:
            causal_mask = torch.triu(causal_mask, diagonal=1)
        causal_mask *= torch.arange(target_length) > cache_position.reshape(-1, 1)
        return causal_mask[None, None, :, :]

    def forward(self, input_ids, past_key_values=None):
        inputs_embeds = self.embed_tokens(input_ids)
        past_seen = past_key_values.get_seq_length() if past_key_values is not None else 0
        cache_position = torch.arange(past_seen, past_seen + inputs_embeds.shape[1])
        position_ids = cache_position.unsqueeze(0)
        causal_mask = self._causal_mask(inputs_embeds.dtype, inputs_embeds.shape[1],
                                        past_seen + inputs_embeds.shape[1], cache_position)
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        for decoder_layer in self.layers:
            hidden_states = decoder_layer(hidden_states, causal_mask, position_embeddings,
                                          past_key_values)
        return self.norm(hidden_states)


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.get("hidden_act", "silu") != "silu":
            sys.exit("torch_forward.py: hidden_act %r is not implemented" % cfg["hidden_act"])
        self.tied = bool(cfg.get("tie_word_embeddings", False))
        self.model = LlamaModel(cfg)
        self.lm_head = skip_init(nn.Linear, cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, input_ids, past_key_values=None, logits_to_keep=0):
        hidden_states = self.model(input_ids, past_key_values)
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:, :]
        return self.lm_head(hidden_states)

    def tie_weights(self):
        if self.tied:
            self.lm_head.weight = self.model.embed_tokens.weight


# --------------------------------------------------------------------------------------------
# Gemma 3 text (modeling_gemma3.py): norms as (1 + w), q/k norms, four norms per block, GeGLU,
# sqrt(hidden) embedding scale, sliding-window layers with their own rope base
# --------------------------------------------------------------------------------------------


class Gemma3RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(dim), requires_grad=False)

    def forward(self, x):
        output = x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        output = output * (1.0 + self.weight.float())
        return output.type_as(x)


class Gemma3Attention(nn.Module):
    def __init__(self, cfg, layer_idx):
        super().__init__()
        C, Hq, D = cfg["hidden_size"], cfg["num_attention_heads"], cfg["head_dim"]
        Hkv = cfg.get("num_key_value_heads") or Hq
        self.layer_idx = layer_idx
        self.head_dim = D
        self.num_key_value_groups = Hq // Hkv
        self.scaling = float(cfg["query_pre_attn_scalar"]) ** -0.5
        self.q_proj = skip_init(nn.Linear, C, Hq * D, bias=False)
        self.k_proj = skip_init(nn.Linear, C, Hkv * D, bias=False)
        self.v_proj = skip_init(nn.Linear, C, Hkv * D, bias=False)
        self.o_proj = skip_init(nn.Linear, Hq * D, C, bias=False)
        self.q_norm = Gemma3RMSNorm(D, cfg["rms_norm_eps"])
        self.k_norm = Gemma3RMSNorm(D, cfg["rms_norm_eps"])

    def forward(self, hidden_states, position_embeddings, attention_mask, past_key_value=None):
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = self.q_norm(self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2))
        key_states = self.k_norm(self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2))
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        if past_key_value is not None:
            key_states, value_states = past_key_value.update(key_states, value_states,
                                                             self.layer_idx)
        attn_output = eager_attention_forward(self, query_states, key_states, value_states,
                                              attention_mask, self.scaling)
        return self.o_proj(attn_output.reshape(*input_shape, -1).contiguous())


class Gemma3MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, F_ = cfg["hidden_size"], cfg["intermediate_size"]
        self.gate_proj = skip_init(nn.Linear, C, F_, bias=False)
        self.up_proj = skip_init(nn.Linear, C, F_, bias=False)
        self.down_proj = skip_init(nn.Linear, F_, C, bias=False)
        self.act_fn = nn.GELU(approximate="tanh")

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class Gemma3DecoderLayer(nn.Module):
    def __init__(self, cfg, layer_idx, sliding):
        super().__init__()
        C, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
        self.is_sliding = sliding
        self.self_attn = Gemma3Attention(cfg, layer_idx)
        self.mlp = Gemma3MLP(cfg)
        self.input_layernorm = Gemma3RMSNorm(C, eps)
        self.post_attention_layernorm = Gemma3RMSNorm(C, eps)
        self.pre_feedforward_layernorm = Gemma3RMSNorm(C, eps)
        self.post_feedforward_layernorm = Gemma3RMSNorm(C, eps)

    def forward(self, hidden_states, attention_mask, position_embeddings, past_key_value=None):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states = self.self_attn(hidden_states, position_embeddings, attention_mask,
                                       past_key_value)
        hidden_states = residual + self.post_attention_layernorm(hidden_states)
        residual = hidden_states
        hidden_states = self.mlp(self.pre_feedforward_layernorm(hidden_states))
        return residual + self.post_feedforward_layernorm(hidden_states)


class Gemma3TextModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        for key in ("attn_logit_softcapping", "final_logit_softcapping"):
            if cfg.get(key) is not None:
                sys.exit("torch_forward.py: gemma3_text %s is not implemented" % key)
        L = cfg["num_hidden_layers"]
        if "layer_types" in cfg:
            sliding = [t == "sliding_attention" for t in cfg["layer_types"]]
        else:
            pattern = cfg.get("sliding_window_pattern", cfg.get("_sliding_window_pattern", 6))
            sliding = [(i + 1) % pattern != 0 for i in range(L)]
        self.window = cfg["sliding_window"]
        self.hidden_size = cfg["hidden_size"]
        self.embed_tokens = skip_init(nn.Embedding, cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList([Gemma3DecoderLayer(cfg, i, sliding[i]) for i in range(L)])
        self.norm = Gemma3RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        self.rotary_emb = LlamaRotaryEmbedding(cfg, cfg["head_dim"])
        local = dict(cfg, rope_theta=cfg.get("rope_local_base_freq", 10000.0), rope_scaling=None)
        self.rotary_emb_local = LlamaRotaryEmbedding(local, cfg["head_dim"])

    def forward(self, input_ids, past_key_values=None):
        inputs_embeds = self.embed_tokens(input_ids)
        # Gemma3TextScaledWordEmbedding: the scale in the embedding's dtype
        hidden_states = inputs_embeds * torch.tensor(self.hidden_size ** 0.5,
                                                     dtype=inputs_embeds.dtype)
        past_seen = past_key_values.get_seq_length() if past_key_values is not None else 0
        cache_position = torch.arange(past_seen, past_seen + inputs_embeds.shape[1])
        position_ids = cache_position.unsqueeze(0)
        T, S = inputs_embeds.shape[1], past_seen + inputs_embeds.shape[1]
        min_dtype = torch.finfo(inputs_embeds.dtype).min
        kv = torch.arange(S)[None, :]
        q = cache_position[:, None]
        causal = torch.where(kv <= q, 0.0, min_dtype).to(inputs_embeds.dtype)[None, None]
        sliding = torch.where((kv <= q) & (q - kv < self.window), 0.0,
                              min_dtype).to(inputs_embeds.dtype)[None, None]
        assert causal.shape[-2:] == (T, S)
        pos_global = self.rotary_emb(hidden_states, position_ids)
        pos_local = self.rotary_emb_local(hidden_states, position_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, sliding if layer.is_sliding else causal,
                                  pos_local if layer.is_sliding else pos_global,
                                  past_key_values)
        return self.norm(hidden_states)


class Gemma3ForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if cfg.get("hidden_activation", "gelu_pytorch_tanh") != "gelu_pytorch_tanh":
            sys.exit("torch_forward.py: hidden_activation %r is not implemented"
                     % cfg["hidden_activation"])
        self.tied = bool(cfg.get("tie_word_embeddings", True))
        self.model = Gemma3TextModel(cfg)
        self.lm_head = skip_init(nn.Linear, cfg["hidden_size"], cfg["vocab_size"], bias=False)

    def forward(self, input_ids, past_key_values=None, logits_to_keep=0):
        hidden_states = self.model(input_ids, past_key_values)
        if logits_to_keep:
            hidden_states = hidden_states[:, -logits_to_keep:, :]
        return self.lm_head(hidden_states)

    def tie_weights(self):
        if self.tied:
            self.lm_head.weight = self.model.embed_tokens.weight


# --------------------------------------------------------------------------------------------
# loading (safetensors, single file or sharded index; F32 or BF16 -> float32)
# --------------------------------------------------------------------------------------------

_NP = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
       "F64": np.dtype("<f8"), "BOOL": np.dtype("bool"), "U8": np.dtype("u1")}


def read_safetensors(path):
    """{name: float32 torch tensor} (masks and other non-float tensors as stored)."""
    out = {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        base = 8 + n
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
            b, e = info["data_offsets"]
            dt = _NP[info["dtype"]]
            f.seek(base + b)
            a = np.fromfile(f, dtype=dt, count=(e - b) // dt.itemsize).reshape(info["shape"])
            if info["dtype"] == "BF16":
                a = (a.astype("<u4") << 16).view("<f4")
            elif info["dtype"] in ("F16", "F64"):
                a = a.astype(np.float32)
            out[name] = torch.from_numpy(a)
    return out


def load_state(model_dir):
    d = Path(model_dir)
    index = d / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    state = {}
    for s in shards:
        state.update(read_safetensors(d / s))
    return state


def load_model(model_dir):
    cfg = json.loads((Path(model_dir) / "config.json").read_text())
    mt = cfg.get("model_type")
    if mt == "gpt2":
        model = GPT2LMHeadModel(cfg)
    elif mt in ("llama", "qwen2"):  # Qwen2ForCausalLM = Llama + q/k/v biases
        if mt == "qwen2" and cfg.get("use_sliding_window", False):
            sys.exit("torch_forward.py: qwen2 use_sliding_window true is not implemented")
        model = LlamaForCausalLM(cfg)
    elif mt == "gemma3_text":
        model = Gemma3ForCausalLM(cfg)
    else:
        sys.exit("torch_forward.py: model_type %r is not implemented (gpt2, llama, qwen2, "
                 "gemma3_text are)" % mt)
    state = load_state(model_dir)
    if mt == "gpt2":  # as from_pretrained: a base-model file lacks the prefix; masks are buffers
        state = {(k if k.startswith(("transformer.", "lm_head.")) else "transformer." + k): v
                 for k, v in state.items()
                 if not k.endswith((".attn.bias", ".attn.masked_bias"))}
    if mt in ("llama", "qwen2", "gemma3_text") and model.tied:
        state.pop("lm_head.weight", None)  # a tied file may carry the head too; unused
    model.tie_weights()
    params = dict(model.named_parameters())  # tied: one entry, under the embedding's name
    if set(state) - set(params) or set(params) - set(state):
        sys.exit("torch_forward.py: %s: tensors do not match the config: unexpected %s, "
                 "missing %s" % (model_dir, sorted(set(state) - set(params))[:5],
                                 sorted(set(params) - set(state))[:5]))
    for name, p in params.items():
        t = state[name]
        if tuple(t.shape) != tuple(p.shape):
            sys.exit("torch_forward.py: %s: %s has shape %s, the config says %s"
                     % (model_dir, name, tuple(t.shape), tuple(p.shape)))
        p.data = t.to(torch.float32)  # takes the loaded storage, no copy
        p.requires_grad_(False)
    model.eval()
    return cfg, model


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


def gemm_gflops(m=1024, k=768, n=768, reps=10, min_time=0.3, dtype=torch.float32):
    """Best-of GFLOP/s of x[m, k] @ w[n, k].t() in `dtype` (float32: the BLAS; bfloat16: what
    torch dispatches a bf16 matmul to, oneDNN when torch.backends.mkldnn is available)."""
    g = torch.Generator().manual_seed(1234)
    x = (torch.rand(m, k, generator=g) * 2 - 1).to(dtype)
    w = (torch.rand(n, k, generator=g) * 2 - 1).to(dtype)
    c = torch.empty(m, n, dtype=dtype)
    torch.matmul(x, w.t(), out=c)  # warm-up
    times = []
    while len(times) < reps or (sum(times) < min_time and len(times) < 1000):
        t0 = time.perf_counter()
        torch.matmul(x, w.t(), out=c)
        times.append(time.perf_counter() - t0)
    return 2.0 * m * n * k / min(times) * 1e-9


def prompt_ids(n, vocab):
    return torch.tensor([[(i * 7919) % vocab for i in range(n)]], dtype=torch.long)


def greedy(model, ids, steps, times=None):
    """Prefill (logits of the last position only), then `steps` one-token forward passes."""
    cache = DynamicCache()
    next_tokens = model(ids, cache, logits_to_keep=1)[:, -1, :].argmax(dim=-1)
    out = []
    t0 = time.perf_counter()
    for _ in range(steps):
        logits = model(next_tokens[:, None], cache, logits_to_keep=1)
        next_tokens = logits[:, -1, :].argmax(dim=-1)
        out.append(int(next_tokens[0]))
    if times is not None:
        times.append(time.perf_counter() - t0)
    return out


def check(cfg, model, model_dir, n_tokens):
    """float32 peer vs the float64 reference of gen_models.py, and cache vs no cache."""
    import gen_models
    files = {"config.json": (Path(model_dir) / "config.json").read_bytes()}
    index = Path(model_dir) / "model.safetensors.index.json"
    names = sorted(set(json.loads(index.read_text())["weight_map"].values())) \
        if index.exists() else ["model.safetensors"]
    if index.exists():
        files[index.name] = index.read_bytes()
    for s in names:
        files[s] = (Path(model_dir) / s).read_bytes()
    a, W = gen_models.load_checkpoint(files, cfg)
    del files
    ids = prompt_ids(n_tokens, cfg["vocab_size"])
    ref = gen_models.forward(a, W, ids[0])
    full = model(ids)[0]
    err = (full.double() - ref).abs().max().item()
    scale = ref.abs().max().item()
    print("check %s: %d tokens, float32 vs float64 reference: max |diff| %.3g (max |logit| %.3g)"
          % (Path(model_dir).name, n_tokens, err, scale))
    ok = err <= 1e-4 * max(1.0, scale)
    # KV-cache decoding (prefill half, then one token at a time) vs the whole-sequence forward
    half = n_tokens // 2
    cache = DynamicCache()
    rows = [model(ids[:, :half], cache)[0]]
    for t in range(half, n_tokens):
        rows.append(model(ids[:, t:t + 1], cache, logits_to_keep=1)[0])
    cerr = (torch.cat(rows) - full).abs().max().item()
    print("check %s: KV-cache decode vs whole sequence: max |diff| %.3g" % (Path(model_dir).name,
                                                                         cerr))
    ok = ok and cerr <= 1e-4 * max(1.0, full.abs().max().item())
    print("check: %s" % ("OK" if ok else "FAILED"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="Hugging Face model directory")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt", type=int, default=256, help="prompt tokens (default 256)")
    ap.add_argument("--gen", type=int, default=64, help="generated tokens (default 64)")
    ap.add_argument("--prompt-reps", type=int, default=5)
    ap.add_argument("--gen-reps", type=int, default=3)
    ap.add_argument("--check", action="store_true",
                    help="compare with the float64 reference instead of timing")
    args = ap.parse_args()
    if min(args.threads, args.prompt, args.gen, args.prompt_reps, args.gen_reps) < 1:
        ap.error("--threads, --prompt, --gen and the repetitions must be positive")
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    torch.set_num_threads(args.threads)
    name = Path(args.model).resolve().name

    libs = check_blas(torch)
    t0 = time.perf_counter()
    cfg, model = load_model(args.model)
    load_s = time.perf_counter() - t0
    n_pos = cfg.get("n_positions") or cfg.get("max_position_embeddings") or 0
    if n_pos and args.prompt + args.gen > n_pos:
        sys.exit("torch_forward.py: %d + %d tokens exceed the model's %d positions"
                 % (args.prompt, args.gen, n_pos))

    if args.check:
        with torch.inference_mode():
            return 0 if check(cfg, model, args.model, min(args.prompt, 48)) else 1

    gflops = gemm_gflops()
    print("# pytorch torch_forward  torch %s  threads=%d (torch.get_num_threads=%d)  model %s "
          "(%s, loaded in %.1f s)" % (torch.__version__, args.threads, torch.get_num_threads(),
                                      name, cfg["model_type"], load_s))
    print("# peer FP32 GEMM 1024x768x768 (x @ w.t(), best of >=10): %.1f GFLOP/s" % gflops,
          flush=True)
    ids = prompt_ids(args.prompt, cfg["vocab_size"])
    with torch.inference_mode():
        prompt_times = []
        for rep in range(1 + args.prompt_reps):  # 1 warm-up, then best of prompt_reps
            t0 = time.perf_counter()
            logits = model(ids)
            dt = time.perf_counter() - t0
            assert logits.shape == (1, args.prompt, cfg["vocab_size"]), logits.shape
            if rep:
                prompt_times.append(dt)
        del logits
        prompt_tps = args.prompt / min(prompt_times)
        print("%-14s prompt     %4d tokens  best %8.2f ms  median %8.2f ms  %8.1f tokens/s"
              % (name, args.prompt, 1e3 * min(prompt_times),
                 1e3 * sorted(prompt_times)[len(prompt_times) // 2], prompt_tps), flush=True)
        gen_times, gen_ids = [], None
        for _ in range(args.gen_reps):
            out = greedy(model, ids, args.gen, gen_times)
            if gen_ids is not None and out != gen_ids:
                sys.exit("torch_forward.py: greedy decoding is not deterministic")
            gen_ids = out
        gen_tps = args.gen / min(gen_times)
        print("%-14s generation %4d tokens  best %8.2f ms  median %8.2f ms  %8.1f tokens/s"
              % (name, args.gen, 1e3 * min(gen_times),
                 1e3 * sorted(gen_times)[len(gen_times) // 2], gen_tps), flush=True)
    if args.json:
        r = {"model": name, "prompt_tokens_per_s": prompt_tps, "gen_tokens_per_s": gen_tps,
             "gemm_gflops": gflops, "tool": "pytorch", "torch_version": torch.__version__,
             "blas": libs, "threads": args.threads, "prompt_tokens": args.prompt,
             "gen_tokens": args.gen, "prompt_seconds": prompt_times, "gen_seconds": gen_times,
             "gen_ids": gen_ids, "model_dir": str(args.model)}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(r, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
