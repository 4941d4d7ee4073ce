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
    for (int64_t l = 0; l < c.n_layer; ++l) {
        m.block.push_back(block_config(c, l));
        block_check(m.block.back());
    }
    const int64_t C = c.hidden, nq = c.n_head * c.head_dim, nkv = c.n_head_kv * c.head_dim;
    const bool gpt2 = c.family == Family::Gpt2;
    m.embed = shape_only({c.vocab_size, C});
    if (gpt2)
        m.pos_embed = shape_only({c.max_positions, C});
    m.layers.resize(static_cast<size_t>(c.n_layer));
    const BlockConfig bc = block_config(c); // the switches every layer shares
    for (BlockParams& b : m.layers) {
        b.norm1.weight = shape_only({C});
        b.norm2.weight = shape_only({C});
        if (bc.post_norms) {
            b.post_attn_norm.weight = shape_only({C});
            b.post_ffn_norm.weight = shape_only({C});
        }
        if (bc.qk_norm) {
            b.q_norm.weight = shape_only({c.head_dim});
            b.k_norm.weight = shape_only({c.head_dim});
        }
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

// One parameter of a block under its family's Hugging Face name (after "h.N." or
// "model.layers.N."): a norm, or a linear layer named by its module.
struct BlockName {
    const char* hf;
    ParamSlot slot;
    NormParams BlockParams::*norm;
    LinearParams BlockParams::*linear;
};
// A family's Hugging Face names, in file order. GPT-2's carry a prefix, "transformer." or "",
// except lm_head.
struct FamilyNames {
    const char* embed;
    const char* pos_embed; // nullptr: none
    const char* block;
    std::span<const BlockName> block_params;
    const char* norm_f;
    bool conv1d; // the linear layers are Conv1D (weights stored (in, out))
};

using P = ParamSlot;
using B = BlockParams;
// clang-format off
constexpr BlockName kGpt2Block[] = {
    {"ln_1",        P::Norm1, &B::norm1, nullptr},
    {"attn.c_attn", P::Qkv,   nullptr,   &B::qkv},
    {"attn.c_proj", P::O,     nullptr,   &B::o},
    {"ln_2",        P::Norm2, &B::norm2, nullptr},
    {"mlp.c_fc",    P::Up,    nullptr,   &B::up},
    {"mlp.c_proj",  P::Down,  nullptr,   &B::down},
};
constexpr BlockName kLlamaBlock[] = {
    {"input_layernorm",          P::Norm1, &B::norm1, nullptr},
    {"self_attn.q_proj",         P::Q,     nullptr,   &B::q},
    {"self_attn.k_proj",         P::K,     nullptr,   &B::k},
    {"self_attn.v_proj",         P::V,     nullptr,   &B::v},
    {"self_attn.o_proj",         P::O,     nullptr,   &B::o},
    {"post_attention_layernorm", P::Norm2, &B::norm2, nullptr},
    {"mlp.gate_proj",            P::Gate,  nullptr,   &B::gate},
    {"mlp.up_proj",              P::Up,    nullptr,   &B::up},
    {"mlp.down_proj",            P::Down,  nullptr,   &B::down},
};
// Gemma 2: a norm after each branch; the MLP's input norm is pre_feedforward_layernorm.
constexpr BlockName kGemma2Block[] = {
    {"input_layernorm",            P::Norm1,        &B::norm1,          nullptr},
    {"self_attn.q_proj",           P::Q,            nullptr,            &B::q},
    {"self_attn.k_proj",           P::K,            nullptr,            &B::k},
    {"self_attn.v_proj",           P::V,            nullptr,            &B::v},
    {"self_attn.o_proj",           P::O,            nullptr,            &B::o},
    {"post_attention_layernorm",   P::PostAttnNorm, &B::post_attn_norm, nullptr},
    {"pre_feedforward_layernorm",  P::Norm2,        &B::norm2,          nullptr},
    {"mlp.gate_proj",              P::Gate,         nullptr,            &B::gate},
    {"mlp.up_proj",                P::Up,           nullptr,            &B::up},
    {"mlp.down_proj",              P::Down,         nullptr,            &B::down},
    {"post_feedforward_layernorm", P::PostFfnNorm,  &B::post_ffn_norm,  nullptr},
};
// Gemma 3: Gemma 2's block with per-head query and key norms.
constexpr BlockName kGemma3Block[] = {
    {"input_layernorm",            P::Norm1,        &B::norm1,          nullptr},
    {"self_attn.q_proj",           P::Q,            nullptr,            &B::q},
    {"self_attn.k_proj",           P::K,            nullptr,            &B::k},
    {"self_attn.v_proj",           P::V,            nullptr,            &B::v},
    {"self_attn.q_norm",           P::QNorm,        &B::q_norm,         nullptr},
    {"self_attn.k_norm",           P::KNorm,        &B::k_norm,         nullptr},
    {"self_attn.o_proj",           P::O,            nullptr,            &B::o},
    {"post_attention_layernorm",   P::PostAttnNorm, &B::post_attn_norm, nullptr},
    {"pre_feedforward_layernorm",  P::Norm2,        &B::norm2,          nullptr},
    {"mlp.gate_proj",              P::Gate,         nullptr,            &B::gate},
    {"mlp.up_proj",                P::Up,           nullptr,            &B::up},
    {"mlp.down_proj",              P::Down,         nullptr,            &B::down},
    {"post_feedforward_layernorm", P::PostFfnNorm,  &B::post_ffn_norm,  nullptr},
};
// clang-format on
constexpr FamilyNames kGpt2Names{.embed = "wte",
                                 .pos_embed = "wpe",
                                 .block = "h.",
                                 .block_params = kGpt2Block,
                                 .norm_f = "ln_f",
                                 .conv1d = true};
// llama, qwen2, granite and the gemmas: one layout, the blocks' own names differ.
constexpr FamilyNames llama_layout(std::span<const BlockName> block_params) {
    return {.embed = "model.embed_tokens",
            .pos_embed = nullptr,
            .block = "model.layers.",
            .block_params = block_params,
            .norm_f = "model.norm",
            .conv1d = false};
}
constexpr FamilyNames kLlamaNames = llama_layout(kLlamaBlock);
constexpr FamilyNames kGemma2Names = llama_layout(kGemma2Block);
constexpr FamilyNames kGemma3Names = llama_layout(kGemma3Block);

const FamilyNames& family_names(Family f) {
    switch (f) {
    case Family::Gpt2:
        return kGpt2Names;
    case Family::Gemma2:
        return kGemma2Names;
    case Family::Gemma3:
        return kGemma3Names;
    default:
        return kLlamaNames;
    }
}

// Walks the model in file order: plain tensors (embeddings, norms, head) through `tensor`,
// linear layers (module name without ".weight") through `linear`. The single place that knows
// the Hugging Face names.
void walk_model(
    Model& m,
    const std::string& gpt2_prefix,
    const std::function<void(const std::string&, Tensor&, ParamSlot, int64_t layer, bool bias)>&
        tensor,
    const std::function<
        void(const std::string&, LinearParams&, ParamSlot, int64_t layer, bool conv1d)>& linear) {
    const bool gpt2 = m.cfg.family == Family::Gpt2;
    const FamilyNames& names = family_names(m.cfg.family);
    const std::string p = gpt2 ? gpt2_prefix : "";
    auto norm = [&](const std::string& name, NormParams& n, ParamSlot slot, int64_t layer) {
        tensor(name + ".weight", n.weight, slot, layer, false);
        tensor(name + ".bias", n.bias, slot, layer, true);
    };
    tensor(p + names.embed + ".weight", m.embed, ParamSlot::Embed, -1, false);
    if (names.pos_embed)
        tensor(p + names.pos_embed + ".weight", m.pos_embed, ParamSlot::PosEmbed, -1, false);
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const std::string block = p + names.block + std::to_string(i) + ".";
        const auto layer = static_cast<int64_t>(i);
        for (const BlockName& b : names.block_params) {
            if (b.norm)
                norm(block + b.hf, m.layers[i].*b.norm, b.slot, layer);
            else
                linear(block + b.hf, m.layers[i].*b.linear, b.slot, layer, names.conv1d);
        }
    }
    norm(p + names.norm_f, m.norm_f, ParamSlot::NormF, -1);
    tensor("lm_head.weight", m.lm_head, ParamSlot::LmHead, -1, false);
}

} // namespace

std::vector<NamedParam> model_params(Model& m, const std::string& gpt2_prefix) {
    std::vector<NamedParam> r;
    walk_model(
        m, gpt2_prefix,
        [&](const std::string& name, Tensor& t, ParamSlot slot, int64_t layer, bool bias) {
            if (t.defined())
                r.push_back({name, &t, false, false, slot, layer, bias});
        },
        [&](const std::string& module, LinearParams& l, ParamSlot slot, int64_t layer,
            bool conv1d) {
            if (l.weight.defined())
                r.push_back({module + ".weight", &l.weight, conv1d, true, slot, layer, false});
            if (l.bias.defined())
                r.push_back({module + ".bias", &l.bias, false, false, slot, layer, true});
        });
    return r;
}

std::vector<NamedLinear> model_linears(Model& m, const std::string& gpt2_prefix) {
    std::vector<NamedLinear> r;
    walk_model(
        m, gpt2_prefix, [](const std::string&, Tensor&, ParamSlot, int64_t, bool) {},
        [&](const std::string& module, LinearParams& l, ParamSlot, int64_t layer, bool conv1d) {
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

void TensorMismatch::wrong_shape(const std::string& name, const Shape& have, const Shape& want) {
    misshapen.push_back(name + " " + shape_str(have) + " (expected " + shape_str(want) + ")");
}

std::string TensorMismatch::problems() const {
    std::string r;
    const std::pair<const char*, const std::vector<std::string>*> lists[] = {
        {"missing", &missing},
        {"wrong shape", &misshapen},
        {"unexpected", &unexpected},
        {"types slimtune cannot dequantize", &unreadable}};
    for (const auto& [what, names] : lists)
        if (!names->empty())
            r += std::string("; ") + what + ": " + short_list(*names);
    return r;
}

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
    TensorMismatch mismatch;
    for (const NamedParam& p : params) {
        expected.insert(p.name);
        if (!ckpt.contains(p.name)) {
            mismatch.missing.push_back(p.name);
            continue;
        }
        const Shape want = hf_shape(p);
        if (ckpt.entry(p.name).shape != want)
            mismatch.wrong_shape(p.name, ckpt.entry(p.name).shape, want);
    }
    for (const std::string& n : ckpt.names()) {
        const bool tied_head = n == "lm_head.weight" && cm.cfg.tie_word_embeddings;
        if (!expected.count(n) && !is_known_buffer(n) && !tied_head)
            mismatch.unexpected.push_back(n);
    }
    if (const std::string problems = mismatch.problems(); !problems.empty())
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
    io::require_finite_weights(v, ckpt.file_of(name), name);
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
        io::require_finite_weights(bits, stored == io::DType::F16, ckpt.file_of(name), name);
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
        c.push_back(kv_cache_make(m.block[i], capacity));
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
        x = block_forward(m.block[l], m.layers[l], x, t, caches ? &(*caches)[l] : nullptr);
    if (caches)
        for (KvCache& c : *caches)
            c.length += t.seq;
    x = reshape(x, {n, C});
    return m.cfg.family == Family::Gpt2
               ? layer_norm(x, m.norm_f.weight, m.norm_f.bias, m.cfg.norm_eps)
               : rms_norm(x, m.norm_f.weight, m.cfg.norm_eps, is_gemma(m.cfg) ? 1.0f : 0.0f);
}

Tensor model_logits(const Model& m, const Tensor& hidden) {
    Tensor logits = linear(hidden, m.head());
    if (m.cfg.logits_scaling != 1.0f)
        logits = scale(logits, 1.0f / m.cfg.logits_scaling);
    return m.cfg.final_softcap > 0.0f ? softcap(logits, m.cfg.final_softcap) : logits;
}

Tensor model_last_logits(const Model& m, const Tensor& hidden) {
    const int64_t C = m.cfg.hidden, n = hidden.rows();
    return model_logits(m, narrow_last(reshape(hidden, {1, n * C}), (n - 1) * C, C));
}

Tensor model_loss(const Model& m,
                  const Tensor& hidden,
                  std::span<const int32_t> targets,
                  double normalizer) {
    return linear_cross_entropy(hidden, m.head(), targets,
                                {.logit_scale = 1.0f / m.cfg.logits_scaling,
                                 .softcap = m.cfg.final_softcap,
                                 .normalizer = normalizer,
                                 .chunk_rows = 0});
}

int64_t model_param_count(Model& m) {
    int64_t n = 0;
    for (const NamedParam& p : model_params(m))
        n += p.tensor->numel();
    return n;
}

} // namespace slimtune
