#include "train/evaluate.h"

#include "common/error.h"
#include "model/autograd.h"
#include "model/kernels/softmax_xent.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace slimtune::train {

namespace {

// Thrown to leave for_each_token_example early once max_tokens are scored.
struct EnoughTokens {};

} // namespace

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
            const std::vector<int32_t>& ids = e.ids;
            const std::vector<int32_t>& labels = e.labels.empty() ? e.ids : e.labels;
            const auto T = static_cast<int64_t>(ids.size());
            if (T < 2)
                return; // nothing to predict
            if (m.cfg.family == Family::Gpt2 && T > m.cfg.max_positions)
                throw FormatError(path + ": example " + std::to_string(index) + " has " +
                                  std::to_string(T) + " tokens, beyond the model's " +
                                  std::to_string(m.cfg.max_positions) + " positions");
            // Position t predicts token t + 1.
            std::vector<int32_t> targets(labels.begin() + 1, labels.end());
            targets.push_back(kernels::kIgnoreIndex);
            const auto counted =
                static_cast<int64_t>(std::count_if(targets.begin(), targets.end(), [](int32_t t) {
                    return t != kernels::kIgnoreIndex;
                }));
            if (counted == 0)
                return;
            std::vector<int32_t> pos(static_cast<size_t>(T));
            std::iota(pos.begin(), pos.end(), 0);
            const Tensor h =
                model_hidden(m, ids, {.batch = 1, .seq = T, .positions = pos, .doc_ids = {}});
            loss_sum += static_cast<double>(model_loss(m, h, targets).item()) *
                        static_cast<double>(counted);
            r.tokens += counted;
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
