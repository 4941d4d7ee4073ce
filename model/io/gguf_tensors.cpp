#include "model/io/gguf_tensors.h"

#include "common/error.h"

#include <cmath>
#include <numbers>

namespace slimtune::io {

namespace {

// GPT-2 file names without their "transformer." prefix -> GGUF, with roles.
struct Rule {
    const char* hf_suffix; // after "h.N." (block) or the whole name (top level)
    const char* gguf;      // after "blk.N." or the whole name
    TensorRole role;
};

constexpr Rule kGpt2Top[] = {
    {"wte.weight", "token_embd.weight", TensorRole::TokenEmbd},
    {"wpe.weight", "position_embd.weight", TensorRole::PosEmbd},
    {"ln_f.weight", "output_norm.weight", TensorRole::Norm},
    {"ln_f.bias", "output_norm.bias", TensorRole::Norm},
    {"lm_head.weight", "output.weight", TensorRole::Output},
};
constexpr Rule kGpt2Block[] = {
    {"ln_1.weight", "attn_norm.weight", TensorRole::Norm},
    {"ln_1.bias", "attn_norm.bias", TensorRole::Norm},
    {"attn.c_attn.weight", "attn_qkv.weight", TensorRole::AttnQkv},
    {"attn.c_attn.bias", "attn_qkv.bias", TensorRole::Bias},
    {"attn.c_proj.weight", "attn_output.weight", TensorRole::AttnOutput},
    {"attn.c_proj.bias", "attn_output.bias", TensorRole::Bias},
    {"ln_2.weight", "ffn_norm.weight", TensorRole::Norm},
    {"ln_2.bias", "ffn_norm.bias", TensorRole::Norm},
    {"mlp.c_fc.weight", "ffn_up.weight", TensorRole::FfnUp},
    {"mlp.c_fc.bias", "ffn_up.bias", TensorRole::Bias},
    {"mlp.c_proj.weight", "ffn_down.weight", TensorRole::FfnDown},
    {"mlp.c_proj.bias", "ffn_down.bias", TensorRole::Bias},
};
constexpr Rule kLlamaTop[] = {
    {"model.embed_tokens.weight", "token_embd.weight", TensorRole::TokenEmbd},
    {"model.norm.weight", "output_norm.weight", TensorRole::Norm},
    {"lm_head.weight", "output.weight", TensorRole::Output},
};
constexpr Rule kLlamaBlock[] = {
    {"input_layernorm.weight", "attn_norm.weight", TensorRole::Norm},
    {"self_attn.q_proj.weight", "attn_q.weight", TensorRole::AttnQ},
    {"self_attn.q_proj.bias", "attn_q.bias", TensorRole::Bias},
    {"self_attn.k_proj.weight", "attn_k.weight", TensorRole::AttnK},
    {"self_attn.k_proj.bias", "attn_k.bias", TensorRole::Bias},
    {"self_attn.v_proj.weight", "attn_v.weight", TensorRole::AttnV},
    {"self_attn.v_proj.bias", "attn_v.bias", TensorRole::Bias},
    {"self_attn.o_proj.weight", "attn_output.weight", TensorRole::AttnOutput},
    {"self_attn.o_proj.bias", "attn_output.bias", TensorRole::Bias},
    {"post_attention_layernorm.weight", "ffn_norm.weight", TensorRole::Norm},
    {"mlp.gate_proj.weight", "ffn_gate.weight", TensorRole::FfnGate},
    {"mlp.gate_proj.bias", "ffn_gate.bias", TensorRole::Bias},
    {"mlp.up_proj.weight", "ffn_up.weight", TensorRole::FfnUp},
    {"mlp.up_proj.bias", "ffn_up.bias", TensorRole::Bias},
    {"mlp.down_proj.weight", "ffn_down.weight", TensorRole::FfnDown},
    {"mlp.down_proj.bias", "ffn_down.bias", TensorRole::Bias},
};

bool starts_with(const std::string& s, const std::string& p) {
    return s.compare(0, p.size(), p) == 0;
}

// The GGUF name, role and layer of one Hugging Face name (prefix already removed for GPT-2).
bool map_name(
    const std::string& hf, bool gpt2, std::string& name, TensorRole& role, int64_t& layer) {
    for (const Rule& r : gpt2 ? std::span<const Rule>(kGpt2Top) : std::span<const Rule>(kLlamaTop))
        if (hf == r.hf_suffix) {
            name = r.gguf;
            role = r.role;
            layer = -1;
            return true;
        }
    const std::string block = gpt2 ? "h." : "model.layers.";
    if (!starts_with(hf, block))
        return false;
    const auto dot = hf.find('.', block.size());
    if (dot == std::string::npos)
        return false;
    layer = std::stoll(hf.substr(block.size(), dot - block.size()));
    const std::string rest = hf.substr(dot + 1);
    for (const Rule& r :
         gpt2 ? std::span<const Rule>(kGpt2Block) : std::span<const Rule>(kLlamaBlock))
        if (rest == r.hf_suffix) {
            name = "blk." + std::to_string(layer) + "." + r.gguf;
            role = r.role;
            return true;
        }
    return false;
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
    const bool gpt2 = cfg.family == Family::Gpt2;
    const bool permute = cfg.family == Family::Llama || cfg.family == Family::Granite;
    std::vector<GgufTensorSource> out;
    for (const NamedParam& p : model_params(m, "")) {
        GgufTensorSource s;
        s.hf_name = p.name;
        if (!map_name(p.name, gpt2, s.name, s.role, s.layer))
            throw ConfigError("GGUF export: no GGUF name for tensor '" + p.name + "'");
        const Tensor* t = p.tensor;
        const bool streamed = t->is_placeholder();
        if (!streamed && t->storage() != Storage::F32)
            throw ConfigError("GGUF export: '" + p.name +
                              "' is held in 16 bits; load the model with float32 weights");
        s.shape.assign(t->shape().begin(), t->shape().end());
        // A placeholder's values, from the file.
        auto streamed_values = [p, read] {
            if (!read)
                throw ConfigError("GGUF export: '" + p.name + "' has no values (not loaded)");
            return read(p);
        };
        const bool q = s.role == TensorRole::AttnQ ||
                       (s.role == TensorRole::Bias && s.name.find(".attn_q.") != std::string::npos);
        const bool k = s.role == TensorRole::AttnK ||
                       (s.role == TensorRole::Bias && s.name.find(".attn_k.") != std::string::npos);
        if (permute && (q || k)) {
            const int64_t heads = q ? cfg.n_head : cfg.n_head_kv;
            // A bias (1-D) is a column: one value per row.
            const int64_t rows = t->ndim() == 1 ? t->dim(0) : t->rows();
            const int64_t cols = t->ndim() == 1 ? 1 : t->cols();
            s.values = [t, streamed, streamed_values, rows, cols, heads] {
                if (!streamed)
                    return permute_qk_rows(t->data(), rows, cols, heads);
                const std::vector<float> v = streamed_values();
                return permute_qk_rows(v.data(), rows, cols, heads);
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
