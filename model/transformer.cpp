#include "model/transformer.h"

#include "common/error.h"
#include "common/text.h"
#include "model/io/checkpoint.h"
#include "model/ops/ops.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace slimtune {

namespace {

// Shapes as Hugging Face stores them; Conv1D weights are (in, out).
Shape hf_shape(const NamedParam& p) {
    const Shape& s = p.tensor->shape();
    return p.transposed ? Shape{s[1], s[0]} : s;
}

// Skeleton parameters carry shapes only; load_model gives them values.
Tensor shape_only(const Shape& s) {
    return Tensor::placeholder(s);
}

void make_linear(LinearParams& l, int64_t out, int64_t in, bool bias) {
    l.weight = shape_only({out, in});
    if (bias)
        l.bias = shape_only({out});
}

// Buffers some checkpoints carry that are not parameters (causal masks, cached frequencies).
bool is_known_buffer(const std::string& name) {
    auto ends_with = [&](const char* suffix) {
        const std::string s(suffix);
        return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    return ends_with(".attn.bias") || ends_with(".attn.masked_bias") ||
           ends_with(".rotary_emb.inv_freq");
}

} // namespace

Model model_skeleton(const ModelConfig& c) {
    Model m;
    m.cfg = c;
    m.block = block_config(c);
    block_check(m.block);
    const int64_t C = c.hidden, nq = c.n_head * c.head_dim, nkv = c.n_head_kv * c.head_dim;
    const bool gpt2 = c.family == Family::Gpt2;
    m.embed = shape_only({c.vocab_size, C});
    if (gpt2)
        m.pos_embed = shape_only({c.max_positions, C});
    m.layers.resize(static_cast<size_t>(c.n_layer));
    for (BlockParams& b : m.layers) {
        b.norm1.weight = shape_only({C});
        b.norm2.weight = shape_only({C});
        if (gpt2) {
            b.norm1.bias = shape_only({C});
            b.norm2.bias = shape_only({C});
            make_linear(b.qkv, nq + 2 * nkv, C, true);
        } else {
            make_linear(b.q, nq, C, c.qkv_bias);
            make_linear(b.k, nkv, C, c.qkv_bias);
            make_linear(b.v, nkv, C, c.qkv_bias);
            make_linear(b.gate, c.intermediate, C, c.mlp_bias);
        }
        make_linear(b.o, C, nq, c.o_bias);
        make_linear(b.up, c.intermediate, C, c.mlp_bias);
        make_linear(b.down, C, c.intermediate, c.mlp_bias);
    }
    m.norm_f.weight = shape_only({C});
    if (gpt2)
        m.norm_f.bias = shape_only({C});
    if (!c.tie_word_embeddings)
        m.lm_head = shape_only({c.vocab_size, C});
    return m;
}

namespace {

// Walks the model in file order: plain tensors (embeddings, norms, head) through `tensor`,
// linear layers (module name without ".weight") through `linear`. The single place that knows
// the Hugging Face names.
void walk_model(
    Model& m,
    const std::string& gpt2_prefix,
    const std::function<void(const std::string&, Tensor&)>& tensor,
    const std::function<void(const std::string&, LinearParams&, bool conv1d, int64_t layer)>&
        linear) {
    auto norm = [&](const std::string& name, NormParams& n) {
        tensor(name + ".weight", n.weight);
        tensor(name + ".bias", n.bias);
    };
    if (m.cfg.family == Family::Gpt2) {
        const std::string& p = gpt2_prefix;
        tensor(p + "wte.weight", m.embed);
        tensor(p + "wpe.weight", m.pos_embed);
        for (size_t i = 0; i < m.layers.size(); ++i) {
            const std::string h = p + "h." + std::to_string(i) + ".";
            const auto layer = static_cast<int64_t>(i);
            BlockParams& b = m.layers[i];
            norm(h + "ln_1", b.norm1);
            linear(h + "attn.c_attn", b.qkv, true, layer);
            linear(h + "attn.c_proj", b.o, true, layer);
            norm(h + "ln_2", b.norm2);
            linear(h + "mlp.c_fc", b.up, true, layer);
            linear(h + "mlp.c_proj", b.down, true, layer);
        }
        norm(p + "ln_f", m.norm_f);
    } else {
        tensor("model.embed_tokens.weight", m.embed);
        for (size_t i = 0; i < m.layers.size(); ++i) {
            const std::string l = "model.layers." + std::to_string(i) + ".";
            const auto layer = static_cast<int64_t>(i);
            BlockParams& b = m.layers[i];
            norm(l + "input_layernorm", b.norm1);
            linear(l + "self_attn.q_proj", b.q, false, layer);
            linear(l + "self_attn.k_proj", b.k, false, layer);
            linear(l + "self_attn.v_proj", b.v, false, layer);
            linear(l + "self_attn.o_proj", b.o, false, layer);
            norm(l + "post_attention_layernorm", b.norm2);
            linear(l + "mlp.gate_proj", b.gate, false, layer);
            linear(l + "mlp.up_proj", b.up, false, layer);
            linear(l + "mlp.down_proj", b.down, false, layer);
        }
        norm("model.norm", m.norm_f);
    }
    tensor("lm_head.weight", m.lm_head);
}

} // namespace

std::vector<NamedParam> model_params(Model& m, const std::string& gpt2_prefix) {
    std::vector<NamedParam> r;
    walk_model(
        m, gpt2_prefix,
        [&](const std::string& name, Tensor& t) {
            if (t.defined())
                r.push_back({name, &t, false, false});
        },
        [&](const std::string& module, LinearParams& l, bool conv1d, int64_t) {
            if (l.weight.defined())
                r.push_back({module + ".weight", &l.weight, conv1d, true});
            if (l.bias.defined())
                r.push_back({module + ".bias", &l.bias, false, false});
        });
    return r;
}

std::vector<NamedLinear> model_linears(Model& m, const std::string& gpt2_prefix) {
    std::vector<NamedLinear> r;
    walk_model(
        m, gpt2_prefix, [](const std::string&, Tensor&) {},
        [&](const std::string& module, LinearParams& l, bool conv1d, int64_t layer) {
            if (l.weight.defined())
                r.push_back({module, &l, layer, conv1d});
        });
    return r;
}

namespace {
// (in, out) -> (out, in) for GPT-2's Conv1D weights.
template <class T> std::vector<T> transposed(const std::vector<T>& v, int64_t out, int64_t in) {
    std::vector<T> t(v.size());
    for (int64_t i = 0; i < in; ++i)
        for (int64_t o = 0; o < out; ++o)
            t[static_cast<size_t>(o * in + i)] = v[static_cast<size_t>(i * out + o)];
    return t;
}
} // namespace

CheckpointModel open_checkpoint_model(const std::string& dir) {
    CheckpointModel c{.model = model_skeleton(read_hf_config(dir)),
                      .ckpt = io::CheckpointReader::open(dir),
                      .gpt2_prefix = "transformer."};
    const Model& cm = c.model;
    const io::CheckpointReader& ckpt = c.ckpt;
    if (cm.cfg.family == Family::Gpt2 && !ckpt.contains("transformer.wte.weight") &&
        ckpt.contains("wte.weight"))
        c.gpt2_prefix = ""; // the other GPT-2 naming
    std::vector<NamedParam> params = model_params(c.model, c.gpt2_prefix);

    std::set<std::string> expected;
    std::vector<std::string> missing, misshapen;
    for (const NamedParam& p : params) {
        expected.insert(p.name);
        if (!ckpt.contains(p.name)) {
            missing.push_back(p.name);
            continue;
        }
        const Shape want = hf_shape(p);
        if (ckpt.entry(p.name).shape != want)
            misshapen.push_back(p.name + " " + shape_str(ckpt.entry(p.name).shape) + " (expected " +
                                shape_str(want) + ")");
    }
    std::vector<std::string> unexpected;
    for (const std::string& n : ckpt.names()) {
        const bool tied_head = n == "lm_head.weight" && cm.cfg.tie_word_embeddings;
        if (!expected.count(n) && !is_known_buffer(n) && !tied_head)
            unexpected.push_back(n);
    }
    std::string problems;
    if (!missing.empty())
        problems += "; missing: " + short_list(missing);
    if (!misshapen.empty())
        problems += "; wrong shape: " + short_list(misshapen);
    if (!unexpected.empty())
        problems += "; unexpected: " + short_list(unexpected);
    if (!problems.empty())
        throw FormatError(dir + ": weights do not match a " + cm.cfg.model_type +
                          " model of this config" + problems);
    return c;
}

namespace {

// The file's name of a parameter named with any GPT-2 prefix.
std::string file_name(const CheckpointModel& c, const std::string& name) {
    if (c.model.cfg.family != Family::Gpt2)
        return name;
    const std::string bare = name.starts_with("transformer.") ? name.substr(12) : name;
    return c.gpt2_prefix + bare;
}

} // namespace

std::vector<float> CheckpointModel::read(const NamedParam& p) const {
    const std::string name = file_name(*this, p.name);
    std::vector<float> v = ckpt.read_f32(name);
    if (p.transposed)
        v = transposed(v, p.tensor->dim(0), p.tensor->dim(1));
    ckpt.release(name); // keep one copy resident, not the file's pages as well
    return v;
}

void CheckpointModel::load(const NamedParam& p, const LoadOptions& opts) {
    if (!p.tensor->is_placeholder())
        return;
    const std::string name = file_name(*this, p.name);
    const io::DType stored = ckpt.entry(name).dtype;
    if (opts.keep_16bit_projections && p.projection &&
        (stored == io::DType::BF16 || stored == io::DType::F16)) {
        const auto bytes = ckpt.bytes(name);
        std::vector<uint16_t> bits(bytes.size() / 2);
        std::memcpy(bits.data(), bytes.data(), bytes.size());
        if (p.transposed)
            bits = transposed(bits, p.tensor->dim(0), p.tensor->dim(1));
        *p.tensor = Tensor::from_half(p.tensor->shape(), std::move(bits),
                                      stored == io::DType::BF16 ? Storage::BF16 : Storage::F16);
        ckpt.release(name);
    } else {
        *p.tensor = Tensor::from(p.tensor->shape(), read(p));
    }
}

void CheckpointModel::load_all(const LoadOptions& opts) {
    for (const NamedParam& p : model_params(model, gpt2_prefix))
        load(p, opts);
}

Model load_model(const std::string& dir, const LoadOptions& opts) {
    CheckpointModel c = open_checkpoint_model(dir);
    c.load_all(opts);
    return std::move(c.model);
}

std::vector<KvCache> model_caches(const Model& m, int64_t capacity) {
    std::vector<KvCache> c;
    for (size_t i = 0; i < m.layers.size(); ++i)
        c.push_back(kv_cache_make(m.block, capacity));
    return c;
}

Tensor model_hidden(const Model& m,
                    std::span<const int32_t> ids,
                    const TokenLayout& t,
                    std::vector<KvCache>* caches) {
    const int64_t n = t.batch * t.seq, C = m.cfg.hidden;
    if (static_cast<int64_t>(ids.size()) != n || static_cast<int64_t>(t.positions.size()) != n)
        throw ShapeError("model: " + std::to_string(ids.size()) + " ids and " +
                         std::to_string(t.positions.size()) + " positions for a batch of " +
                         std::to_string(t.batch) + " x " + std::to_string(t.seq));
    if (caches && caches->size() != m.layers.size())
        throw ShapeError("model: one KV cache per layer needed");
    Tensor x = embedding(m.embed, ids);
    if (m.cfg.embedding_multiplier != 1.0f)
        x = scale(x, m.cfg.embedding_multiplier);
    if (m.pos_embed.defined()) {
        for (int32_t p : t.positions)
            if (p < 0 || p >= m.cfg.max_positions)
                throw ShapeError("model: position " + std::to_string(p) +
                                 " is beyond the model's " + std::to_string(m.cfg.max_positions) +
                                 " learned positions");
        x = add(x, embedding(m.pos_embed, t.positions));
    }
    x = reshape(x, {t.batch, t.seq, C});
    for (size_t l = 0; l < m.layers.size(); ++l)
        x = block_forward(m.block, m.layers[l], x, t, caches ? &(*caches)[l] : nullptr);
    if (caches)
        for (KvCache& c : *caches)
            c.length += t.seq;
    x = reshape(x, {n, C});
    return m.cfg.family == Family::Gpt2
               ? layer_norm(x, m.norm_f.weight, m.norm_f.bias, m.cfg.norm_eps)
               : rms_norm(x, m.norm_f.weight, m.cfg.norm_eps);
}

Tensor model_logits(const Model& m, const Tensor& hidden) {
    Tensor logits = linear(hidden, m.head());
    return m.cfg.logits_scaling != 1.0f ? scale(logits, 1.0f / m.cfg.logits_scaling) : logits;
}

Tensor model_last_logits(const Model& m, const Tensor& hidden) {
    const int64_t C = m.cfg.hidden, n = hidden.rows();
    return model_logits(m, narrow_last(reshape(hidden, {1, n * C}), (n - 1) * C, C));
}

Tensor model_loss(const Model& m,
                  const Tensor& hidden,
                  std::span<const int32_t> targets,
                  double normalizer) {
    return linear_cross_entropy(
        hidden, m.head(), targets,
        {.logit_scale = 1.0f / m.cfg.logits_scaling, .normalizer = normalizer, .chunk_rows = 0});
}

int64_t model_param_count(Model& m) {
    int64_t n = 0;
    for (const NamedParam& p : model_params(m))
        n += p.tensor->numel();
    return n;
}

} // namespace slimtune
