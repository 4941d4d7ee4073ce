// Token examples into fixed-shape training batches. An example is token ids with labels aligned
// to them (Hugging Face's convention: labels[i] is the token at i, -100 where it is not
// learned); a batch holds, per position, the id, the target it must predict (the next label of
// the same example, -100 at the end of an example and on padding), its position inside its
// example, and its example's document id, so that packed examples never attend to each other
// and positions restart at 0 for each.
#pragma once

#include "common/labels.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace slimtune::data {

using ::slimtune::kIgnoreLabel;

struct TokenExample {
    std::vector<std::int32_t> ids;
    std::vector<std::int32_t> labels; // same length as ids; empty means "learn every token"
};

struct TokenBatch {
    std::int64_t batch = 0, seq = 0;
    std::vector<std::int32_t> ids, targets, positions, doc_ids; // each batch * seq long
    std::int64_t counted = 0;                                   // targets that are not -100
};

struct PackingOptions {
    std::int64_t seq_len = 512;
    std::int64_t batch_size = 4;
    bool pack = true;           // several examples per row (else one per row, padded)
    bool drop_overlong = false; // an example longer than seq_len: dropped (else truncated)
    std::int32_t pad_id = 0;    // id of padding positions (never a target)
};

// Rows in example order: with packing, examples are appended to the current row while they
// fit and a new row starts otherwise; an example longer than seq_len is cut to seq_len
// (`truncated` counts them) or, with drop_overlong, left out (`dropped`). Rows are grouped into
// batches of batch_size (the last batch may be smaller). Examples with fewer than 2 tokens cannot
// teach anything and are skipped
// (`skipped`).
struct PackingStats {
    std::int64_t truncated = 0, dropped = 0, skipped = 0, rows = 0, tokens = 0;
};
std::vector<TokenBatch> pack_examples(std::span<const TokenExample> examples,
                                      const PackingOptions& options,
                                      PackingStats* stats = nullptr);

// The same packing in two steps, so that an epoch need not be built up front: a plan (which
// examples go to which row, from their lengths alone) and then any one batch on demand, reading
// its examples from wherever they live (a TokenStore, a vector). pack_examples is exactly
// plan_packing over 0..n-1 followed by make_batch for every batch.
//
// Rows are runs of `order` (packing appends examples in order), so a plan is the order plus row
// boundaries: 8 bytes per example and per row. An example's document id is its index in `order`
// (as pack_examples numbers packed examples across the whole call).
struct PackPlan {
    std::vector<std::size_t> order; // example indices in packing order (skipped/dropped removed)
    std::vector<std::size_t> row_begin; // row r holds order[row_begin[r] .. row_begin[r+1]); rows+1
    PackingStats stats;
    PackingOptions options;
    std::size_t rows() const { return row_begin.empty() ? 0 : row_begin.size() - 1; }
    std::size_t batches() const; // ceil(rows / batch_size)
};

// `length_of(i)` gives example i's token count; examples under 2 tokens are skipped and
// over-long ones truncated or dropped as in pack_examples. ConfigError for bad options.
PackPlan plan_packing(std::span<const std::size_t> order,
                      const std::function<std::size_t(std::size_t)>& length_of,
                      const PackingOptions& options);

// An example's tokens as make_batch reads them: labels empty (learn every token) or as long as ids.
struct ExampleView {
    std::span<const std::int32_t> ids, labels;
};

// Batch b (< plan.batches()) of the plan; `example(i)` returns example i, which must still have
// the length it was planned with. ConfigError for a labels/ids length mismatch; Error when an
// example no longer fits the row it was planned into.
TokenBatch make_batch(const PackPlan& plan,
                      std::size_t b,
                      const std::function<ExampleView(std::size_t)>& example);

// One example alone as a one-row batch of its own length (no padding, nothing cut): what
// evaluation of a dataset example by example scores. Examples under 2 tokens give an empty
// batch (batch = 0).
TokenBatch example_batch(const ExampleView& example);

} // namespace slimtune::data
