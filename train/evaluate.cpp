#include "train/evaluate.h"

#include "common/error.h"
#include "model/autograd.h"

#include <cmath>

namespace slimtune::train {

namespace {

// Summed loss of one batch's counted targets.
double batch_loss_sum(const Model& m, const data::TokenBatch& b) {
    const TokenLayout layout{
        .batch = b.batch, .seq = b.seq, .positions = b.positions, .doc_ids = b.doc_ids};
    const Tensor h = model_hidden(m, b.ids, layout);
    return static_cast<double>(model_loss(m, h, b.targets).item()) * static_cast<double>(b.counted);
}

// Thrown to leave for_each_token_example early once max_tokens are scored.
struct EnoughTokens {};

} // namespace

double mean_loss(const Model& m, std::span<const data::TokenBatch> batches, int64_t* tokens) {
    NoGradGuard no_grad;
    double sum = 0;
    int64_t n = 0;
    for (const data::TokenBatch& b : batches) {
        if (b.counted == 0)
            continue;
        sum += batch_loss_sum(m, b);
        n += b.counted;
    }
    if (tokens)
        *tokens = n;
    return n ? sum / static_cast<double>(n) : 0.0;
}

DatasetLoss dataset_loss(const Model& m,
                         const std::string& path,
                         const data::ExampleOptions& options,
                         int64_t max_tokens) {
    NoGradGuard no_grad;
    double loss_sum = 0;
    DatasetLoss r;
    int64_t index = 0;
    try {
        data::for_each_token_example(path, options, [&](data::TokenExample&& e) {
            ++index;
            const auto T = static_cast<int64_t>(e.ids.size());
            // Every family: past max_position_embeddings a RoPE model's loss means nothing,
            // and attention's cost grows with T^2 (one 1 M-token line ran for minutes).
            if (m.cfg.max_positions > 0 && T > m.cfg.max_positions)
                throw FormatError(path + ": example " + std::to_string(index) + " has " +
                                  std::to_string(T) + " tokens, beyond the model's " +
                                  std::to_string(m.cfg.max_positions) +
                                  " positions (max_position_embeddings); split or shorten it");
            const data::TokenBatch b = data::example_batch({e.ids, e.labels});
            if (b.counted == 0)
                return; // nothing to predict
            loss_sum += batch_loss_sum(m, b);
            r.tokens += b.counted;
            ++r.examples;
            if (max_tokens > 0 && r.tokens >= max_tokens)
                throw EnoughTokens{};
        });
    } catch (const EnoughTokens&) {
    }
    if (r.tokens == 0)
        throw ConfigError(path + ": no example with a token to predict");
    r.loss = loss_sum / static_cast<double>(r.tokens);
    r.perplexity = std::exp(r.loss);
    return r;
}

} // namespace slimtune::train
