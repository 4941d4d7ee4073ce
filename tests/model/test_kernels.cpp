// Kernel-level checks that are not gradients: the GEMM seam against a plain double loop on
// both instruction-set builds, and the determinism promises of the kernels.
#include "common/error.h"
#include "model/autograd.h"
#include "model/block.h"
#include "model/half.h"
#include "model/kernels/activation.h"
#include "model/kernels/attention.h"
#include "model/kernels/gemm.h"
#include "model/kernels/norm.h"
#include "model/ops/ops.h"
#include "tests/test_util.h"

#include <omp.h>

using namespace slimtune;
using namespace slimtune::kernels;
using test::random_normal;

namespace {

// C = alpha op(A) op(B) + beta C with the same storage conventions as gemm(), in double.
// `bound` receives the float forward-error bound of each element: (K + 2) u (|alpha| sum |a b|
// + |beta c|), u = 2^-24 (Higham's gamma_K), the most any summation order may be off.
std::vector<double> gemm_reference(std::vector<double>& bound,
                                   bool ta,
                                   bool tb,
                                   int64_t M,
                                   int64_t N,
                                   int64_t K,
                                   double alpha,
                                   const std::vector<float>& A,
                                   int64_t lda,
                                   const std::vector<float>& B,
                                   int64_t ldb,
                                   double beta,
                                   const std::vector<float>& C,
                                   int64_t ldc) {
    std::vector<double> out(C.begin(), C.end());
    bound.assign(C.size(), 0.0);
    const double u = std::ldexp(1.0, -24);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0, abs_s = 0;
            for (int64_t k = 0; k < K; ++k) {
                const double p = static_cast<double>(ta ? A[k * lda + i] : A[i * lda + k]) *
                                 static_cast<double>(tb ? B[j * ldb + k] : B[k * ldb + j]);
                s += p;
                abs_s += std::abs(p);
            }
            const double c = beta == 0 ? 0.0 : beta * static_cast<double>(C[i * ldc + j]);
            out[i * ldc + j] = alpha * s + c;
            bound[i * ldc + j] =
                static_cast<double>(K + 2) * u * (std::abs(alpha) * abs_s + std::abs(c));
        }
    return out;
}

// Restores the thread count and GEMM backend when a test ends.
struct KernelSettings {
    int threads = omp_get_max_threads();
    ~KernelSettings() {
        omp_set_num_threads(threads);
        gemm_force_portable(false);
    }
};

} // namespace

TEST_CASE("gemm: matches a double loop for every transpose, stride and beta", "[model][unit]") {
    KernelSettings restore;
    const bool portable = GENERATE(false, true);
    gemm_force_portable(portable);
    const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
    const auto [M, N, K] = GENERATE(std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                                    std::tuple<int64_t, int64_t, int64_t>{37, 53, 29},
                                    std::tuple<int64_t, int64_t, int64_t>{130, 70, 257},
                                    std::tuple<int64_t, int64_t, int64_t>{5, 9, 0});
    const float beta = GENERATE(0.0f, 1.0f, -0.5f);
    const int64_t pad = 3; // leading dimensions larger than the rows they hold
    const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const auto A = random_normal(static_cast<size_t>((ta ? K : M) * lda), 1);
    const auto B = random_normal(static_cast<size_t>((tb ? N : K) * ldb), 2);
    auto C = random_normal(static_cast<size_t>(M * ldc), 3);
    if (beta == 0.0f)
        C[0] = std::numeric_limits<float>::quiet_NaN(); // beta = 0 must overwrite, NaN too
    std::vector<double> bound;
    const auto expected =
        gemm_reference(bound, ta, tb, M, N, K, 1.25, A, lda, B, ldb, beta, C, ldc);
    gemm<float>(ta, tb, M, N, K, 1.25f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    INFO("backend " << gemm_backend() << " ta " << ta << " tb " << tb << " M " << M << " N " << N
                    << " K " << K << " beta " << beta);
    size_t bad = 0;
    for (size_t i = 0; i < C.size(); ++i) // padding columns must be untouched too (bound 0)
        bad += !(std::abs(static_cast<double>(C[i]) - expected[i]) <= bound[i] + 1e-30);
    CHECK(bad == 0);
}

TEST_CASE("kernels: reductions give the same bits for any thread count", "[model][unit]") {
    KernelSettings restore;
    const int64_t rows = 300, cols = 200;
    const auto x = random_normal(rows * cols, 4), dy = random_normal(rows * cols, 5),
               w = random_normal(cols, 6);
    std::vector<int32_t> ids(rows);
    for (int64_t i = 0; i < rows; ++i)
        ids[i] = static_cast<int32_t>((i * 7) % 13);
    auto run = [&](int threads) {
        omp_set_num_threads(threads);
        std::vector<float> y(x.size()), mean(rows), rstd(rows), dx(x.size(), 0), dw(cols, 0),
            db(cols, 0), demb(13 * cols, 0), colsum(cols, 0);
        layer_norm_fwd(x.data(), w.data(), w.data(), y.data(), mean.data(), rstd.data(), rows, cols,
                       1e-5f);
        layer_norm_bwd(dy.data(), x.data(), w.data(), mean.data(), rstd.data(), dx.data(),
                       dw.data(), db.data(), rows, cols);
        embedding_bwd(dy.data(), ids.data(), demb.data(), rows, cols);
        add_column_sums(dy.data(), colsum.data(), rows, cols);
        std::vector<float> all = y;
        for (const auto* v : {&dx, &dw, &db, &demb, &colsum})
            all.insert(all.end(), v->begin(), v->end());
        return all;
    };
    CHECK(run(1) == run(2));
}

TEST_CASE("attention: forward and backward give the same bits for any thread count",
          "[model][unit]") {
    KernelSettings restore;
    const AttentionDims d{2, 150, 4, 2, 16};
    const size_t nq = 2 * 150 * 4 * 16, nk = 2 * 150 * 2 * 16;
    const auto q = random_normal(nq, 7), k = random_normal(nk, 8), v = random_normal(nk, 9),
               dout = random_normal(nq, 10);
    std::vector<int32_t> ks(300);
    for (int i = 0; i < 300; ++i)
        ks[i] = (i % 150) < 100 ? 0 : 100;
    auto run = [&](int threads) {
        omp_set_num_threads(threads);
        std::vector<float> out(nq), lse(2 * 4 * 150), dq(nq, 0), dk(nk, 0), dv(nk, 0);
        attention_fwd(q.data(), k.data(), v.data(), ks.data(), out.data(), lse.data(), d, 0.25f);
        attention_bwd(q.data(), k.data(), v.data(), ks.data(), out.data(), lse.data(), dout.data(),
                      dq.data(), dk.data(), dv.data(), d, 0.25f);
        for (const auto* vec : {&lse, &dq, &dk, &dv})
            out.insert(out.end(), vec->begin(), vec->end());
        return out;
    };
    const auto one = run(1);
    CHECK(one == run(2));
    CHECK(one == run(2)); // and run to run
}

TEST_CASE("training steps are bit-reproducible at a fixed thread count", "[model][unit]") {
    // Forward through a block and the fused head, backward, SGD update, three times: the
    // weights must come out identical bit for bit on a second run.
    auto train = [] {
        const BlockConfig cfg{.hidden = 32,
                              .n_head = 4,
                              .n_head_kv = 2,
                              .head_dim = 8,
                              .intermediate = 64,
                              .norm = NormKind::Rms,
                              .mlp = MlpKind::SwiGlu,
                              .bias = false,
                              .rope = true,
                              .rope_theta = 10000.0,
                              .rotary_dim = 0,
                              .norm_eps = 1e-6f};
        Rng rng(5);
        BlockParams p = block_init(cfg, 1, rng, true);
        Tensor head = Tensor::from({50, 32}, random_normal(50 * 32, 6, 0.1), true);
        const int64_t B = 2, T = 70;
        std::vector<int32_t> pos(B * T), doc(B * T), targets(B * T);
        for (int64_t i = 0; i < B * T; ++i) {
            pos[i] = static_cast<int32_t>(i % T);
            doc[i] = static_cast<int32_t>(i / 40);
            targets[i] = static_cast<int32_t>((i * 13) % 50);
        }
        Tensor x = Tensor::from({B, T, 32}, random_normal(B * T * 32, 7));
        std::vector<float> all;
        for (int step = 0; step < 3; ++step) {
            Tensor h =
                block_forward(cfg, p, x, {.batch = B, .seq = T, .positions = pos, .doc_ids = doc});
            Tensor loss =
                linear_cross_entropy(reshape(h, {B * T, 32}), head, targets, {.chunk_rows = 32});
            backward(loss);
            auto sgd = [&](const std::string&, Tensor& t) {
                for (int64_t i = 0; i < t.numel(); ++i)
                    t.data()[i] -= 0.1f * t.grad()[i];
                t.zero_grad();
            };
            block_for_each_param(p, sgd);
            sgd("head", head);
            all.push_back(loss.item());
        }
        block_for_each_param(p, [&](const std::string&, Tensor& t) {
            all.insert(all.end(), t.values().begin(), t.values().end());
        });
        return all;
    };
    const auto first = train();
    CHECK(first == train());
    CHECK(first[2] < first[0]); // and it learns
}

TEST_CASE("linear: a frozen 16-bit weight gives the widened float32 results", "[model][unit]") {
    // (On the widening path; a bf16 weight on the BF16 dot product is within bf16 rounding.)
    const int64_t n = 37, in = 70, out = 300; // out spans two widening blocks
    const bool bf16 = GENERATE(true, false);
    std::vector<uint16_t> bits(static_cast<size_t>(out * in));
    std::vector<float> widened(bits.size());
    const auto w = random_normal(bits.size(), 21, 0.1);
    for (size_t i = 0; i < bits.size(); ++i) {
        bits[i] = bf16 ? f32_to_bf16(w[i]) : f32_to_f16(w[i]);
        widened[i] = bf16 ? bf16_to_f32(bits[i]) : f16_to_f32(bits[i]);
    }
    const auto xv = random_normal(static_cast<size_t>(n * in), 22);
    const auto r = random_normal(static_cast<size_t>(n * out), 23);
    Tensor x1 = Tensor::from({n, in}, xv, true), x2 = Tensor::from({n, in}, xv, true);
    Tensor b = Tensor::from({out}, random_normal(out, 24));
    Tensor y1 = linear(x1, Tensor::from({out, in}, widened), b);
    backward(y1, r); // the tape holds one graph at a time: each forward, then its backward
    const Tensor half = Tensor::from_half({out, in}, bits, bf16 ? Storage::BF16 : Storage::F16);
    {
        const test::WidenBf16Scope widen;
        Tensor y2 = linear(x2, half, b);
        test::require_close(y2.values(), y1.values(), 1e-5, 1e-5, "16-bit linear forward");
        backward(y2, r);
        test::require_close(x2.grad_values(), x1.grad_values(), 1e-5, 1e-5, "16-bit linear dx");
    }
    if (bf16 && kernels::bf16_gemm_available()) {
        // The BF16 products round x and dy to bf16 (2^-9 relative): ~3e-3 here.
        Tensor x3 = Tensor::from({n, in}, xv, true);
        Tensor y3 = linear(x3, half, b);
        test::require_close(y3.values(), y1.values(), 2e-2, 2e-2, "bf16 linear forward");
        backward(y3, r);
        test::require_close(x3.grad_values(), x1.grad_values(), 2e-2, 2e-2, "bf16 linear dx");
    }
    Tensor frozen = Tensor::from_half({2, 2}, {0, 0, 0, 0}, Storage::BF16);
    CHECK_THROWS_AS(frozen.set_requires_grad(true), ShapeError);
    CHECK_THROWS_WITH(gelu_tanh(frozen), Catch::Contains("only be read by linear"));
}
