#include "model/block.h"

#include "common/error.h"
#include "model/autograd.h"
#include "model/ops/ops.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

namespace slimtune {

void block_check(const BlockConfig& c) {
    auto need = [](bool ok, const std::string& what) {
        if (!ok)
            throw ConfigError("block config: " + what);
    };
    need(c.hidden > 0 && c.n_head > 0 && c.head_dim > 0 && c.intermediate > 0,
         "hidden, n_head, head_dim and intermediate must be positive");
    need(c.n_head_kv > 0 && c.n_head % c.n_head_kv == 0, "n_head (" + std::to_string(c.n_head) +
                                                             ") must be a multiple of n_head_kv (" +
                                                             std::to_string(c.n_head_kv) + ")");
    const int64_t rd = c.rotary_dim ? c.rotary_dim : c.head_dim;
    need(!c.rope || (rd % 2 == 0 && rd <= c.head_dim), "rotary_dim " + std::to_string(rd) +
                                                           " must be even and at most head_dim " +
                                                           std::to_string(c.head_dim));
}

static LinearParams
make_linear(int64_t out, int64_t in, bool bias, float stddev, Rng& rng, bool trainable) {
    std::vector<float> w(static_cast<size_t>(out * in));
    for (auto& x : w)
        x = stddev * rng.next_normal();
    LinearParams p{Tensor::from({out, in}, std::move(w), trainable), {}};
    if (bias)
        p.bias = Tensor::zeros({out}, trainable);
    return p;
}

// Norm weights start as the identity: 1, or 0 where the weight acts as 1 + w (Gemma).
static NormParams make_norm(const BlockConfig& c, bool trainable, int64_t width = 0) {
    NormParams p{Tensor::full({width ? width : c.hidden}, 1.0f - c.norm_weight_offset, trainable),
                 {}};
    if (c.norm == NormKind::Layer)
        p.bias = Tensor::zeros({c.hidden}, trainable);
    return p;
}

BlockParams block_init(const BlockConfig& c, int64_t n_layer, Rng& rng, bool trainable) {
    block_check(c);
    const float sd = 0.02f;
    const float sd_out = sd / std::sqrt(2.0f * static_cast<float>(n_layer));
    BlockParams p;
    p.norm1 = make_norm(c, trainable);
    p.norm2 = make_norm(c, trainable);
    if (c.post_norms) {
        p.post_attn_norm = make_norm(c, trainable);
        p.post_ffn_norm = make_norm(c, trainable);
    }
    if (c.qk_norm) {
        p.q_norm = make_norm(c, trainable, c.head_dim);
        p.k_norm = make_norm(c, trainable, c.head_dim);
    }
    p.q = make_linear(c.n_head * c.head_dim, c.hidden, c.bias, sd, rng, trainable);
    p.k = make_linear(c.n_head_kv * c.head_dim, c.hidden, c.bias, sd, rng, trainable);
    p.v = make_linear(c.n_head_kv * c.head_dim, c.hidden, c.bias, sd, rng, trainable);
    p.o = make_linear(c.hidden, c.n_head * c.head_dim, c.bias, sd_out, rng, trainable);
    p.up = make_linear(c.intermediate, c.hidden, c.bias, sd, rng, trainable);
    if (c.mlp != MlpKind::Gelu)
        p.gate = make_linear(c.intermediate, c.hidden, c.bias, sd, rng, trainable);
    p.down = make_linear(c.hidden, c.intermediate, c.bias, sd_out, rng, trainable);
    return p;
}

void block_for_each_param(BlockParams& p,
                          const std::function<void(const std::string&, Tensor&)>& f) {
    auto visit = [&](const std::string& name, Tensor& w, Tensor& b) {
        if (w.defined())
            f(name + ".weight", w);
        if (b.defined())
            f(name + ".bias", b);
    };
    visit("norm1", p.norm1.weight, p.norm1.bias);
    visit("qkv", p.qkv.weight, p.qkv.bias);
    visit("q", p.q.weight, p.q.bias);
    visit("k", p.k.weight, p.k.bias);
    visit("v", p.v.weight, p.v.bias);
    visit("q_norm", p.q_norm.weight, p.q_norm.bias);
    visit("k_norm", p.k_norm.weight, p.k_norm.bias);
    visit("o", p.o.weight, p.o.bias);
    visit("post_attn_norm", p.post_attn_norm.weight, p.post_attn_norm.bias);
    visit("norm2", p.norm2.weight, p.norm2.bias);
    visit("gate", p.gate.weight, p.gate.bias);
    visit("up", p.up.weight, p.up.bias);
    visit("down", p.down.weight, p.down.bias);
    visit("post_ffn_norm", p.post_ffn_norm.weight, p.post_ffn_norm.bias);
}

static Tensor apply_norm(const BlockConfig& c, const NormParams& n, const Tensor& x) {
    return c.norm == NormKind::Rms ? rms_norm(x, n.weight, c.norm_eps, c.norm_weight_offset)
                                   : layer_norm(x, n.weight, n.bias, c.norm_eps);
}

// The one place a block applies a projection, so an adapter is seen by every one of them. The
// LoRA branch keeps PEFT's order: base(x) + B(A(dropout(x))) * scaling.
static Tensor apply_linear(const LinearParams& l, const Tensor& x, Rng* dropout_rng) {
    const LoraParams& lora = l.lora;
    if (!lora.a.defined() || lora.merged)
        return linear(x, l.weight, l.bias);
    const Tensor in =
        dropout_rng && lora.dropout > 0.0f ? dropout(x, lora.dropout, *dropout_rng, true) : x;
    return lora_linear(x, in, l.weight, l.bias, lora.a, lora.b, lora.scaling);
}

KvCache kv_cache_make(const BlockConfig& c, int64_t capacity) {
    return {Tensor::zeros({1, capacity, c.n_head_kv, c.head_dim}),
            Tensor::zeros({1, capacity, c.n_head_kv, c.head_dim}), 0};
}

// Copies the new tokens' k or v (1, T, Hkv, D) into the cache at its current length.
static void cache_append(Tensor& dst, const Tensor& src, int64_t at) {
    const int64_t row = src.dim(2) * src.dim(3);
    std::copy_n(src.data(), src.numel(), dst.data() + at * row);
}

// The block's math; block_forward checks x and decides whether to checkpoint it.
static Tensor block_compute(const BlockConfig& c,
                            const BlockParams& p,
                            const Tensor& x,
                            const TokenLayout& t,
                            KvCache* cache) {
    const int64_t B = t.batch, T = t.seq, D = c.head_dim;
    const int64_t nq = c.n_head * D, nkv = c.n_head_kv * D;
    Tensor h = apply_norm(c, p.norm1, x);
    Tensor q, k, v;
    if (p.qkv.weight.defined()) { // fused projection, split along the output features
        Tensor qkv = apply_linear(p.qkv, h, t.dropout_rng);
        q = narrow_last(qkv, 0, nq);
        k = narrow_last(qkv, nq, nkv);
        v = narrow_last(qkv, nq + nkv, nkv);
    } else {
        q = apply_linear(p.q, h, t.dropout_rng);
        k = apply_linear(p.k, h, t.dropout_rng);
        v = apply_linear(p.v, h, t.dropout_rng);
    }
    q = reshape(q, {B, T, c.n_head, D});
    k = reshape(k, {B, T, c.n_head_kv, D});
    v = reshape(v, {B, T, c.n_head_kv, D});
    if (c.qk_norm) {
        q = apply_norm(c, p.q_norm, q);
        k = apply_norm(c, p.k_norm, k);
    }
    if (c.rope) {
        std::vector<double> defaults;
        if (c.rope_inv_freq.empty())
            defaults = rope_inv_freq(c.rotary_dim ? c.rotary_dim : D, c.rope_theta);
        const std::span<const double> inv_freq =
            c.rope_inv_freq.empty() ? std::span<const double>(defaults) : c.rope_inv_freq;
        q = rope(q, t.positions, inv_freq);
        k = rope(k, t.positions, inv_freq);
    }
    AttentionOptions ao{.scale = c.attn_scale,
                        .doc_ids = t.doc_ids,
                        .window = c.window,
                        .softcap = c.attn_softcap,
                        .q_offset = 0};
    if (cache) {
        if (B != 1 || cache->length + T > cache->k.dim(1))
            throw ShapeError("block_forward: KV cache holds " + std::to_string(cache->k.dim(1)) +
                             " positions (batch 1); cannot add " + std::to_string(T) + " to " +
                             std::to_string(cache->length));
        cache_append(cache->k, k, cache->length);
        cache_append(cache->v, v, cache->length);
        ao.q_offset = cache->length;
        k = cache->k;
        v = cache->v;
    }
    Tensor a = reshape(attention(q, k, v, ao), {B, T, nq});
    Tensor attn_out = apply_linear(p.o, a, t.dropout_rng);
    if (c.post_norms)
        attn_out = apply_norm(c, p.post_attn_norm, attn_out);
    if (c.residual_multiplier != 1.0f)
        attn_out = scale(attn_out, c.residual_multiplier);
    Tensor res = add(x, attn_out);
    Tensor m = apply_norm(c, p.norm2, res);
    Tensor act;
    if (c.mlp == MlpKind::Gelu) {
        act = gelu_tanh(apply_linear(p.up, m, t.dropout_rng));
    } else {
        // up before gate: the order GCC gave these calls as arguments of swiglu(), kept so that
        // LoRA dropout draws its masks as it always has.
        Tensor up = apply_linear(p.up, m, t.dropout_rng);
        Tensor gate = apply_linear(p.gate, m, t.dropout_rng);
        act = c.mlp == MlpKind::SwiGlu ? swiglu(gate, up) : geglu(gate, up);
    }
    Tensor mlp_out = apply_linear(p.down, act, t.dropout_rng);
    if (c.post_norms)
        mlp_out = apply_norm(c, p.post_ffn_norm, mlp_out);
    if (c.residual_multiplier != 1.0f)
        mlp_out = scale(mlp_out, c.residual_multiplier);
    return add(res, mlp_out);
}

// Whether backward has anything to reach in the block's parameters (LoRA adapters included).
static bool block_trains(const BlockParams& p) {
    const auto trains = [](const Tensor& t) { return t.defined() && t.requires_grad(); };
    for (const NormParams* n :
         {&p.norm1, &p.norm2, &p.post_attn_norm, &p.post_ffn_norm, &p.q_norm, &p.k_norm})
        if (trains(n->weight) || trains(n->bias))
            return true;
    for (const LinearParams* l : {&p.qkv, &p.q, &p.k, &p.v, &p.o, &p.up, &p.gate, &p.down})
        if (trains(l->weight) || trains(l->bias) || trains(l->lora.a) || trains(l->lora.b))
            return true;
    return false;
}

// What a checkpointed block needs to run again during backward: copies of the token layout
// (the caller's spans need not outlive the forward pass) and the dropout stream as it was when
// the block started drawing, so the replay draws the same masks.
struct BlockReplay {
    int64_t batch, seq;
    std::vector<int32_t> positions, doc_ids;
    std::optional<Rng> dropout_start; // empty: no dropout (evaluation)
};

// One tape entry for the whole block: the forward runs unrecorded and keeps nothing but x; the
// entry's backward runs the block again (recorded) from x and backpropagates through it.
static Tensor block_checkpointed(const BlockConfig& c,
                                 const BlockParams& p,
                                 const Tensor& x,
                                 const TokenLayout& t) {
    std::optional<Rng> dropout_start;
    if (t.dropout_rng)
        dropout_start = *t.dropout_rng; // before the forward below advances the stream
    Tensor y;
    {
        NoGradGuard unrecorded;
        y = block_compute(c, p, x, t, nullptr);
    }
    if (!x.requires_grad() && !block_trains(p))
        return y; // nothing to backpropagate into: no entry, as with any op
    auto replay = std::make_shared<const BlockReplay>(
        BlockReplay{.batch = t.batch,
                    .seq = t.seq,
                    .positions = {t.positions.begin(), t.positions.end()},
                    .doc_ids = {t.doc_ids.begin(), t.doc_ids.end()},
                    .dropout_start = dropout_start});
    // c and p are captured by value (handles to the same parameter tensors), so the entry does
    // not depend on the caller's structs outliving the forward pass.
    auto run_again = [c, p, replay](const Tensor& x_again) {
        std::optional<Rng> dropout_rng = replay->dropout_start;
        const TokenLayout layout{.batch = replay->batch,
                                 .seq = replay->seq,
                                 .positions = replay->positions,
                                 .doc_ids = replay->doc_ids,
                                 .dropout_rng = dropout_rng ? &*dropout_rng : nullptr};
        return block_compute(c, p, x_again, layout, nullptr);
    };
    record("checkpoint_block", y, checkpoint_backward(x, y, std::move(run_again)));
    return y;
}

Tensor block_forward(const BlockConfig& c,
                     const BlockParams& p,
                     const Tensor& x,
                     const TokenLayout& t,
                     KvCache* cache) {
    if (x.ndim() != 3 || x.dim(0) != t.batch || x.dim(1) != t.seq || x.dim(2) != c.hidden)
        throw ShapeError("block_forward: expected x [" + std::to_string(t.batch) + ", " +
                         std::to_string(t.seq) + ", " + std::to_string(c.hidden) + "], got " +
                         shape_str(x.shape()));
    if (t.checkpoint_activations && !cache && grad_enabled())
        return block_checkpointed(c, p, x, t);
    return block_compute(c, p, x, t, cache);
}

} // namespace slimtune
