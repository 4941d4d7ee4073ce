// Finite-difference checks of every op through the tape, in float: these prove the wiring of
// each op (what it saves, which gradient goes where, accumulation, broadcasting), where the
// double checks in test_kernel_gradcheck.cpp prove the kernels' math. Bilinear ops (linear,
// matmul, add, mul) have exact central differences, so a large step is used there.
#include "model/autograd.h"
#include "model/ops/ops.h"
#include "tests/test_util.h"

#include <functional>

using namespace slimtune;
using test::random_normal;
using test::require_close;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, double scale = 1.0) {
    return Tensor::from(shape, random_normal(static_cast<size_t>(shape_numel(shape)), seed, scale),
                        true);
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Backpropagates L = <r, f(inputs)> and compares every input gradient with central
// differences of L computed without the tape.
void check_op(const char* name,
              std::vector<Tensor> inputs,
              const OpFn& f,
              double eps,
              double atol,
              double rtol) {
    Tensor y = f(inputs);
    const std::vector<float> r = random_normal(static_cast<size_t>(y.numel()), 777);
    backward(y, r);
    for (size_t i = 0; i < inputs.size(); ++i) {
        Tensor& x = inputs[i];
        if (!x.requires_grad())
            continue;
        std::vector<double> analytic(x.grad_values().begin(), x.grad_values().end());
        std::vector<double> numeric(static_cast<size_t>(x.numel()));
        NoGradGuard no_grad;
        for (int64_t j = 0; j < x.numel(); ++j) {
            const float keep = x.data()[j];
            x.data()[j] = static_cast<float>(static_cast<double>(keep) + eps);
            const double up = test::dot(r, f(inputs).values());
            x.data()[j] = static_cast<float>(static_cast<double>(keep) - eps);
            const double down = test::dot(r, f(inputs).values());
            x.data()[j] = keep;
            numeric[static_cast<size_t>(j)] = (up - down) / (2 * eps);
        }
        require_close(analytic, numeric, atol, rtol,
                      std::string(name) + " input " + std::to_string(i));
    }
}

constexpr double kBilinearEps = 0.25, kBilinearAtol = 2e-4, kBilinearRtol = 1e-4;
constexpr double kSmoothEps = 1e-2, kSmoothAtol = 5e-4, kSmoothRtol = 2e-3;

} // namespace

TEST_CASE("linear op: gradients match finite differences", "[model][grad]") {
    const bool with_bias = GENERATE(true, false);
    std::vector<Tensor> in = {leaf({2, 3, 5}, 1), leaf({4, 5}, 2)};
    if (with_bias)
        in.push_back(leaf({4}, 3));
    check_op(
        "linear", in,
        [&](const std::vector<Tensor>& t) {
            return linear(t[0], t[1], with_bias ? t[2] : Tensor());
        },
        kBilinearEps, kBilinearAtol, kBilinearRtol);
}

TEST_CASE("matmul op: gradients match finite differences", "[model][grad]") {
    const bool ta = GENERATE(false, true), tb = GENERATE(false, true);
    const bool shared_b = GENERATE(false, true);
    const int64_t M = 3, K = 4, N = 2;
    Shape sa = ta ? Shape{2, K, M} : Shape{2, M, K};
    Shape sb = tb ? Shape{N, K} : Shape{K, N};
    if (!shared_b)
        sb.insert(sb.begin(), 2);
    check_op(
        "matmul", {leaf(sa, 4), leaf(sb, 5)},
        [&](const std::vector<Tensor>& t) { return matmul(t[0], t[1], ta, tb); }, kBilinearEps,
        kBilinearAtol, kBilinearRtol);
}

TEST_CASE("add and mul ops: broadcasting gradients match finite differences", "[model][grad]") {
    const auto shapes =
        GENERATE(std::pair<Shape, Shape>{{3, 4}, {3, 4}}, std::pair<Shape, Shape>{{2, 3, 4}, {4}},
                 std::pair<Shape, Shape>{{2, 1, 4}, {3, 1}}, std::pair<Shape, Shape>{{1}, {2, 2}});
    check_op(
        "add", {leaf(shapes.first, 6), leaf(shapes.second, 7)},
        [](const std::vector<Tensor>& t) { return add(t[0], t[1]); }, kBilinearEps, kBilinearAtol,
        kBilinearRtol);
    check_op(
        "mul", {leaf(shapes.first, 8), leaf(shapes.second, 9)},
        [](const std::vector<Tensor>& t) { return mul(t[0], t[1]); }, kBilinearEps, kBilinearAtol,
        kBilinearRtol);
}

TEST_CASE("shape glue ops: gradients match finite differences", "[model][grad]") {
    check_op(
        "scale", {leaf({3, 4}, 10)},
        [](const std::vector<Tensor>& t) { return scale(t[0], -1.7f); }, kBilinearEps,
        kBilinearAtol, kBilinearRtol);
    check_op(
        "reshape", {leaf({2, 6}, 11)},
        [](const std::vector<Tensor>& t) { // x*x: two paths accumulate into one grad
            return mul(reshape(t[0], {3, 4}), reshape(t[0], {3, 4}));
        },
        kBilinearEps, kBilinearAtol, kBilinearRtol);
    check_op(
        "narrow_last", {leaf({3, 7}, 12)},
        [](const std::vector<Tensor>& t) { return narrow_last(t[0], 2, 4); }, kBilinearEps,
        kBilinearAtol, kBilinearRtol);
    check_op(
        "sum", {leaf({3, 5}, 13)}, [](const std::vector<Tensor>& t) { return sum(t[0]); },
        kBilinearEps, kBilinearAtol, kBilinearRtol);
}

TEST_CASE("embedding op: gradients match finite differences", "[model][grad]") {
    const std::vector<int32_t> ids = {2, 0, 2, 4, 2};
    check_op(
        "embedding", {leaf({5, 3}, 14)},
        [&](const std::vector<Tensor>& t) { return embedding(t[0], ids); }, kBilinearEps,
        kBilinearAtol, kBilinearRtol);
}

TEST_CASE("activation ops: gradients match finite differences", "[model][grad]") {
    check_op(
        "gelu_tanh", {leaf({4, 6}, 15, 2.0)},
        [](const std::vector<Tensor>& t) { return gelu_tanh(t[0]); }, kSmoothEps, kSmoothAtol,
        kSmoothRtol);
    check_op(
        "silu", {leaf({4, 6}, 16, 2.0)}, [](const std::vector<Tensor>& t) { return silu(t[0]); },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
    check_op(
        "swiglu", {leaf({4, 6}, 17, 2.0), leaf({4, 6}, 18)},
        [](const std::vector<Tensor>& t) { return swiglu(t[0], t[1]); }, kSmoothEps, kSmoothAtol,
        kSmoothRtol);
    check_op(
        "geglu", {leaf({4, 6}, 47, 2.0), leaf({4, 6}, 48)},
        [](const std::vector<Tensor>& t) { return geglu(t[0], t[1]); }, kSmoothEps, kSmoothAtol,
        kSmoothRtol);
    check_op(
        "softcap", {leaf({4, 6}, 49, 3.0)},
        [](const std::vector<Tensor>& t) { return softcap(t[0], 2.5f); }, kSmoothEps, kSmoothAtol,
        kSmoothRtol);
    // The same seed and offset every call, so the mask is fixed while differencing.
    check_op(
        "dropout", {leaf({4, 25}, 19)},
        [](const std::vector<Tensor>& t) {
            Rng rng(42, 5);
            return dropout(t[0], 0.25f, rng);
        },
        kBilinearEps, kBilinearAtol, kBilinearRtol);
}

TEST_CASE("norm ops: gradients match finite differences", "[model][grad]") {
    check_op(
        "layer_norm", {leaf({3, 8}, 20, 2.0), leaf({8}, 21), leaf({8}, 22)},
        [](const std::vector<Tensor>& t) { return layer_norm(t[0], t[1], t[2], 1e-5f); },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
    check_op(
        "rms_norm", {leaf({3, 8}, 23, 2.0), leaf({8}, 24)},
        [](const std::vector<Tensor>& t) { return rms_norm(t[0], t[1], 1e-6f, 1.0f); }, kSmoothEps,
        kSmoothAtol, kSmoothRtol);
}

TEST_CASE("rope and attention ops: gradients match finite differences", "[model][grad]") {
    const std::vector<int32_t> pos = {0, 1, 2, 0, 1, 2, 3, 4};
    const std::vector<double> inv_freq = rope_inv_freq(4, 10000.0);
    check_op(
        "rope", {leaf({2, 4, 2, 6}, 25)},
        [&](const std::vector<Tensor>& t) { return rope(t[0], pos, inv_freq); }, kBilinearEps,
        kBilinearAtol, kBilinearRtol);
    const std::vector<int32_t> doc = {0, 0, 1, 1, 1, 5, 5, 5};
    check_op(
        "attention", {leaf({2, 4, 4, 3}, 26), leaf({2, 4, 2, 3}, 27), leaf({2, 4, 2, 3}, 28)},
        [&](const std::vector<Tensor>& t) {
            return attention(t[0], t[1], t[2], {.scale = 0.0f, .doc_ids = doc});
        },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
    // Gemma 2's layers: soft-capped scores and a sliding window of 2 inside the documents.
    check_op(
        "attention softcap window",
        {leaf({2, 4, 4, 3}, 26, 2.0), leaf({2, 4, 2, 3}, 27, 2.0), leaf({2, 4, 2, 3}, 28)},
        [&](const std::vector<Tensor>& t) {
            return attention(t[0], t[1], t[2],
                             {.scale = 0.7f, .doc_ids = doc, .window = 2, .softcap = 1.5f});
        },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
}

TEST_CASE("loss ops: gradients match finite differences", "[model][grad]") {
    const std::vector<int32_t> targets = {3, -100, 0, 6, 6};
    check_op(
        "cross_entropy", {leaf({5, 7}, 29, 2.0)},
        [&](const std::vector<Tensor>& t) {
            return cross_entropy(t[0], targets, {.logit_scale = 0.5f});
        },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
    // chunk_rows = 2 splits 5 rows into 3 chunks; a fixed normalizer as gradient accumulation
    // across micro-batches would pass.
    const double normalizer = GENERATE(0.0, 11.0);
    check_op(
        "linear_cross_entropy", {leaf({5, 4}, 30), leaf({7, 4}, 31)},
        [&](const std::vector<Tensor>& t) {
            return linear_cross_entropy(t[0], t[1], targets,
                                        {.normalizer = normalizer, .chunk_rows = 2});
        },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
    // Gemma 2's final soft-cap inside the fused loss.
    check_op(
        "linear_cross_entropy softcap", {leaf({5, 4}, 30, 2.0), leaf({7, 4}, 31, 2.0)},
        [&](const std::vector<Tensor>& t) {
            return linear_cross_entropy(t[0], t[1], targets, {.softcap = 1.5f, .chunk_rows = 2});
        },
        kSmoothEps, kSmoothAtol, kSmoothRtol);
}

TEST_CASE("lora_linear op: gradients match finite differences", "[model][grad]") {
    const bool with_bias = GENERATE(true, false);
    const bool separate_input = GENERATE(true, false); // x_lora = dropout(x) vs x itself
    // x, W, A, B, then the optional x_lora and bias.
    std::vector<Tensor> in = {leaf({2, 3, 5}, 11), leaf({4, 5}, 12), leaf({2, 5}, 13),
                              leaf({4, 2}, 14)};
    if (separate_input)
        in.push_back(leaf({2, 3, 5}, 15));
    if (with_bias)
        in.push_back(leaf({4}, 16));
    check_op(
        "lora_linear", in,
        [&](const std::vector<Tensor>& t) {
            const Tensor& xl = separate_input ? t[4] : t[0];
            const Tensor bias = with_bias ? t.back() : Tensor();
            return lora_linear(t[0], xl, t[1], bias, t[2], t[3], 1.75f);
        },
        kBilinearEps, kBilinearAtol, kBilinearRtol);
}
