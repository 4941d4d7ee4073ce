#include "model/io/gguf_tensors.h"

#include "common/error.h"
#include "model/io/gguf_metadata.h"

#include <cmath>
#include <numbers>

namespace slimtune::io {

namespace {

// The GGUF name of each slot (llama.cpp's, the same for every architecture) and the role of
// its weight; a bias is a Norm when it belongs to a norm, else a Bias.
struct GgufName {
    ParamSlot slot;
    const char* gguf; // after "blk.N." inside a block
    TensorRole role;
};

// clang-format off
constexpr GgufName kGgufNames[] = {
    {ParamSlot::Embed,    "token_embd",    TensorRole::TokenEmbd},
    {ParamSlot::PosEmbed, "position_embd", TensorRole::PosEmbd},
    {ParamSlot::Norm1,    "attn_norm",     TensorRole::Norm},
    {ParamSlot::Q,        "attn_q",        TensorRole::AttnQ},
    {ParamSlot::K,        "attn_k",        TensorRole::AttnK},
    {ParamSlot::V,        "attn_v",        TensorRole::AttnV},
    {ParamSlot::Qkv,      "attn_qkv",      TensorRole::AttnQkv},
    {ParamSlot::O,        "attn_output",   TensorRole::AttnOutput},
    {ParamSlot::Norm2,    "ffn_norm",      TensorRole::Norm},
    {ParamSlot::Gate,     "ffn_gate",      TensorRole::FfnGate},
    {ParamSlot::Up,       "ffn_up",        TensorRole::FfnUp},
    {ParamSlot::Down,     "ffn_down",      TensorRole::FfnDown},
    {ParamSlot::NormF,    "output_norm",   TensorRole::Norm},
    {ParamSlot::LmHead,   "output",        TensorRole::Output},
    {ParamSlot::QNorm,    "attn_q_norm",   TensorRole::Norm},
    {ParamSlot::KNorm,    "attn_k_norm",   TensorRole::Norm},
    {ParamSlot::PostAttnNorm, "post_attention_norm", TensorRole::Norm},
    {ParamSlot::PostFfnNorm,  "post_ffw_norm",       TensorRole::Norm},
};
// clang-format on

constexpr bool names_in_slot_order() {
    for (size_t i = 0; i < std::size(kGgufNames); ++i)
        if (static_cast<size_t>(kGgufNames[i].slot) != i)
            return false;
    return true;
}
static_assert(names_in_slot_order(), "kGgufNames is indexed by ParamSlot");

// The GGUF name and role of a parameter.
void name_tensor(const NamedParam& p, GgufTensorSource& s) {
    const GgufName& g = kGgufNames[static_cast<size_t>(p.slot)];
    s.name = (p.layer >= 0 ? "blk." + std::to_string(p.layer) + "." : std::string()) + g.gguf +
             (p.bias ? ".bias" : ".weight");
    s.role = !p.bias ? g.role : g.role == TensorRole::Norm ? TensorRole::Norm : TensorRole::Bias;
    s.layer = p.layer;
}

// Moves row j*(d/2) + i of each head of d rows to row 2i + j (to_gguf), or back.
std::vector<float>
reorder_qk_rows(const float* data, int64_t rows, int64_t cols, int64_t n_head, bool to_gguf) {
    if (n_head <= 0 || rows % n_head != 0 || (rows / n_head) % 2 != 0)
        throw ConfigError("Q/K permutation: " + std::to_string(rows) + " rows do not split into " +
                          std::to_string(n_head) + " heads of even size");
    const int64_t d = rows / n_head, half = d / 2;
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t h = 0; h < n_head; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j) {
                const int64_t hf_row = h * d + j * half + i, gguf_row = h * d + 2 * i + j;
                const float* src = data + (to_gguf ? hf_row : gguf_row) * cols;
                std::copy(src, src + cols, out.data() + (to_gguf ? gguf_row : hf_row) * cols);
            }
    return out;
}

// Gemma's affine map of a parameter into the GGUF (GgufTensorSource::factor, offset).
void gemma_transform(const ModelConfig& cfg, const NamedParam& p, GgufTensorSource& s) {
    if (!is_gemma(cfg) || p.bias)
        return;
    const bool norm = s.role == TensorRole::Norm;
    if (norm)
        s.offset = 1.0f;
    const double model_scalar = cfg.attention_multiplier != 0.0f
                                    ? 1.0 / (static_cast<double>(cfg.attention_multiplier) *
                                             static_cast<double>(cfg.attention_multiplier))
                                    : static_cast<double>(cfg.head_dim);
    const auto query_factor =
        static_cast<float>(std::sqrt(llama_cpp_query_scalar(cfg) / model_scalar));
    const ParamSlot query_slot = cfg.family == Family::Gemma3 ? ParamSlot::QNorm : ParamSlot::Q;
    if (p.slot == query_slot && query_factor != 1.0f) {
        s.factor = query_factor;
        s.offset *= query_factor;
    }
}

} // namespace

std::vector<float> permute_qk_rows(const float* data, int64_t rows, int64_t cols, int64_t n_head) {
    return reorder_qk_rows(data, rows, cols, n_head, true);
}

std::vector<float>
unpermute_qk_rows(const float* data, int64_t rows, int64_t cols, int64_t n_head) {
    return reorder_qk_rows(data, rows, cols, n_head, false);
}

std::vector<float> llama3_rope_factors(const ModelConfig& cfg) {
    const RopeScaling& s = cfg.rope_scaling;
    if (s.kind != RopeScaling::Kind::Llama3)
        return {};
    const int64_t dim = cfg.head_dim;
    const double low_wavelen = static_cast<double>(s.original_max_positions) / s.low_freq_factor;
    const double high_wavelen = static_cast<double>(s.original_max_positions) / s.high_freq_factor;
    std::vector<float> f;
    for (int64_t i = 0; i < dim; i += 2) {
        const double freq =
            1.0 / std::pow(cfg.rope_theta, static_cast<double>(i) / static_cast<double>(dim));
        const double wavelen = 2.0 * std::numbers::pi / freq;
        double factor = 1.0;
        if (wavelen > low_wavelen) {
            factor = s.factor;
        } else if (wavelen >= high_wavelen) {
            const double smooth =
                (static_cast<double>(s.original_max_positions) / wavelen - s.low_freq_factor) /
                (s.high_freq_factor - s.low_freq_factor);
            factor = 1.0 / ((1.0 - smooth) / s.factor + smooth);
        }
        f.push_back(static_cast<float>(factor));
    }
    return f;
}

std::vector<GgufTensorSource> gguf_tensor_sources(Model& m, const ParamReader& read) {
    const ModelConfig& cfg = m.cfg;
    const bool permute = cfg.family == Family::Llama || cfg.family == Family::Granite;
    std::vector<GgufTensorSource> out;
    for (const NamedParam& p : model_params(m, "")) {
        GgufTensorSource s;
        s.hf_name = p.name;
        name_tensor(p, s);
        const Tensor* t = p.tensor;
        const bool streamed = t->is_placeholder();
        if (!streamed && t->storage() != Storage::F32)
            throw ConfigError("GGUF export: '" + p.name +
                              "' is held in 16 bits; load the model with float32 weights");
        s.shape.assign(t->shape().begin(), t->shape().end());
        gemma_transform(cfg, p, s);
        // A placeholder's values, from the file.
        auto streamed_values = [p, read] {
            if (!read)
                throw ConfigError("GGUF export: '" + p.name + "' has no values (not loaded)");
            return read(p);
        };
        if (permute && p.slot == ParamSlot::Q)
            s.permuted_heads = cfg.n_head;
        if (permute && p.slot == ParamSlot::K)
            s.permuted_heads = cfg.n_head_kv;
        if (const int64_t heads = s.permuted_heads) {
            // A bias (1-D) is a column: one value per row.
            const int64_t rows = t->ndim() == 1 ? t->dim(0) : t->rows();
            const int64_t cols = t->ndim() == 1 ? 1 : t->cols();
            s.values = [t, streamed, streamed_values, rows, cols, heads] {
                if (!streamed)
                    return permute_qk_rows(t->data(), rows, cols, heads);
                const std::vector<float> v = streamed_values();
                return permute_qk_rows(v.data(), rows, cols, heads);
            };
        } else if (s.factor != 1.0f || s.offset != 0.0f) {
            s.values = [t, streamed, streamed_values, a = s.factor, b = s.offset] {
                std::vector<float> v =
                    streamed ? streamed_values()
                             : std::vector<float>(t->values().begin(), t->values().end());
                for (float& x : v)
                    x = a * x + b;
                return v;
            };
        } else if (streamed) {
            s.values = streamed_values;
        } else {
            s.values = [t] { return std::vector<float>(t->values().begin(), t->values().end()); };
            s.unchanged = t;
        }
        out.push_back(std::move(s));
    }
    if (const std::vector<float> f = llama3_rope_factors(cfg); !f.empty()) {
        GgufTensorSource s;
        s.name = "rope_freqs.weight";
        s.shape = {static_cast<int64_t>(f.size())};
        s.role = TensorRole::RopeFreqs;
        s.values = [f] { return f; };
        // llama.cpp's converters write it first, before token_embd.
        out.insert(out.begin(), std::move(s));
    }
    return out;
}

} // namespace slimtune::io
