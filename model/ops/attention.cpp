// rope and attention ops: positions and the fused causal self-attention.
#include "model/kernels/attention.h"

#include "model/kernels/rope.h"
#include "model/ops/op_util.h"
#include "model/ops/ops.h"

#include <cmath>

namespace slimtune {

using namespace ops_detail;

std::vector<double> rope_inv_freq(int64_t rotary_dim, double theta) {
    require(rotary_dim > 0 && rotary_dim % 2 == 0,
            "rope: rotary_dim must be positive and even, got " + std::to_string(rotary_dim));
    require(theta > 0, "rope: theta must be positive");
    std::vector<double> f(static_cast<size_t>(rotary_dim / 2));
    for (size_t i = 0; i < f.size(); ++i)
        f[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(rotary_dim));
    return f;
}

Tensor rope(const Tensor& x, std::span<const int32_t> positions, std::span<const double> inv_freq) {
    require_defined(x, "rope", "x");
    require(x.ndim() == 3 || x.ndim() == 4,
            "rope: expected x [B, T, H, D] or [N, H, D], got " + desc("x", x));
    const int64_t head_dim = x.dim(-1), n_head = x.dim(-2);
    const int64_t n_tok = x.numel() / (head_dim * n_head);
    const int64_t half = static_cast<int64_t>(inv_freq.size());
    require(static_cast<int64_t>(positions.size()) == n_tok,
            "rope: " + std::to_string(positions.size()) + " positions for " +
                std::to_string(n_tok) + " tokens of " + desc("x", x));
    require(half > 0 && 2 * half <= head_dim, "rope: rotary dim " + std::to_string(2 * half) +
                                                  " exceeds head dim " + std::to_string(head_dim));
    std::vector<float> cos(static_cast<size_t>(n_tok * half)), sin(cos.size());
    kernels::rope_table(positions.data(), n_tok, inv_freq.data(), half, cos.data(), sin.data());
    Tensor y = Tensor::zeros(x.shape());
    kernels::rope_fwd(x.data(), y.data(), cos.data(), sin.data(), n_tok, n_head, head_dim, half);
    if (should_record({&x}))
        record("rope", y,
               [x, y, cos = std::move(cos), sin = std::move(sin), n_tok, n_head, head_dim, half] {
                   kernels::rope_bwd(y.grad(), x.grad(), cos.data(), sin.data(), n_tok, n_head,
                                     head_dim, half);
               });
    return y;
}

// First visible key of every query: the start of its document run (0 without doc ids),
// moved up by a sliding window. Query i sits at key position i + offset. Rejects doc ids
// whose documents are not contiguous runs.
static std::vector<int32_t> key_starts(
    int64_t batch, int64_t seq, std::span<const int32_t> doc, int64_t window, int64_t offset) {
    std::vector<int32_t> ks(static_cast<size_t>(batch * seq), 0);
    for (int64_t b = 0; b < batch; ++b) {
        int64_t run_start = 0;
        for (int64_t i = 0; i < seq; ++i) {
            const size_t at = static_cast<size_t>(b * seq + i);
            if (!doc.empty() && i > 0 && doc[at] != doc[at - 1]) {
                for (int64_t j = 0; j < run_start; ++j) // a document must not resume later
                    require(doc[static_cast<size_t>(b * seq + j)] != doc[at],
                            "attention: document id " + std::to_string(doc[at]) +
                                " appears in two separate runs of sequence " + std::to_string(b) +
                                " (pack each document contiguously)");
                run_start = i;
            }
            int64_t s = run_start;
            if (window > 0)
                s = std::max<int64_t>(s, i + offset - window + 1);
            ks[at] = static_cast<int32_t>(s);
        }
    }
    return ks;
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opts) {
    require_defined(q, "attention", "q");
    require_defined(k, "attention", "k");
    require_defined(v, "attention", "v");
    require(q.ndim() == 4 && k.ndim() == 4 && k.shape() == v.shape(),
            "attention: expected q [B, T, Hq, D] and k, v [B, T, Hkv, D], got " + desc("q", q) +
                ", " + desc("k", k) + ", " + desc("v", v));
    const kernels::AttentionDims d{q.dim(0), q.dim(1), q.dim(2),      k.dim(2),
                                   q.dim(3), k.dim(1), opts.q_offset, opts.softcap};
    require(k.dim(0) == d.batch && k.dim(3) == d.head_dim && d.n_head_kv > 0 &&
                d.n_head % d.n_head_kv == 0,
            "attention: " + desc("q", q) + " and " + desc("k", k) +
                " disagree (batch and head dim must match; Hq a multiple of Hkv)");
    // Without a cache keys and queries are the same positions; with one (q_offset, or a longer
    // cache buffer) the keys must reach past the last query, and nothing may be recorded.
    require(opts.q_offset >= 0 && k.dim(1) >= opts.q_offset + d.seq,
            "attention: keys of " + desc("k", k) + " do not cover " + std::to_string(d.seq) +
                " queries at offset " + std::to_string(opts.q_offset));
    const bool cached = opts.q_offset > 0 || k.dim(1) != d.seq;
    require(!cached || !should_record({&q, &k, &v}),
            "attention: a KV-cache call (q_offset or longer keys) is inference only; use "
            "NoGradGuard");
    require(!cached || opts.doc_ids.empty(), "attention: doc_ids cannot be used with a KV cache");
    require(opts.doc_ids.empty() || static_cast<int64_t>(opts.doc_ids.size()) == d.batch * d.seq,
            "attention: " + std::to_string(opts.doc_ids.size()) + " document ids for " +
                std::to_string(d.batch * d.seq) + " tokens");
    require(opts.window >= 0, "attention: negative window");
    require(opts.softcap >= 0, "attention: negative softcap");
    const float sc =
        opts.scale != 0.0f ? opts.scale : 1.0f / std::sqrt(static_cast<float>(d.head_dim));
    std::vector<int32_t> ks = key_starts(d.batch, d.seq, opts.doc_ids, opts.window, opts.q_offset);
    Tensor out = Tensor::zeros(q.shape());
    std::vector<float> lse(static_cast<size_t>(d.batch * d.n_head * d.seq));
    kernels::attention_fwd(q.data(), k.data(), v.data(), ks.data(), out.data(), lse.data(), d, sc);
    if (should_record({&q, &k, &v}))
        record("attention", out, [q, k, v, out, ks = std::move(ks), lse = std::move(lse), d, sc] {
            kernels::attention_bwd(q.data(), k.data(), v.data(), ks.data(), out.data(), lse.data(),
                                   out.grad(), grad_or_null(q), grad_or_null(k), grad_or_null(v), d,
                                   sc);
        });
    return out;
}

} // namespace slimtune
