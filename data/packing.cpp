#include "data/packing.h"

#include "common/error.h"

#include <algorithm>

namespace slimtune::data {

std::vector<TokenBatch> pack_examples(std::span<const TokenExample> examples,
                                      const PackingOptions& o,
                                      PackingStats* stats) {
    if (o.seq_len < 2 || o.batch_size < 1)
        throw ConfigError("packing: seq_len must be >= 2 and batch_size >= 1");
    PackingStats st;
    const auto S = static_cast<std::size_t>(o.seq_len);
    // One row under construction: ids, labels (aligned) and the example index of each position.
    struct Row {
        std::vector<std::int32_t> ids, labels, positions, doc;
    };
    std::vector<Row> rows;
    Row row;
    auto flush = [&] {
        if (!row.ids.empty())
            rows.push_back(std::move(row));
        row = Row{};
    };
    std::int32_t doc = 0;
    for (const TokenExample& e : examples) {
        if (!e.labels.empty() && e.labels.size() != e.ids.size())
            throw ConfigError("packing: an example has " + std::to_string(e.labels.size()) +
                              " labels for " + std::to_string(e.ids.size()) + " ids");
        if (e.ids.size() < 2) {
            ++st.skipped;
            continue;
        }
        std::size_t n = e.ids.size();
        if (n > S && o.drop_overlong) {
            ++st.dropped;
            continue;
        }
        if (n > S) {
            n = S;
            ++st.truncated;
        }
        if (!o.pack || row.ids.size() + n > S)
            flush();
        for (std::size_t i = 0; i < n; ++i) {
            row.ids.push_back(e.ids[i]);
            row.labels.push_back(e.labels.empty() ? e.ids[i] : e.labels[i]);
            row.positions.push_back(static_cast<std::int32_t>(i));
            row.doc.push_back(doc);
        }
        ++doc;
        st.tokens += static_cast<std::int64_t>(n);
    }
    flush();
    st.rows = static_cast<std::int64_t>(rows.size());

    std::vector<TokenBatch> batches;
    for (std::size_t first = 0; first < rows.size();
         first += static_cast<std::size_t>(o.batch_size)) {
        const std::size_t n_rows =
            std::min(rows.size() - first, static_cast<std::size_t>(o.batch_size));
        TokenBatch b;
        b.batch = static_cast<std::int64_t>(n_rows);
        b.seq = o.seq_len;
        const std::size_t total = n_rows * S;
        b.ids.assign(total, o.pad_id);
        b.targets.assign(total, kIgnoreLabel);
        b.positions.assign(total, 0);
        b.doc_ids.assign(total, 0);
        for (std::size_t r = 0; r < n_rows; ++r) {
            const Row& row_r = rows[first + r];
            const std::size_t base = r * S;
            for (std::size_t t = 0; t < S; ++t) {
                if (t < row_r.ids.size()) {
                    b.ids[base + t] = row_r.ids[t];
                    b.positions[base + t] = row_r.positions[t];
                    b.doc_ids[base + t] = row_r.doc[t];
                    // Position t predicts the next label of the same example.
                    if (t + 1 < row_r.ids.size() && row_r.doc[t + 1] == row_r.doc[t])
                        b.targets[base + t] = row_r.labels[t + 1];
                } else {
                    // Padding: its own document (never attended to by real tokens).
                    b.doc_ids[base + t] = -1;
                }
                b.counted += b.targets[base + t] != kIgnoreLabel;
            }
        }
        batches.push_back(std::move(b));
    }
    if (stats)
        *stats = st;
    return batches;
}

} // namespace slimtune::data
