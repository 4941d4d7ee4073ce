// The tape's semantics: accumulation, no-grad mode, one-shot graphs, frozen inputs, errors.
#include "common/error.h"
#include "model/autograd.h"
#include "model/ops/ops.h"
#include "tests/test_util.h"

using namespace slimtune;

TEST_CASE("autograd: leaf gradients accumulate across backward calls", "[model][unit]") {
    Tensor x = Tensor::from({3}, {1, 2, 3}, true);
    backward(sum(mul(x, x))); // d/dx sum x^2 = 2x
    backward(sum(scale(x, 3.0f)));
    const std::vector<float> g(x.grad_values().begin(), x.grad_values().end());
    CHECK(g == std::vector<float>{5, 7, 9});
    x.zero_grad();
    CHECK_FALSE(x.has_grad());
    CHECK(tape_size() == 0);
}

TEST_CASE("autograd: frozen inputs get no gradient and record nothing", "[model][unit]") {
    Tensor w = Tensor::from({2, 2}, {1, 2, 3, 4}); // frozen, like a LoRA base weight
    Tensor x = Tensor::from({1, 2}, {1, 1}, true);
    Tensor y = linear(x, w);
    CHECK(y.requires_grad());
    backward(sum(y));
    CHECK_FALSE(w.has_grad());
    REQUIRE(x.has_grad());
    CHECK(x.grad_values()[0] == 4.0f); // column sums of w
    CHECK(x.grad_values()[1] == 6.0f);

    Tensor z = linear(Tensor::from({1, 2}, {1, 1}), w); // nothing trainable: nothing recorded
    CHECK_FALSE(z.requires_grad());
    CHECK(tape_size() == 0);
    CHECK_THROWS_AS(backward(sum(z)), ShapeError);
}

TEST_CASE("autograd: NoGradGuard turns recording off and restores it", "[model][unit]") {
    Tensor x = Tensor::from({2}, {1, 2}, true);
    {
        NoGradGuard guard;
        CHECK_FALSE(grad_enabled());
        Tensor y = gelu_tanh(x);
        CHECK_FALSE(y.requires_grad());
        CHECK(tape_size() == 0);
    }
    CHECK(grad_enabled());
    Tensor y = gelu_tanh(x);
    CHECK(tape_size() == 1);
    clear_tape();
    CHECK(tape_size() == 0);
}

TEST_CASE("autograd: a graph can be walked once; stale graphs are refused", "[model][unit]") {
    Tensor x = Tensor::from({2}, {1, 2}, true);
    Tensor loss = sum(silu(x));
    backward(loss);
    CHECK_THROWS_WITH(backward(loss), Catch::Contains("already backpropagated"));
    Tensor a = sum(x);
    clear_tape();
    CHECK_THROWS_AS(backward(a), ShapeError);
}

TEST_CASE("autograd: backward needs a scalar or a matching upstream gradient", "[model][unit]") {
    Tensor x = Tensor::from({2}, {1, 2}, true);
    Tensor y = scale(x, 2.0f);
    CHECK_THROWS_WITH(backward(y), Catch::Contains("one-element"));
    const std::vector<float> wrong = {1, 2, 3};
    CHECK_THROWS_WITH(backward(y, wrong), Catch::Contains("upstream gradient has 3 values"));
    const std::vector<float> right = {1, -1};
    backward(y, right);
    CHECK(x.grad_values()[0] == 2.0f);
    CHECK(x.grad_values()[1] == -2.0f);
}

TEST_CASE("autograd: backward skips branches that do not reach the loss", "[model][unit]") {
    Tensor x = Tensor::from({2}, {1, 2}, true);
    Tensor unused = silu(x); // recorded, but its output never receives a gradient
    Tensor loss = sum(scale(x, 2.0f));
    backward(loss);
    CHECK(x.grad_values()[0] == 2.0f);
    CHECK_FALSE(unused.has_grad());
}

TEST_CASE("ops: shape mismatches throw ShapeError naming the op and the shapes", "[model][unit]") {
    Tensor x = Tensor::zeros({2, 3}), w = Tensor::zeros({4, 5});
    CHECK_THROWS_WITH(linear(x, w), Catch::Contains("linear") && Catch::Contains("[2, 3]") &&
                                        Catch::Contains("[4, 5]"));
    CHECK_THROWS_AS(matmul(x, x), ShapeError);
    CHECK_THROWS_WITH(add(Tensor::zeros({2, 3}), Tensor::zeros({4})),
                      Catch::Contains("cannot broadcast"));
    CHECK_THROWS_WITH(embedding(Tensor::zeros({5, 2}), std::vector<int32_t>{1, 5}),
                      Catch::Contains("token id 5 at position 1"));
    CHECK_THROWS_WITH(cross_entropy(Tensor::zeros({2, 5}), std::vector<int32_t>{1, 7}),
                      Catch::Contains("target 7 at row 1"));
    CHECK_THROWS_AS(attention(Tensor::zeros({1, 4, 3, 2}), Tensor::zeros({1, 4, 2, 2}),
                              Tensor::zeros({1, 4, 2, 2})),
                    ShapeError); // 3 query heads cannot share 2 kv heads
    const std::vector<int32_t> resumed_doc = {0, 0, 1, 0};
    CHECK_THROWS_WITH(attention(Tensor::zeros({1, 4, 2, 2}), Tensor::zeros({1, 4, 2, 2}),
                                Tensor::zeros({1, 4, 2, 2}), {.doc_ids = resumed_doc}),
                      Catch::Contains("two separate runs"));
    CHECK_THROWS_AS(
        rope(Tensor::zeros({1, 2, 1, 4}), std::vector<int32_t>{0, 1}, rope_inv_freq(6, 1e4)),
        ShapeError);
    CHECK_THROWS_AS(reshape(x, {4, 2}), ShapeError);
    CHECK_THROWS_AS(Tensor::from({2, 2}, {1, 2, 3}), ShapeError);
    Rng rng(1);
    CHECK_THROWS_AS(dropout(x, 1.0f, rng), ShapeError);
}

TEST_CASE("ops: losses with no counted token are 0 with zero gradients", "[model][unit]") {
    Tensor logits = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6}, true);
    Tensor loss = cross_entropy(logits, std::vector<int32_t>{-100, -100});
    CHECK(loss.item() == 0.0f);
    CHECK_FALSE(loss.requires_grad()); // nothing to backpropagate
}

TEST_CASE("dropout: the stream advances and the mask is reproducible", "[model][unit]") {
    Tensor x = Tensor::full({1000}, 1.0f);
    Rng a(9), b(9);
    Tensor y1 = dropout(x, 0.5f, a), y2 = dropout(x, 0.5f, b);
    CHECK(std::equal(y1.values().begin(), y1.values().end(), y2.values().begin()));
    CHECK(a.offset == 1000);
    Tensor y3 = dropout(x, 0.5f, a); // next block of the stream: another mask
    CHECK_FALSE(std::equal(y1.values().begin(), y1.values().end(), y3.values().begin()));
    int kept = 0;
    for (float v : y1.values())
        kept += v != 0.0f;
    CHECK(kept > 450);
    CHECK(kept < 550);
    for (float v : y1.values())
        CHECK((v == 0.0f || v == 2.0f));
    Tensor same = dropout(x, 0.5f, a, /*training=*/false);
    CHECK(same.same(x));
}
