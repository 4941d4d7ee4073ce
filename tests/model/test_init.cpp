// Random initialisation as transformers does it: N(0, 0.02) weights (GPT-2's residual
// projections scaled by 1/sqrt(2 n_layer)), zero biases, unit norms, one stream per seed.
#include "model/hf_config.h"
#include "model/init.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <cmath>

using namespace slimtune;

namespace {

const std::string kModels = std::string(SLIMTUNE_SOURCE_DIR) + "/tests/fixtures/models/";

struct Moments {
    double mean = 0, std_dev = 0;
};

Moments moments(const Tensor& t) {
    double sum = 0, sq = 0;
    const auto v = t.values();
    for (const float f : v) {
        const double x = f;
        sum += x;
        sq += x * x;
    }
    const double n = static_cast<double>(v.size());
    return {sum / n, std::sqrt(sq / n - (sum / n) * (sum / n))};
}

} // namespace

TEST_CASE("init: weights N(0, 0.02), GPT-2 residual projections scaled, norms 1, biases 0",
          "[model][unit]") {
    for (const char* fixture : {"llama_gqa", "gpt2"}) {
        INFO(fixture);
        ModelConfig cfg = read_hf_config(kModels + fixture);
        Model m = model_skeleton(cfg);
        init_random_weights(m, 7);
        const bool gpt2 = cfg.family == Family::Gpt2;
        const double residual = 0.02 / std::sqrt(2.0 * static_cast<double>(cfg.n_layer));
        for (const NamedParam& p : model_params(m)) {
            INFO(p.name);
            const Moments s = moments(*p.tensor);
            const bool norm = p.slot == ParamSlot::Norm1 || p.slot == ParamSlot::Norm2 ||
                              p.slot == ParamSlot::NormF;
            if (p.bias) {
                CHECK(s.mean == 0.0);
                CHECK(s.std_dev == 0.0);
            } else if (norm) {
                CHECK(s.mean == 1.0);
            } else {
                const bool scaled = gpt2 && (p.slot == ParamSlot::O || p.slot == ParamSlot::Down);
                const double want = scaled ? residual : 0.02;
                // The fixtures' smallest matrix has 2,048 values: the sample deviation is
                // within 5 % of sigma with overwhelming probability.
                CHECK(std::abs(s.std_dev / want - 1) < 0.05);
                CHECK(std::abs(s.mean) < 4 * want / std::sqrt(static_cast<double>(p.tensor->numel())));
            }
        }
    }
}

TEST_CASE("init: the seed names the model", "[model][unit]") {
    const ModelConfig cfg = read_hf_config(kModels + "llama_gqa");
    Model a = model_skeleton(cfg), b = model_skeleton(cfg), c = model_skeleton(cfg);
    init_random_weights(a, 1);
    init_random_weights(b, 1);
    init_random_weights(c, 2);
    const auto va = a.embed.values(), vb = b.embed.values(), vc = c.embed.values();
    CHECK(std::vector<float>(va.begin(), va.end()) == std::vector<float>(vb.begin(), vb.end()));
    CHECK(std::vector<float>(va.begin(), va.end()) != std::vector<float>(vc.begin(), vc.end()));
}
