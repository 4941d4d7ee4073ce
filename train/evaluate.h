// Evaluation, the one loop of it: the mean next-token loss of batches under a model (no
// gradient, no dropout), used by the trainer's periodic evaluation, `slimtune eval` and the
// model card's perplexity column. Targets come shifted from data/packing (position t predicts
// label t + 1), so the label shift is written once, there.
#pragma once

#include "data/examples.h"
#include "data/packing.h"
#include "model/transformer.h"

#include <cstdint>
#include <span>
#include <string>

namespace slimtune::train {

// Mean loss over the counted targets of `batches`; `tokens` receives their number (0 -> 0.0).
double mean_loss(const Model& m, std::span<const data::TokenBatch> batches, int64_t* tokens);

struct DatasetLoss {
    double loss = 0.0;       // mean over scored tokens (natural log)
    double perplexity = 0.0; // exp(loss)
    int64_t tokens = 0, examples = 0;
};

// Scores every example of `path`, read exactly as training reads it (data/examples.h), each
// as a batch of its own (labels -100 and the examples' masks are not scored); with
// max_tokens > 0 stops after the example that reaches that many scored tokens. FormatError for
// an example longer than GPT-2's positions; ConfigError when nothing could be scored.
DatasetLoss dataset_loss(const Model& m,
                         const std::string& path,
                         const data::ExampleOptions& options,
                         int64_t max_tokens = 0);

} // namespace slimtune::train
