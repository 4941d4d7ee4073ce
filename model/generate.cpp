#include "model/generate.h"

#include "common/error.h"
#include "model/autograd.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace slimtune {

void check_sampling_options(const SamplingOptions& o) {
    if (o.max_new_tokens < 0)
        throw ConfigError("generate: max_new_tokens must be >= 0");
    if (!(o.temperature >= 0))
        throw ConfigError("generate: temperature must be >= 0 (0 is greedy)");
    if (o.top_k < 0)
        throw ConfigError("generate: top_k must be >= 0 (0 is off)");
    if (!(o.top_p > 0 && o.top_p <= 1))
        throw ConfigError("generate: top_p must be in (0, 1]");
    if (!(o.repetition_penalty > 0))
        throw ConfigError("generate: repetition_penalty must be > 0");
}

int32_t sample_next(std::span<float> z,
                    std::span<const int32_t> history,
                    const SamplingOptions& o,
                    Rng& rng) {
    const int64_t V = static_cast<int64_t>(z.size());
    if (o.repetition_penalty != 1.0f) { // CTRL's rule, once per distinct token
        std::vector<int32_t> seen(history.begin(), history.end());
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (int32_t t : seen)
            if (t >= 0 && t < V) {
                float& v = z[static_cast<size_t>(t)];
                v = v > 0 ? v / o.repetition_penalty : v * o.repetition_penalty;
            }
    }
    if (o.temperature == 0.0f) // greedy: the first maximum, as argmax
        return static_cast<int32_t>(std::max_element(z.begin(), z.end()) - z.begin());

    for (float& v : z)
        v /= o.temperature;
    std::vector<int32_t> order(static_cast<size_t>(V));
    std::iota(order.begin(), order.end(), 0);
    // Descending logits, ties by id, so the candidate set is deterministic.
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return z[static_cast<size_t>(a)] > z[static_cast<size_t>(b)];
    });
    size_t keep = order.size();
    if (o.top_k > 0)
        keep = std::min(keep, static_cast<size_t>(o.top_k));
    const double zmax = z[static_cast<size_t>(order[0])];
    std::vector<double> p(keep);
    double total = 0;
    for (size_t i = 0; i < keep; ++i)
        total += p[i] = std::exp(static_cast<double>(z[static_cast<size_t>(order[i])]) - zmax);
    if (o.top_p < 1.0f) { // smallest prefix whose mass reaches top_p (at least one token)
        double mass = 0;
        size_t n = 0;
        while (n < keep && mass < static_cast<double>(o.top_p) * total)
            mass += p[n++];
        keep = std::max<size_t>(n, 1);
        total = 0;
        for (size_t i = 0; i < keep; ++i)
            total += p[i];
    }
    const double u = static_cast<double>(rng.next_uniform()) * total;
    double acc = 0;
    for (size_t i = 0; i < keep; ++i) {
        acc += p[i];
        if (u < acc)
            return order[i];
    }
    return order[keep - 1];
}

std::vector<int32_t> generate(const Model& m,
                              std::span<const int32_t> prompt,
                              const SamplingOptions& o,
                              const TokenCallback& on_token) {
    check_sampling_options(o);
    if (prompt.empty())
        throw ConfigError("generate: the prompt has no tokens");
    const int64_t total = static_cast<int64_t>(prompt.size()) + o.max_new_tokens;
    // The KV cache is allocated for the whole run up front: refuse lengths that cannot fit
    // rather than fail inside the allocator.
    constexpr int64_t kMaxTokens = int64_t{1} << 20;
    if (total > kMaxTokens)
        throw ConfigError("generate: prompt plus max_new_tokens (" + std::to_string(total) +
                          ") exceeds " + std::to_string(kMaxTokens) + " tokens");
    if (m.cfg.family == Family::Gpt2 && total > m.cfg.max_positions)
        throw ConfigError("generate: prompt plus max_new_tokens (" + std::to_string(total) +
                          ") exceeds the model's " + std::to_string(m.cfg.max_positions) +
                          " positions");
    NoGradGuard no_grad;
    Rng rng(o.seed);
    std::vector<int32_t> seq(prompt.begin(), prompt.end()), out;
    std::vector<KvCache> caches;
    if (o.use_cache)
        caches = model_caches(m, total);
    int64_t fed = 0; // tokens already in the caches
    while (static_cast<int64_t>(out.size()) < o.max_new_tokens) {
        // With a cache only the new tokens go through the model; otherwise all of them.
        const int64_t start = o.use_cache ? fed : 0;
        const int64_t n = static_cast<int64_t>(seq.size()) - start;
        std::vector<int32_t> pos(static_cast<size_t>(n));
        std::iota(pos.begin(), pos.end(), static_cast<int32_t>(start));
        const std::span<const int32_t> ids(seq.data() + start, static_cast<size_t>(n));
        Tensor h = model_hidden(m, ids, {.batch = 1, .seq = n, .positions = pos, .doc_ids = {}},
                                o.use_cache ? &caches : nullptr);
        fed = static_cast<int64_t>(seq.size());
        Tensor logits = model_last_logits(m, h);
        const int32_t next = sample_next(logits.values(), seq, o, rng);
        out.push_back(next);
        seq.push_back(next);
        if (on_token)
            on_token(next);
        if (std::find(o.stop_ids.begin(), o.stop_ids.end(), next) != o.stop_ids.end())
            break;
    }
    return out;
}

} // namespace slimtune
