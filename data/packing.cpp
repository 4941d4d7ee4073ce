#include "data/packing.h"

#include "common/error.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace slimtune::data {

namespace {

void check_options(const PackingOptions& o) {
    if (o.seq_len < 2 || o.batch_size < 1)
        throw ConfigError("packing: seq_len must be >= 2 and batch_size >= 1");
}

void check_labels(std::size_t labels, std::size_t ids) {
    if (labels != 0 && labels != ids)
        throw ConfigError("packing: an example has " + std::to_string(labels) + " labels for " +
                          std::to_string(ids) + " ids");
}

} // namespace

std::size_t PackPlan::batches() const {
    const auto bs = static_cast<std::size_t>(std::max<std::int64_t>(options.batch_size, 1));
    return (rows() + bs - 1) / bs;
}

PackPlan plan_packing(std::span<const std::size_t> order,
                      const std::function<std::size_t(std::size_t)>& length_of,
                      const PackingOptions& o) {
    check_options(o);
    const auto S = static_cast<std::size_t>(o.seq_len);
    PackPlan plan;
    plan.options = o;
    PackingStats& st = plan.stats;
    std::size_t fill = 0; // tokens in the row under construction (0: no row open)
    for (const std::size_t i : order) {
        std::size_t n = length_of(i);
        if (n < 2) {
            ++st.skipped;
            continue;
        }
        if (n > S && o.drop_overlong) {
            ++st.dropped;
            continue;
        }
        if (n > S) {
            n = S;
            ++st.truncated;
        }
        // A new row when none is open, when not packing, or when the example does not fit.
        if (fill == 0 || !o.pack || fill + n > S) {
            plan.row_begin.push_back(plan.order.size());
            fill = 0;
        }
        plan.order.push_back(i);
        fill += n;
        st.tokens += static_cast<std::int64_t>(n);
    }
    if (!plan.row_begin.empty())
        plan.row_begin.push_back(plan.order.size());
    st.rows = static_cast<std::int64_t>(plan.rows());
    return plan;
}

TokenBatch make_batch(const PackPlan& plan,
                      std::size_t b,
                      const std::function<ExampleView(std::size_t)>& example) {
    const PackingOptions& o = plan.options;
    check_options(o);
    if (b >= plan.batches())
        throw Error("packing: batch " + std::to_string(b) + " of a plan with " +
                    std::to_string(plan.batches()) + " batches");
    const auto S = static_cast<std::size_t>(o.seq_len);
    const auto bs = static_cast<std::size_t>(o.batch_size);
    const std::size_t first = b * bs;
    const std::size_t n_rows = std::min(plan.rows() - first, bs);

    TokenBatch batch;
    batch.batch = static_cast<std::int64_t>(n_rows);
    batch.seq = o.seq_len;
    const std::size_t total = n_rows * S;
    batch.ids.assign(total, o.pad_id);
    batch.targets.assign(total, kIgnoreLabel);
    batch.positions.assign(total, 0);
    // Padding is its own document (-1), never attended to by real tokens.
    batch.doc_ids.assign(total, -1);
    for (std::size_t r = 0; r < n_rows; ++r) {
        const std::size_t row = first + r;
        std::size_t t = r * S; // next position of this row
        const std::size_t row_end = t + S;
        for (std::size_t k = plan.row_begin[row]; k < plan.row_begin[row + 1]; ++k) {
            const ExampleView e = example(plan.order[k]);
            check_labels(e.labels.size(), e.ids.size());
            std::size_t n = std::min(e.ids.size(), S);
            // The plan only holds indices: an example whose length changed since planning
            // would overrun its row or land in a different one.
            if (e.ids.size() < 2 || (o.drop_overlong && e.ids.size() > S) || t + n > row_end)
                throw Error("packing: example " + std::to_string(plan.order[k]) + " (" +
                            std::to_string(e.ids.size()) +
                            " tokens) does not have the length it was planned with");
            // The document id numbers packed examples across the whole plan, as pack_examples
            // always has.
            const auto doc = static_cast<std::int32_t>(k);
            const std::span<const std::int32_t> labels = e.labels.empty() ? e.ids : e.labels;
            for (std::size_t i = 0; i < n; ++i, ++t) {
                batch.ids[t] = e.ids[i];
                batch.positions[t] = static_cast<std::int32_t>(i);
                batch.doc_ids[t] = doc;
                // Position i predicts the next label of the same example; the last predicts
                // nothing.
                if (i + 1 < n) {
                    batch.targets[t] = labels[i + 1];
                    batch.counted += labels[i + 1] != kIgnoreLabel;
                }
            }
        }
    }
    return batch;
}

std::vector<TokenBatch> pack_examples(std::span<const TokenExample> examples,
                                      const PackingOptions& o,
                                      PackingStats* stats) {
    check_options(o);
    // Every example's labels are checked, skipped ones included, as before the plan/build split.
    for (const TokenExample& e : examples)
        check_labels(e.labels.size(), e.ids.size());
    std::vector<std::size_t> order(examples.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    const PackPlan plan = plan_packing(
        order, [&](std::size_t i) { return examples[i].ids.size(); }, o);
    std::vector<TokenBatch> batches;
    batches.reserve(plan.batches());
    for (std::size_t b = 0; b < plan.batches(); ++b)
        batches.push_back(make_batch(plan, b, [&](std::size_t i) {
            return ExampleView{examples[i].ids, examples[i].labels};
        }));
    if (stats)
        *stats = plan.stats;
    return batches;
}

TokenBatch example_batch(const ExampleView& example) {
    if (example.ids.size() < 2)
        return {};
    const std::size_t only = 0;
    const PackPlan plan = plan_packing(
        std::span(&only, 1), [&](std::size_t) { return example.ids.size(); },
        {.seq_len = static_cast<std::int64_t>(example.ids.size()), .batch_size = 1, .pack = false});
    return make_batch(plan, 0, [&](std::size_t) { return example; });
}

} // namespace slimtune::data
