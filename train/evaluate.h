// Mean next-token loss of a JSONL dataset under a model, read exactly as training reads it
// (data/examples.h): what `slimtune eval` prints and the model card's perplexity column.
#pragma once

#include "data/examples.h"
#include "model/transformer.h"

#include <cstdint>
#include <string>

namespace slimtune::train {

struct DatasetLoss {
    double loss = 0.0;       // mean over scored tokens (natural log)
    double perplexity = 0.0; // exp(loss)
    int64_t tokens = 0, examples = 0;
};

// Scores every example of `path` (labels -100 and the examples' masks are not scored); with
// max_tokens > 0 stops after the example that reaches that many scored tokens. FormatError for
// an example longer than GPT-2's positions; ConfigError when nothing could be scored.
DatasetLoss dataset_loss(const Model& m,
                         const std::string& path,
                         const data::ExampleOptions& options,
                         int64_t max_tokens = 0);

} // namespace slimtune::train
