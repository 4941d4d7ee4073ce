// Cross-entropy losses: on full logits, and fused with the output projection.
#include "model/kernels/gemm.h"
#include "model/kernels/parallel.h"
#include "model/kernels/softmax_xent.h"
#include "model/ops/op_util.h"
#include "model/ops/ops.h"

#include <algorithm>

namespace slimtune {

using namespace ops_detail;

namespace {

struct LossSetup {
    int64_t counted = 0;
    double denom = 0; // what the summed row losses are divided by (0: nothing counted)
};

LossSetup check_targets(const char* op,
                        std::span<const int32_t> targets,
                        int64_t rows,
                        int64_t vocab,
                        const CrossEntropyOptions& opts) {
    require(static_cast<int64_t>(targets.size()) == rows,
            std::string(op) + ": " + std::to_string(targets.size()) + " targets for " +
                std::to_string(rows) + " rows");
    require(opts.normalizer >= 0, std::string(op) + ": negative normalizer");
    require(opts.softcap >= 0, std::string(op) + ": negative softcap");
    LossSetup s;
    for (size_t i = 0; i < targets.size(); ++i) {
        const int32_t t = targets[i];
        if (t == kIgnoreLabel)
            continue;
        require(t >= 0 && t < vocab, std::string(op) + ": target " + std::to_string(t) +
                                         " at row " + std::to_string(i) +
                                         " is outside the vocabulary [0, " + std::to_string(vocab) +
                                         ") and is not -100");
        ++s.counted;
    }
    s.denom = opts.normalizer > 0 ? opts.normalizer : static_cast<double>(s.counted);
    return s;
}

// grad(t) += up * g. The usual case (the loss is the root, up = 1, and nothing has written
// t's gradient yet: the head is replayed first) hands g over as the gradient, which saves a
// pass over it and a second buffer of its size (the vocab x dim head gradient in full tuning).
void accumulate_grad(const Tensor& t, std::vector<float>& g, float up) {
    if (up == 1.0f && !t.has_grad()) {
        t.impl()->grad = std::move(g);
        return;
    }
    float* dst = t.grad();
    const int64_t n = static_cast<int64_t>(g.size());
#pragma omp parallel for schedule(static) if (n > kernels::kParallelMinWork)
    for (int64_t i = 0; i < n; ++i)
        dst[i] += up * g[static_cast<size_t>(i)];
}

float mean_loss(const std::vector<float>& row_loss, const LossSetup& s) {
    if (s.denom == 0)
        return 0.0f;
    double total = 0;
    for (float l : row_loss) // in row order: the same bits for any thread count
        total += static_cast<double>(l);
    return static_cast<float>(total / s.denom);
}

} // namespace

Tensor cross_entropy(const Tensor& logits,
                     std::span<const int32_t> targets,
                     const CrossEntropyOptions& opts) {
    require_defined(logits, "cross_entropy", "logits");
    require(logits.ndim() == 2,
            "cross_entropy: expected logits [N, V], got " + desc("logits", logits));
    const int64_t rows = logits.dim(0), vocab = logits.dim(1);
    const LossSetup s = check_targets("cross_entropy", targets, rows, vocab, opts);
    std::vector<float> row_loss(static_cast<size_t>(rows)), lse(static_cast<size_t>(rows));
    kernels::softmax_xent_fwd(logits.data(), targets.data(), row_loss.data(), lse.data(), rows,
                              vocab, opts.logit_scale, opts.softcap);
    Tensor y = Tensor::full({}, mean_loss(row_loss, s));
    if (should_record({&logits}) && s.denom > 0)
        record("cross_entropy", y,
               [logits, y, t = std::vector<int32_t>(targets.begin(), targets.end()),
                lse = std::move(lse), rows, vocab, s, ls = opts.logit_scale, cap = opts.softcap] {
                   const float g = static_cast<float>(static_cast<double>(y.grad()[0]) / s.denom);
                   kernels::softmax_xent_bwd(logits.data(), t.data(), lse.data(), g, logits.grad(),
                                             rows, vocab, ls, false, cap);
               });
    return y;
}

Tensor linear_cross_entropy(const Tensor& hidden,
                            const Tensor& weight,
                            std::span<const int32_t> targets,
                            const CrossEntropyOptions& opts) {
    require_defined(hidden, "linear_cross_entropy", "hidden");
    require_defined(weight, "linear_cross_entropy", "weight");
    require(hidden.ndim() == 2 && weight.ndim() == 2 && hidden.dim(1) == weight.dim(1),
            "linear_cross_entropy: expected hidden [N, C] and weight [V, C], got " +
                desc("hidden", hidden) + " and " + desc("weight", weight));
    const int64_t rows = hidden.dim(0), dim = hidden.dim(1), vocab = weight.dim(0);
    const LossSetup s = check_targets("linear_cross_entropy", targets, rows, vocab, opts);
    const bool rec = should_record({&hidden, &weight}) && s.denom > 0;
    const bool need_h = rec && hidden.requires_grad(), need_w = rec && weight.requires_grad();
    const bool half = weight.storage() != Storage::F32, bf16 = weight.storage() == Storage::BF16;

    // About 32 MB of logits per chunk, but never fewer than kMinHeadChunkRows rows: each chunk
    // packs the whole head weight for its GEMMs, and for a 262k vocabulary (Gemma 3) 32-row
    // chunks spent as long packing as multiplying (Gemma-3-270M LoRA: 41 -> 66 tokens/s).
    constexpr int64_t kMinHeadChunkRows = 128;
    int64_t chunk = opts.chunk_rows > 0
                        ? opts.chunk_rows
                        : std::max<int64_t>(kMinHeadChunkRows, (int64_t{8} << 20) / vocab);
    chunk = std::min(chunk, std::max<int64_t>(rows, 1));
    // Equal chunks rather than a short last one: every chunk streams the whole head weight
    // (and dW) through memory, which a chunk of a few rows would pay for nothing.
    if (opts.chunk_rows <= 0 && rows > 0)
        chunk = (rows + (rows + chunk - 1) / chunk - 1) / ((rows + chunk - 1) / chunk);
    std::vector<float> logits(static_cast<size_t>(chunk * vocab));
    std::vector<float> row_loss(static_cast<size_t>(rows)), lse(static_cast<size_t>(rows));
    // Gradients of the loss (for an upstream gradient of 1), filled chunk by chunk.
    std::vector<float> dh(need_h ? static_cast<size_t>(rows * dim) : 0);
    std::vector<float> dw(need_w ? static_cast<size_t>(vocab * dim) : 0);
    const float g = s.denom > 0 ? static_cast<float>(1.0 / s.denom) : 0.0f;
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        const int64_t n = std::min(chunk, rows - r0);
        const float* h = hidden.data() + r0 * dim;
        if (half) // a frozen 16-bit head (bf16 on the BF16 dot-product path where there is one)
            kernels::gemm_a_wt_half(n, vocab, dim, h, dim, weight.half_data(), bf16, 0.0f,
                                    logits.data(), vocab);
        else
            kernels::gemm<float>(false, true, n, vocab, dim, 1.0f, h, dim, weight.data(), dim, 0.0f,
                                 logits.data(), vocab);
        kernels::softmax_xent_fwd(logits.data(), targets.data() + r0, row_loss.data() + r0,
                                  lse.data() + r0, n, vocab, opts.logit_scale, opts.softcap);
        if (!rec)
            continue;
        // The chunk's logits become dloss/dlogits in place, then feed both gradient GEMMs.
        kernels::softmax_xent_bwd(logits.data(), targets.data() + r0, lse.data() + r0, g,
                                  logits.data(), n, vocab, opts.logit_scale, true, opts.softcap);
        if (need_h && half) // dh (n, C) += dlogits (n, V) W (V, C), dh still zero here
            kernels::gemm_dy_w_half(n, vocab, dim, logits.data(), vocab, weight.half_data(), bf16,
                                    dh.data() + r0 * dim, dim);
        else if (need_h)
            kernels::gemm<float>(false, false, n, dim, vocab, 1.0f, logits.data(), vocab,
                                 weight.data(), dim, 0.0f, dh.data() + r0 * dim, dim);
        if (need_w) // dW (V, C) += dlogits^T h
            kernels::gemm<float>(true, false, vocab, dim, n, 1.0f, logits.data(), vocab, h, dim,
                                 1.0f, dw.data(), dim);
    }
    Tensor y = Tensor::full({}, mean_loss(row_loss, s));
    if (rec)
        record("linear_cross_entropy", y,
               [hidden, weight, y, dh = std::move(dh), dw = std::move(dw)]() mutable {
                   const float up = y.grad()[0];
                   if (!dh.empty())
                       accumulate_grad(hidden, dh, up);
                   if (!dw.empty())
                       accumulate_grad(weight, dw, up);
               });
    return y;
}

} // namespace slimtune
