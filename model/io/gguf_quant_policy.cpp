#include "model/io/gguf_quant_policy.h"

#include "common/error.h"

#include <array>

namespace slimtune::io {

namespace {

constexpr std::array<std::pair<ExportType, const char*>, 10> kNames{{
    {ExportType::F32, "f32"},
    {ExportType::F16, "f16"},
    {ExportType::BF16, "bf16"},
    {ExportType::Q8_0, "q8_0"},
    {ExportType::Q4_0, "q4_0"},
    {ExportType::Q5_0, "q5_0"},
    {ExportType::Q4_K, "q4_k"},
    {ExportType::Q6_K, "q6_k"},
    {ExportType::Q4_K_M, "q4_k_m"},
    {ExportType::Q5_K_M, "q5_k_m"},
}};

bool is_matrix_role(TensorRole r) {
    return r != TensorRole::Norm && r != TensorRole::Bias && r != TensorRole::RopeFreqs;
}

// The shape fallback when a row is not a whole number of blocks.
GgmlType fit_row(GgmlType t, int64_t row) {
    if (row % ggml_block_size(t) == 0)
        return t;
    switch (t) {
    case GgmlType::Q4_K:
        t = GgmlType::Q5_0;
        break;
    case GgmlType::Q5_K:
        t = GgmlType::Q5_1;
        break;
    case GgmlType::Q6_K:
        t = GgmlType::Q8_0;
        break;
    default:
        return GgmlType::F16;
    }
    return row % ggml_block_size(t) == 0 ? t : GgmlType::F16;
}

GgmlType base_type(ExportType t) {
    switch (t) {
    case ExportType::Q8_0:
        return GgmlType::Q8_0;
    case ExportType::Q4_0:
        return GgmlType::Q4_0;
    case ExportType::Q5_0:
        return GgmlType::Q5_0;
    case ExportType::Q4_K:
    case ExportType::Q4_K_M:
        return GgmlType::Q4_K;
    case ExportType::Q6_K:
        return GgmlType::Q6_K;
    case ExportType::Q5_K_M:
        return GgmlType::Q5_K;
    case ExportType::F32:
        return GgmlType::F32;
    case ExportType::F16:
        return GgmlType::F16;
    case ExportType::BF16:
        return GgmlType::BF16;
    }
    return GgmlType::F32;
}

} // namespace

std::vector<std::string> export_type_names() {
    std::vector<std::string> r;
    for (const auto& [t, n] : kNames)
        r.emplace_back(n);
    return r;
}

std::string_view export_type_name(ExportType t) {
    for (const auto& [u, n] : kNames)
        if (u == t)
            return n;
    return "?";
}

ExportType parse_export_type(std::string_view name) {
    std::string known;
    for (const auto& [t, n] : kNames) {
        if (name == n)
            return t;
        known += (known.empty() ? "" : ", ") + std::string(n);
    }
    throw ConfigError("unknown export type '" + std::string(name) + "' (known: " + known + ")");
}

uint32_t llama_file_type(ExportType t) {
    switch (t) {
    case ExportType::F32:
        return 0;
    case ExportType::F16:
        return 1;
    case ExportType::BF16:
        return 32;
    case ExportType::Q8_0:
        return 7;
    case ExportType::Q4_0:
        return 2;
    case ExportType::Q5_0:
        return 8;
    case ExportType::Q4_K:
        return 14;
    case ExportType::Q6_K:
        return 18;
    case ExportType::Q4_K_M:
        return 15;
    case ExportType::Q5_K_M:
        return 17;
    }
    return 0;
}

bool use_more_bits(int64_t i, int64_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

std::vector<GgmlType> gguf_tensor_types(ExportType t, const std::vector<GgufTensorSource>& src) {
    bool has_output = false;
    int64_t n_layer = 0, n_attn_v = 0;
    for (const GgufTensorSource& s : src) {
        has_output |= s.role == TensorRole::Output;
        n_layer = std::max(n_layer, s.layer + 1);
        n_attn_v += s.role == TensorRole::AttnV || s.role == TensorRole::AttnQkv;
    }
    const bool quantized = t != ExportType::F32 && t != ExportType::F16 && t != ExportType::BF16;
    const bool mixed = t == ExportType::Q4_K_M || t == ExportType::Q5_K_M;
    std::vector<GgmlType> out;
    int64_t i_attn_v = 0;
    for (const GgufTensorSource& s : src) {
        if (!is_matrix_role(s.role) || s.shape.size() < 2) {
            out.push_back(GgmlType::F32);
            continue;
        }
        const int64_t row = s.shape.back();
        if (!quantized) {
            out.push_back(base_type(t));
            continue;
        }
        if (s.role == TensorRole::PosEmbd) {
            // llama-quantize never quantizes position embeddings: they stay as the input has
            // them (F32 from an F32 file).
            out.push_back(GgmlType::F32);
            continue;
        }
        GgmlType g = base_type(t);
        const bool head =
            s.role == TensorRole::Output || (s.role == TensorRole::TokenEmbd && !has_output);
        if (head && t != ExportType::Q4_K) { // --pure (q4_k) has no output rule either
            g = t == ExportType::Q8_0 || row % 256 != 0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
        } else if (mixed && (s.role == TensorRole::AttnV || s.role == TensorRole::AttnQkv)) {
            if (use_more_bits(i_attn_v, n_attn_v))
                g = GgmlType::Q6_K;
            ++i_attn_v;
        } else if (mixed && s.role == TensorRole::FfnDown && use_more_bits(s.layer, n_layer)) {
            g = GgmlType::Q6_K;
        }
        out.push_back(fit_row(g, row));
    }
    return out;
}

} // namespace slimtune::io
