// Finite-difference checks of every backward kernel, in double: the kernels are templates, so
// this runs the very code the float build uses. L = <r, y> with a random r, central
// differences with eps = 1e-6; agreement is required to ~1e-7 relative.
#include "model/kernels/activation.h"
#include "model/kernels/attention.h"
#include "model/kernels/norm.h"
#include "model/kernels/rope.h"
#include "model/kernels/softmax_xent.h"
#include "tests/test_util.h"

using namespace slimtune;
using namespace slimtune::kernels;
using test::dot;
using test::numeric_gradient;
using test::random_normal;
using test::random_uniform;
using test::require_close;
using test::sampled;
using Vec = std::vector<double>;

namespace {
constexpr double kEps = 1e-6, kAtol = 1e-8, kRtol = 1e-6;

// Checks a one-input pointwise-shaped kernel pair.
template <class Fwd, class Bwd> void check_unary(const char* name, Vec x, Fwd fwd, Bwd bwd) {
    const size_t n = x.size();
    const Vec r = random_normal<double>(n, 99);
    Vec y(n);
    auto loss = [&] {
        fwd(x.data(), y.data(), static_cast<int64_t>(n));
        return dot(r, y);
    };
    Vec dx(n, 0.0);
    bwd(x.data(), r.data(), dx.data(), static_cast<int64_t>(n));
    require_close(dx, numeric_gradient(x, loss, kEps), kAtol, kRtol, name);
}
} // namespace

TEST_CASE("gelu_tanh: backward matches finite differences", "[model][grad]") {
    check_unary("gelu_tanh", random_uniform<double>(64, 1, -6, 6), gelu_tanh_fwd<double>,
                gelu_tanh_bwd<double>);
}

TEST_CASE("silu: backward matches finite differences", "[model][grad]") {
    check_unary("silu", random_uniform<double>(64, 2, -8, 8), silu_fwd<double>, silu_bwd<double>);
}

TEST_CASE("swiglu: backward matches finite differences", "[model][grad]") {
    const size_t n = 48;
    Vec gate = random_uniform<double>(n, 3, -5, 5), up = random_normal<double>(n, 4);
    const Vec r = random_normal<double>(n, 5);
    Vec y(n);
    auto loss = [&] {
        swiglu_fwd<double>(gate.data(), up.data(), y.data(), n);
        return dot(r, y);
    };
    Vec dgate(n, 0.0), dup(n, 0.0);
    swiglu_bwd<double>(gate.data(), up.data(), r.data(), dgate.data(), dup.data(), n);
    require_close(dgate, numeric_gradient(gate, loss, kEps), kAtol, kRtol, "swiglu dgate");
    require_close(dup, numeric_gradient(up, loss, kEps), kAtol, kRtol, "swiglu dup");
}

TEST_CASE("dropout: backward matches finite differences", "[model][grad]") {
    auto fwd = [](const double* x, double* y, int64_t n) { dropout_fwd(x, y, n, 0.4f, 7, 3); };
    auto bwd = [](const double*, const double* dy, double* dx, int64_t n) {
        dropout_bwd(dy, dx, n, 0.4f, 7, 3);
    };
    check_unary("dropout", random_normal<double>(100, 6), fwd, bwd);
}

TEST_CASE("layer_norm: backward matches finite differences", "[model][grad]") {
    const int64_t rows = 5, cols = 12;
    const bool affine = GENERATE(true, false);
    Vec x = random_normal<double>(rows * cols, 10, 2.0), w = random_normal<double>(cols, 11),
        b = random_normal<double>(cols, 12);
    for (size_t i = 0; i < x.size(); ++i)
        x[i] += 0.5 * static_cast<double>(i % cols); // rows with a non-zero mean
    const Vec r = random_normal<double>(rows * cols, 13);
    Vec y(x.size()), mean(rows), rstd(rows);
    const double* wp = affine ? w.data() : nullptr;
    const double* bp = affine ? b.data() : nullptr;
    auto loss = [&] {
        layer_norm_fwd(x.data(), wp, bp, y.data(), mean.data(), rstd.data(), rows, cols, 1e-5);
        return dot(r, y);
    };
    loss();
    Vec dx(x.size(), 0.0), dw(cols, 0.0), db(cols, 0.0);
    layer_norm_bwd(r.data(), x.data(), wp, mean.data(), rstd.data(), dx.data(),
                   affine ? dw.data() : nullptr, affine ? db.data() : nullptr, rows, cols);
    require_close(dx, numeric_gradient(x, loss, kEps), kAtol, kRtol, "layer_norm dx");
    if (affine) {
        require_close(dw, numeric_gradient(w, loss, kEps), kAtol, kRtol, "layer_norm dw");
        require_close(db, numeric_gradient(b, loss, kEps), kAtol, kRtol, "layer_norm db");
    }
}

TEST_CASE("rms_norm: backward matches finite differences", "[model][grad]") {
    const int64_t rows = 6, cols = 10;
    const double offset = GENERATE(0.0, 1.0); // Llama and Gemma conventions
    Vec x = random_normal<double>(rows * cols, 20, 1.5), w = random_normal<double>(cols, 21);
    const Vec r = random_normal<double>(rows * cols, 22);
    Vec y(x.size()), rstd(rows);
    auto loss = [&] {
        rms_norm_fwd(x.data(), w.data(), y.data(), rstd.data(), rows, cols, 1e-6, offset);
        return dot(r, y);
    };
    loss();
    Vec dx(x.size(), 0.0), dw(cols, 0.0);
    rms_norm_bwd(r.data(), x.data(), w.data(), rstd.data(), dx.data(), dw.data(), rows, cols,
                 offset);
    require_close(dx, numeric_gradient(x, loss, kEps), kAtol, kRtol, "rms_norm dx");
    require_close(dw, numeric_gradient(w, loss, kEps), kAtol, kRtol, "rms_norm dw");
}

TEST_CASE("embedding: backward matches finite differences", "[model][grad]") {
    const int64_t vocab = 7, dim = 5;
    const std::vector<int32_t> ids = {3, 0, 6, 3, 3, 1};
    const int64_t n = static_cast<int64_t>(ids.size());
    Vec w = random_normal<double>(vocab * dim, 30);
    const Vec r = random_normal<double>(n * dim, 31);
    Vec y(n * dim);
    auto loss = [&] {
        embedding_fwd(w.data(), ids.data(), y.data(), n, dim);
        return dot(r, y);
    };
    Vec dw(w.size(), 0.0);
    embedding_bwd(r.data(), ids.data(), dw.data(), n, dim);
    require_close(dw, numeric_gradient(w, loss, kEps), kAtol, kRtol, "embedding dweight");
}

TEST_CASE("rope: backward matches finite differences", "[model][grad]") {
    const int64_t n_tok = 6, n_head = 2, head_dim = 10, half = GENERATE(int64_t{5}, int64_t{2});
    const std::vector<int32_t> pos = {0, 1, 2, 7, 0, 1000};
    Vec inv_freq(half);
    for (int64_t i = 0; i < half; ++i)
        inv_freq[i] = 1.0 / std::pow(10000.0, 2.0 * static_cast<double>(i) / (2.0 * half));
    Vec cos(n_tok * half), sin(n_tok * half);
    rope_table(pos.data(), n_tok, inv_freq.data(), half, cos.data(), sin.data());
    Vec x = random_normal<double>(n_tok * n_head * head_dim, 40);
    const Vec r = random_normal<double>(x.size(), 41);
    Vec y(x.size());
    auto loss = [&] {
        rope_fwd(x.data(), y.data(), cos.data(), sin.data(), n_tok, n_head, head_dim, half);
        return dot(r, y);
    };
    Vec dx(x.size(), 0.0);
    rope_bwd(r.data(), dx.data(), cos.data(), sin.data(), n_tok, n_head, head_dim, half);
    require_close(dx, numeric_gradient(x, loss, kEps), kAtol, kRtol, "rope dx");
}

TEST_CASE("attention: backward matches finite differences", "[model][grad]") {
    // T = 70 spans two query tiles; documents and a sliding window exercise key_start; a
    // soft-cap (Gemma 2) passes the gradient through tanh.
    AttentionDims d{2, 70, 4, 2, 4};
    d.softcap = GENERATE(0.0, 1.3);
    std::vector<int32_t> key_start(d.batch * d.seq);
    for (int64_t i = 0; i < d.seq; ++i) {
        key_start[i] = i < 30 ? 0 : (i < 66 ? 30 : 66); // three documents
        key_start[d.seq + i] = static_cast<int32_t>(std::max<int64_t>(0, i - 40)); // window 41
    }
    const size_t nq = d.batch * d.seq * d.n_head * d.head_dim;
    const size_t nk = d.batch * d.seq * d.n_head_kv * d.head_dim;
    Vec q = random_normal<double>(nq, 50), k = random_normal<double>(nk, 51),
        v = random_normal<double>(nk, 52);
    const Vec r = random_normal<double>(nq, 53);
    Vec out(nq), lse(d.batch * d.n_head * d.seq);
    const double scale = 0.45;
    auto loss = [&] {
        attention_fwd(q.data(), k.data(), v.data(), key_start.data(), out.data(), lse.data(), d,
                      scale);
        return dot(r, out);
    };
    loss();
    Vec dq(nq, 0.0), dk(nk, 0.0), dv(nk, 0.0);
    attention_bwd(q.data(), k.data(), v.data(), key_start.data(), out.data(), lse.data(), r.data(),
                  dq.data(), dk.data(), dv.data(), d, scale);
    // L sums 2240 outputs, so its rounding noise needs a larger step than kEps (checked: errors
    // shrink from 1e-7 to 1e-5 to 1e-4, the signature of rounding, not of a wrong gradient).
    // Every third element keeps the suite fast and still hits every tile and document edge.
    const double eps = 1e-5;
    const size_t st = 3;
    require_close(sampled(dq, st), sampled(numeric_gradient(q, loss, eps, st), st), kAtol, kRtol,
                  "attention dq");
    require_close(sampled(dk, st), sampled(numeric_gradient(k, loss, eps, st), st), kAtol, kRtol,
                  "attention dk");
    require_close(sampled(dv, st), sampled(numeric_gradient(v, loss, eps, st), st), kAtol, kRtol,
                  "attention dv");
}

TEST_CASE("softmax_xent: backward matches finite differences", "[model][grad]") {
    const int64_t rows = 6, vocab = 9;
    const std::vector<int32_t> targets = {2, -100, 8, 0, 4, -100};
    const double logit_scale = GENERATE(1.0, 0.5);
    const double softcap = GENERATE(0.0, 2.0);
    Vec z = random_normal<double>(rows * vocab, 60, 3.0);
    Vec row_loss(rows), lse(rows);
    const double g = 0.7;
    auto loss = [&] {
        softmax_xent_fwd(z.data(), targets.data(), row_loss.data(), lse.data(), rows, vocab,
                         logit_scale, softcap);
        double s = 0;
        for (double l : row_loss)
            s += g * l;
        return s;
    };
    loss();
    Vec dz(z.size(), 0.0);
    softmax_xent_bwd(z.data(), targets.data(), lse.data(), g, dz.data(), rows, vocab, logit_scale,
                     false, softcap);
    require_close(dz, numeric_gradient(z, loss, kEps), kAtol, kRtol, "softmax_xent dlogits");
    // In place (overwrite) gives the same gradient.
    Vec inplace = z;
    softmax_xent_bwd(inplace.data(), targets.data(), lse.data(), g, inplace.data(), rows, vocab,
                     logit_scale, true, softcap);
    require_close(inplace, dz, 1e-15, 1e-13, "softmax_xent in-place");
}
