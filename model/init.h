// Random initialisation of a new model, as transformers' _init_weights does it for the supported
// families: what `slimtune init` writes before pretraining from scratch.
#pragma once

#include "model/transformer.h"

#include <cstdint>

namespace slimtune {

// transformers' default initializer_range.
inline constexpr float kInitializerRange = 0.02f;

// Gives every parameter of `m` (a model_skeleton) memory and a value: linear and embedding
// weights N(0, range), GPT-2's residual projections (attn.c_proj, mlp.c_proj) N(0, range /
// sqrt(2 * n_layer)) as GPT-2 initialises them, biases 0, norm weights 1. The draws come from one
// stream seeded by `seed` in parameter order, so a seed names one model.
void init_random_weights(Model& m, uint64_t seed, float range = kInitializerRange);

} // namespace slimtune
