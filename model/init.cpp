#include "model/init.h"

#include "common/rng.h"

#include <cmath>

namespace slimtune {

void init_random_weights(Model& m, uint64_t seed, float range) {
    Rng rng(seed);
    const bool gpt2 = m.cfg.family == Family::Gpt2;
    const float residual_std = range / std::sqrt(2.0f * static_cast<float>(m.cfg.n_layer));
    for (const NamedParam& p : model_params(m)) {
        Tensor& t = *p.tensor;
        const bool norm =
            p.slot == ParamSlot::Norm1 || p.slot == ParamSlot::Norm2 || p.slot == ParamSlot::NormF;
        if (p.bias) {
            t = Tensor::zeros(t.shape());
        } else if (norm) {
            t = Tensor::full(t.shape(), 1.0f);
        } else {
            const bool residual = gpt2 && (p.slot == ParamSlot::O || p.slot == ParamSlot::Down);
            const float std_dev = residual ? residual_std : range;
            std::vector<float> v(static_cast<size_t>(t.numel()));
            for (float& x : v)
                x = std_dev * rng.next_normal();
            t = Tensor::from(t.shape(), std::move(v));
        }
    }
}

} // namespace slimtune
