#include "model/io/gguf_model.h"

#include "common/error.h"
#include "common/text.h"
#include "model/io/checkpoint.h"
#include "model/io/ggml_quants.h"
#include "model/io/gguf_metadata.h"
#include "model/io/gguf_tensors.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace slimtune::io {

namespace {

std::vector<float> dequantized(const GgufFile& f, const GgufTensorInfo& t, GgmlType type) {
    int64_t rows = 1;
    for (size_t i = 1; i < t.ne.size(); ++i)
        rows *= t.ne[i];
    const int64_t row = t.ne.empty() ? 1 : t.ne[0];
    std::vector<float> v(static_cast<size_t>(rows * row));
    dequantize_rows(type, f.tensor_data(t).data(), v.data(), rows, row);
    return v;
}

// The PyTorch shape of a tensor info (ggml lists the row length first).
Shape torch_shape(const GgufTensorInfo& t) {
    return {t.ne.rbegin(), t.ne.rend()};
}

} // namespace

bool is_gguf_path(const std::string& path) {
    if (path.size() < 5)
        return false;
    std::string ext = path.substr(path.size() - 5);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".gguf";
}

Model load_gguf_model(const GgufFile& f) {
    Model m = model_skeleton(gguf_model_config(f));
    // Placeholders are enough: the sources' values are lazy and never asked for here, except
    // rope_freqs, which is computed from the config.
    const std::vector<GgufTensorSource> sources = gguf_tensor_sources(m);
    std::map<std::string, Tensor*> params;
    for (const NamedParam& p : model_params(m, ""))
        params[p.name] = p.tensor;

    std::set<std::string> expected;
    TensorMismatch mismatch;
    for (const GgufTensorSource& s : sources) {
        expected.insert(s.name);
        const GgufTensorInfo* t = f.find_tensor(s.name);
        if (!t)
            mismatch.missing.push_back(s.name);
        else if (torch_shape(*t) != s.shape)
            mismatch.wrong_shape(s.name, torch_shape(*t), s.shape);
        else if (!ggml_type_from_id(t->type)) {
            const GgufTypeLayout* l = gguf_type_layout(t->type);
            mismatch.unreadable.push_back(
                s.name + " (" + (l ? std::string(l->name) : std::to_string(t->type)) + ")");
        }
    }
    for (const GgufTensorInfo& t : f.tensors())
        if (!expected.count(t.name))
            mismatch.unexpected.push_back(t.name);
    if (const std::string problems = mismatch.problems(); !problems.empty())
        throw FormatError(f.path() + ": tensors do not match a " + m.cfg.model_type +
                          " model of this config" + problems);

    for (const GgufTensorSource& s : sources) {
        const GgufTensorInfo& t = *f.find_tensor(s.name);
        std::vector<float> v = dequantized(f, t, *ggml_type_from_id(t.type));
        require_finite_weights(v, f.path(), s.name);
        if (s.role == TensorRole::RopeFreqs) {
            // Not a parameter: the model recomputes these factors from the config, so the
            // tensor only has to agree with the keys it was rebuilt from.
            const std::vector<float> want = s.values();
            for (size_t i = 0; i < v.size(); ++i)
                if (!(std::abs(v[i] - want[i]) <= 1e-5f * std::max(1.0f, std::abs(want[i]))))
                    throw FormatError(f.path() + ": rope_freqs.weight[" + std::to_string(i) +
                                      "] is " + std::to_string(v[i]) + " but the " +
                                      std::string(kLlama3RopeKeys) + "* keys give " +
                                      std::to_string(want[i]));
            continue;
        }
        if (const int64_t heads = s.permuted_heads)
            v = unpermute_qk_rows(v.data(), s.shape[0], s.shape.size() == 2 ? s.shape[1] : 1,
                                  heads);
        if (s.factor != 1.0f || s.offset != 0.0f) // Gemma's norm offset and query scale
            for (float& x : v)
                x = (x - s.offset) / s.factor;
        Tensor* p = params.at(s.hf_name);
        *p = Tensor::from(p->shape(), std::move(v));
    }
    return m;
}

Model load_gguf_model(const std::string& path) {
    return load_gguf_model(GgufFile::open(path));
}

} // namespace slimtune::io
