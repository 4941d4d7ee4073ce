// Token examples into fixed-shape training batches. An example is token ids with labels aligned
// to them (Hugging Face's convention: labels[i] is the token at i, -100 where it is not
// learned); a batch holds, per position, the id, the target it must predict (the next label of
// the same example, -100 at the end of an example and on padding), its position inside its
// example, and its example's document id, so that packed examples never attend to each other
// and positions restart at 0 for each.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace slimtune::data {

inline constexpr std::int32_t kIgnoreLabel = -100;

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

} // namespace slimtune::data
