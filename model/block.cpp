#include "model/block.h"

#include "common/error.h"
#include "model/ops/ops.h"

#include <cmath>

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

static NormParams make_norm(const BlockConfig& c, bool trainable) {
    NormParams p{Tensor::full({c.hidden}, 1.0f, trainable), {}};
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
    p.q = make_linear(c.n_head * c.head_dim, c.hidden, c.bias, sd, rng, trainable);
    p.k = make_linear(c.n_head_kv * c.head_dim, c.hidden, c.bias, sd, rng, trainable);
    p.v = make_linear(c.n_head_kv * c.head_dim, c.hidden, c.bias, sd, rng, trainable);
    p.o = make_linear(c.hidden, c.n_head * c.head_dim, c.bias, sd_out, rng, trainable);
    p.up = make_linear(c.intermediate, c.hidden, c.bias, sd, rng, trainable);
    if (c.mlp == MlpKind::SwiGlu)
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
    visit("q", p.q.weight, p.q.bias);
    visit("k", p.k.weight, p.k.bias);
    visit("v", p.v.weight, p.v.bias);
    visit("o", p.o.weight, p.o.bias);
    visit("norm2", p.norm2.weight, p.norm2.bias);
    visit("gate", p.gate.weight, p.gate.bias);
    visit("up", p.up.weight, p.up.bias);
    visit("down", p.down.weight, p.down.bias);
}

static Tensor apply_norm(const BlockConfig& c, const NormParams& n, const Tensor& x) {
    return c.norm == NormKind::Rms ? rms_norm(x, n.weight, c.norm_eps)
                                   : layer_norm(x, n.weight, n.bias, c.norm_eps);
}

static Tensor apply_linear(const LinearParams& l, const Tensor& x) {
    return linear(x, l.weight, l.bias);
}

Tensor
block_forward(const BlockConfig& c, const BlockParams& p, const Tensor& x, const TokenLayout& t) {
    if (x.ndim() != 3 || x.dim(0) != t.batch || x.dim(1) != t.seq || x.dim(2) != c.hidden)
        throw ShapeError("block_forward: expected x [" + std::to_string(t.batch) + ", " +
                         std::to_string(t.seq) + ", " + std::to_string(c.hidden) + "], got " +
                         shape_str(x.shape()));
    const int64_t B = t.batch, T = t.seq, D = c.head_dim;
    Tensor h = apply_norm(c, p.norm1, x);
    Tensor q = reshape(apply_linear(p.q, h), {B, T, c.n_head, D});
    Tensor k = reshape(apply_linear(p.k, h), {B, T, c.n_head_kv, D});
    Tensor v = reshape(apply_linear(p.v, h), {B, T, c.n_head_kv, D});
    if (c.rope) {
        const auto inv_freq = rope_inv_freq(c.rotary_dim ? c.rotary_dim : D, c.rope_theta);
        q = rope(q, t.positions, inv_freq);
        k = rope(k, t.positions, inv_freq);
    }
    Tensor a = reshape(attention(q, k, v, {.doc_ids = t.doc_ids}), {B, T, c.n_head * D});
    Tensor res = add(x, apply_linear(p.o, a));
    Tensor m = apply_norm(c, p.norm2, res);
    Tensor act = c.mlp == MlpKind::SwiGlu ? swiglu(apply_linear(p.gate, m), apply_linear(p.up, m))
                                          : gelu_tanh(apply_linear(p.up, m));
    return add(res, apply_linear(p.down, act));
}

} // namespace slimtune
