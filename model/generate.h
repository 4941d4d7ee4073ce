// Text generation from a loaded model: greedy or sampled (temperature, top-k, top-p), with a
// repetition penalty, stopping at EOS ids. Processing order follows transformers' logits
// processors: repetition penalty, temperature, top-k, top-p, then sample.
#pragma once

#include "model/transformer.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace slimtune {

struct SamplingOptions {
    int64_t max_new_tokens = 32;
    float temperature = 0.0f;        // 0: greedy (argmax)
    int64_t top_k = 0;               // 0: off
    float top_p = 1.0f;              // 1: off
    float repetition_penalty = 1.0f; // 1: off; > 1 discourages tokens already present
    uint64_t seed = 0;
    std::vector<int32_t> stop_ids; // generation ends after emitting one of these
    bool use_cache = true;         // false recomputes the whole sequence at every step
};

// Picks the next token from one row of logits (modified in place). `history` holds every token
// so far (for the repetition penalty).
int32_t sample_next(std::span<float> logits,
                    std::span<const int32_t> history,
                    const SamplingOptions& opts,
                    Rng& rng);

// Called with each token as soon as it is sampled (a streaming printer).
using TokenCallback = std::function<void(int32_t)>;

// The tokens generated after `prompt` (the prompt itself not included); `on_token`, when set,
// sees each of them as it comes.
std::vector<int32_t> generate(const Model& m,
                              std::span<const int32_t> prompt,
                              const SamplingOptions& opts,
                              const TokenCallback& on_token = {});

// Checks option ranges (ConfigError naming the option).
void check_sampling_options(const SamplingOptions& opts);

} // namespace slimtune
