#include "model/io/gguf_quant_policy.h"

#include <algorithm>

namespace slimtune::io {

namespace {

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

} // namespace

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
    const ExportTypeTraits& traits = export_type_traits(t);
    std::vector<GgmlType> out;
    int64_t i_attn_v = 0;
    for (const GgufTensorSource& s : src) {
        if (!is_matrix_role(s.role) || s.shape.size() < 2) {
            out.push_back(GgmlType::F32);
            continue;
        }
        const int64_t row = s.shape.back();
        if (!traits.quantized) {
            out.push_back(traits.base);
            continue;
        }
        if (s.role == TensorRole::PosEmbd) {
            // llama-quantize never quantizes position embeddings: they stay as the input has
            // them (F32 from an F32 file).
            out.push_back(GgmlType::F32);
            continue;
        }
        GgmlType g = traits.base;
        const bool head =
            s.role == TensorRole::Output || (s.role == TensorRole::TokenEmbd && !has_output);
        if (head && traits.head_rule) {
            g = traits.base == GgmlType::Q8_0 || row % 256 != 0 ? GgmlType::Q8_0 : GgmlType::Q6_K;
        } else if (traits.mixed && (s.role == TensorRole::AttnV || s.role == TensorRole::AttnQkv)) {
            if (use_more_bits(i_attn_v, n_attn_v))
                g = GgmlType::Q6_K;
            ++i_attn_v;
        } else if (traits.mixed && s.role == TensorRole::FfnDown &&
                   use_more_bits(s.layer, n_layer)) {
            g = GgmlType::Q6_K;
        }
        out.push_back(fit_row(g, row));
    }
    return out;
}

} // namespace slimtune::io
