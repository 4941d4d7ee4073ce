// linear, matmul and embedding: the ops built on the GEMM seam (and the embedding gather).
#include "model/kernels/activation.h"
#include "model/kernels/gemm.h"
#include "model/kernels/norm.h"
#include "model/ops/op_util.h"
#include "model/ops/ops.h"

namespace slimtune {

using namespace ops_detail;
using kernels::gemm;

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    require_defined(x, "linear", "x");
    require_defined(weight, "linear", "weight");
    require(weight.ndim() == 2 && x.ndim() >= 1 && x.cols() == weight.dim(1),
            "linear: " + desc("x", x) + " does not match " + desc("weight", weight) +
                " (expected weight [out, " + std::to_string(x.ndim() ? x.cols() : 0) + "])");
    const int64_t n = x.rows(), in = x.cols(), out = weight.dim(0);
    if (bias.defined())
        require(bias.ndim() == 1 && bias.dim(0) == out,
                "linear: " + desc("bias", bias) + " does not match " + desc("weight", weight));
    Tensor y = Tensor::zeros(with_last(x.shape(), out));
    // y (n, out) = x (n, in) W^T; the bias is broadcast into y first and accumulated onto.
    if (bias.defined())
        for (int64_t r = 0; r < n; ++r)
            std::copy_n(bias.data(), out, y.data() + r * out);
    const bool half = weight.storage() != Storage::F32; // a frozen 16-bit weight
    const bool bf16 = weight.storage() == Storage::BF16;
    // y is either zeros or the bias: on the float32 GEMM, accumulating onto it (beta 1) gives
    // the same bits as beta 0 without the GEMM's own zeroing pass over the output (oneDNN's
    // BF16 product overwrites for free, and would read y for a beta of 1).
    const float beta = bias.defined() || !half ? 1.0f : 0.0f;
    if (half)
        kernels::gemm_a_wt_half(n, out, in, x.data(), in, weight.half_data(), bf16, beta, y.data(),
                                out);
    else
        gemm<float>(false, true, n, out, in, 1.0f, x.data(), in, weight.data(), in, beta, y.data(),
                    out);
    if (should_record({&x, &weight, &bias}))
        record("linear", y, [x, weight, bias, y, n, in, out, half, bf16] {
            const float* dy = y.grad();        // (n, out)
            if (float* dx = grad_or_null(x)) { // dx (n, in) += dy W
                if (half)
                    kernels::gemm_dy_w_half(n, out, in, dy, out, weight.half_data(), bf16, dx, in);
                else
                    gemm<float>(false, false, n, in, out, 1.0f, dy, out, weight.data(), in, 1.0f,
                                dx, in);
            }
            if (float* dw = grad_or_null(weight)) // dW (out, in) += dy^T x
                gemm<float>(true, false, out, in, n, 1.0f, dy, out, x.data(), in, 1.0f, dw, in);
            if (float* db = grad_or_null(bias))
                kernels::add_column_sums(dy, db, n, out);
        });
    return y;
}

Tensor lora_linear(const Tensor& x,
                   const Tensor& x_lora,
                   const Tensor& weight,
                   const Tensor& bias,
                   const Tensor& a,
                   const Tensor& b,
                   float scaling) {
    require_defined(a, "lora_linear", "a");
    require_defined(b, "lora_linear", "b");
    require_defined(x_lora, "lora_linear", "x_lora");
    Tensor y = linear(x, weight, bias);
    const int64_t n = x.rows(), in = x.cols(), out = y.cols(), r = a.dim(0);
    require(a.ndim() == 2 && a.dim(1) == in && b.ndim() == 2 && b.dim(0) == out && b.dim(1) == r &&
                x_lora.shape() == x.shape(),
            "lora_linear: " + desc("a", a) + " and " + desc("b", b) + " do not fit " +
                desc("x", x) + " -> " + std::to_string(out) + " outputs");
    // t (n, r) = x_lora A^T, then y += scaling * t B^T. `y` already holds its own record
    // (linear's); the adapter's part is recorded on the same output below.
    Tensor t = Tensor::zeros({n, r});
    gemm<float>(false, true, n, r, in, 1.0f, x_lora.data(), in, a.data(), in, 1.0f, t.data(), r);
    gemm<float>(false, true, n, out, r, scaling, t.data(), r, b.data(), r, 1.0f, y.data(), out);
    if (should_record({&x_lora, &a, &b}))
        record("lora_linear", y, [x_lora, a, b, y, t, n, in, out, r, scaling] {
            const float* dy = y.grad();
            if (float* db = grad_or_null(b)) // dB (out, r) += scaling dy^T t
                gemm<float>(true, false, out, r, n, scaling, dy, out, t.data(), r, 1.0f, db, r);
            float* dx = grad_or_null(x_lora);
            float* da = grad_or_null(a);
            if (!dx && !da)
                return;
            // dt (n, r) = scaling dy B
            std::vector<float> dt(static_cast<size_t>(n * r));
            gemm<float>(false, false, n, r, out, scaling, dy, out, b.data(), r, 0.0f, dt.data(), r);
            if (da) // dA (r, in) += dt^T x_lora
                gemm<float>(true, false, r, in, n, 1.0f, dt.data(), r, x_lora.data(), in, 1.0f, da,
                            in);
            if (dx) // dx_lora (n, in) += dt A
                gemm<float>(false, false, n, in, r, 1.0f, dt.data(), r, a.data(), in, 1.0f, dx, in);
        });
    return y;
}

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    require_defined(a, "matmul", "a");
    require_defined(b, "matmul", "b");
    require(a.ndim() >= 2 && b.ndim() >= 2,
            "matmul: operands need at least 2 dims, got " + desc("a", a) + " and " + desc("b", b));
    const int64_t ar = a.dim(-2), ac = a.dim(-1), br = b.dim(-2), bc = b.dim(-1);
    const int64_t M = trans_a ? ac : ar, K = trans_a ? ar : ac;
    const int64_t N = trans_b ? br : bc, Kb = trans_b ? bc : br;
    const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
    const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
    require(K == Kb && (batch_b.empty() || batch_a == batch_b),
            "matmul: " + desc("a", a) + (trans_a ? "^T" : "") + " cannot multiply " + desc("b", b) +
                (trans_b ? "^T" : ""));
    const int64_t batches = shape_numel(batch_a);
    const bool b_shared = batch_b.empty() && !batch_a.empty();
    Shape out_shape = batch_a;
    out_shape.push_back(M);
    out_shape.push_back(N);
    Tensor y = Tensor::zeros(out_shape);
    const int64_t sa = ar * ac, sb = b_shared ? 0 : br * bc, sy = M * N;
    for (int64_t i = 0; i < batches; ++i)
        gemm<float>(trans_a, trans_b, M, N, K, 1.0f, a.data() + i * sa, ac, b.data() + i * sb, bc,
                    0.0f, y.data() + i * sy, N);
    if (should_record({&a, &b}))
        record("matmul", y, [=] {
            const float* dy = y.grad();
            float *da = grad_or_null(a), *db = grad_or_null(b);
            for (int64_t i = 0; i < batches; ++i) {
                const float *pa = a.data() + i * sa, *pb = b.data() + i * sb, *g = dy + i * sy;
                if (da) { // d op(a) = dy op(b)^T, transposed back when a is stored transposed
                    if (!trans_a)
                        gemm<float>(false, !trans_b, M, K, N, 1.0f, g, N, pb, bc, 1.0f, da + i * sa,
                                    ac);
                    else
                        gemm<float>(trans_b, true, K, M, N, 1.0f, pb, bc, g, N, 1.0f, da + i * sa,
                                    ac);
                }
                if (db) { // d op(b) = op(a)^T dy; a shared b sums over batches, in order
                    if (!trans_b)
                        gemm<float>(!trans_a, false, K, N, M, 1.0f, pa, ac, g, N, 1.0f, db + i * sb,
                                    bc);
                    else
                        gemm<float>(true, trans_a, N, K, M, 1.0f, g, N, pa, ac, 1.0f, db + i * sb,
                                    bc);
                }
            }
        });
    return y;
}

Tensor embedding(const Tensor& weight, std::span<const int32_t> ids) {
    require_defined(weight, "embedding", "weight");
    require(weight.ndim() == 2, "embedding: expected weight [V, C], got " + desc("weight", weight));
    const int64_t vocab = weight.dim(0), dim = weight.dim(1);
    for (size_t i = 0; i < ids.size(); ++i)
        require(ids[i] >= 0 && ids[i] < vocab, "embedding: token id " + std::to_string(ids[i]) +
                                                   " at position " + std::to_string(i) +
                                                   " is outside the vocabulary [0, " +
                                                   std::to_string(vocab) + ")");
    const int64_t n = static_cast<int64_t>(ids.size());
    Tensor y = Tensor::zeros({n, dim});
    if (weight.storage() != Storage::F32) { // a frozen 16-bit table (no gradient): widen rows
        const bool bf16 = weight.storage() == Storage::BF16;
        for (int64_t i = 0; i < n; ++i)
            kernels::widen_half(weight.half_data() + ids[i] * dim, y.data() + i * dim, dim, bf16);
        return y;
    }
    kernels::embedding_fwd(weight.data(), ids.data(), y.data(), n, dim);
    if (should_record({&weight}))
        record("embedding", y,
               [weight, y, saved = std::vector<int32_t>(ids.begin(), ids.end()), n, dim] {
                   kernels::embedding_bwd(y.grad(), saved.data(), weight.grad(), n, dim);
               });
    return y;
}

} // namespace slimtune
