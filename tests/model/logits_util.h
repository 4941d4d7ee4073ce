// The logits of one token sequence, for tests that compare a model with another (merged vs
// adapted, reloaded vs in memory, slimtune vs llama.cpp or PyTorch).
#pragma once

#include "model/autograd.h"
#include "model/transformer.h"

#include <cstdint>
#include <numeric>
#include <vector>

namespace slimtune::test {

// [T, vocab] row-major float32 logits of `ids` as one sequence at positions 0..T-1.
inline std::vector<float> logits_of(const Model& m, const std::vector<int32_t>& ids) {
    NoGradGuard no_grad;
    const auto T = static_cast<int64_t>(ids.size());
    std::vector<int32_t> pos(ids.size());
    std::iota(pos.begin(), pos.end(), 0);
    const Tensor l =
        model_logits(m, model_hidden(m, ids, {.batch = 1, .seq = T, .positions = pos}));
    return {l.values().begin(), l.values().end()};
}

} // namespace slimtune::test
