// Activation checkpointing (TokenLayout::checkpoint_activations, recipe key
// train.checkpoint_activations): recomputing each block during backward must give the gradients
// of the plain graph bit for bit (LoRA and full fine-tuning, Llama and GPT-2, LoRA dropout,
// packed documents), the same training run, and far fewer tensor bytes held at the peak.
#include "model/autograd.h"
#include "model/lora.h"
#include "model/ops/ops.h"
#include "tests/test_util.h"
#include "tests/train/run_util.h"
#include "train/trainer.h"

#include <catch2/catch.hpp>
#include <cstring>

using namespace slimtune;

namespace {

// Rows of `seq` tokens packing documents of random lengths (positions restart at each one),
// the last few slots of odd rows left as padding (document -1, no target).
data::TokenBatch packed_batch(int64_t batch, int64_t seq, int64_t vocab, uint64_t seed) {
    Rng rng(seed);
    data::TokenBatch b;
    b.batch = batch;
    b.seq = seq;
    int32_t doc = 0;
    for (int64_t r = 0; r < batch; ++r) {
        const int64_t used = r % 2 ? seq - 3 : seq;
        int64_t left_in_doc = 0, pos = 0;
        for (int64_t t = 0; t < seq; ++t) {
            if (t >= used) {
                b.ids.push_back(0);
                b.positions.push_back(0);
                b.doc_ids.push_back(-1);
                continue;
            }
            if (left_in_doc == 0) {
                left_in_doc = 3 + static_cast<int64_t>(rng.next_u64() % 10);
                pos = 0;
                ++doc;
            }
            b.ids.push_back(static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(vocab)));
            b.positions.push_back(static_cast<int32_t>(pos++));
            b.doc_ids.push_back(doc);
            --left_in_doc;
        }
    }
    for (size_t i = 0; i < b.ids.size(); ++i) {
        const bool last_of_doc = i + 1 == b.ids.size() || b.doc_ids[i + 1] != b.doc_ids[i];
        const bool counted = b.doc_ids[i] >= 0 && !last_of_doc;
        b.targets.push_back(counted ? b.ids[i + 1] : -100);
        b.counted += counted;
    }
    return b;
}

// Every linear layer of the blocks gets an adapter whose B is random (PEFT starts it at zero,
// which would leave A's gradient zero and the comparison weaker).
std::vector<Tensor> attach_lora(Model& m, double dropout) {
    LoraConfig cfg;
    cfg.targets = {"all-linear"};
    cfg.rank = 4;
    cfg.alpha = 8;
    cfg.dropout = dropout;
    Rng init(11);
    std::vector<Tensor> params;
    uint64_t seed = 100;
    for (const LoraModule& l : lora_attach(m, cfg, init)) {
        const auto b = test::random_normal(static_cast<size_t>(l.linear->lora.b.numel()), seed++);
        std::copy(b.begin(), b.end(), l.linear->lora.b.data());
        params.push_back(l.linear->lora.a);
        params.push_back(l.linear->lora.b);
    }
    return params;
}

std::vector<Tensor> train_everything(Model& m) {
    std::vector<Tensor> params;
    for (const NamedParam& p : model_params(m))
        params.push_back(p.tensor->set_requires_grad(true));
    return params;
}

struct Pass {
    float loss = 0;
    std::vector<std::vector<float>> grads; // of each trainable tensor, in model order
    size_t tape_entries = 0;               // recorded by the forward pass
    uint64_t dropout_draws = 0;
    int64_t held_bytes = 0; // tensor bytes the forward pass left alive (the tape's)
    int64_t peak_bytes = 0; // most tensor bytes alive during forward and backward
};

struct PassSpec {
    std::string fixture;
    bool lora = true;
    double dropout = 0;
    bool checkpoint = false;
    int64_t extra_layers = 0; // repeats of the fixture's blocks appended (a deeper model)
};

Pass forward_backward(const PassSpec& spec, const data::TokenBatch& b) {
    Model m = load_model(test::kModelFixtures + spec.fixture);
    const size_t n_layers = m.layers.size();
    for (int64_t i = 0; i < spec.extra_layers; ++i) {
        const size_t source = static_cast<size_t>(i) % n_layers;
        const BlockParams repeated = m.layers[source];
        m.layers.push_back(repeated);
        m.block.push_back(m.block[source]); // each layer carries its own block switches
    }
    std::vector<Tensor> params = spec.lora ? attach_lora(m, spec.dropout) : train_everything(m);
    Rng dropout_rng(77);
    const TokenLayout layout{.batch = b.batch,
                             .seq = b.seq,
                             .positions = b.positions,
                             .doc_ids = b.doc_ids,
                             .dropout_rng = &dropout_rng,
                             .checkpoint_activations = spec.checkpoint};
    clear_tape();
    Pass r;
    const int64_t before = tensor_bytes().live;
    reset_tensor_bytes_peak();
    {
        Tensor h = model_hidden(m, b.ids, layout);
        Tensor loss = model_loss(m, h, b.targets);
        r.loss = loss.item();
        r.tape_entries = tape_size();
        r.held_bytes = tensor_bytes().live - before;
        backward(loss);
    }
    r.peak_bytes = tensor_bytes().peak - before;
    r.dropout_draws = dropout_rng.offset;
    for (const Tensor& p : params) {
        const auto g = p.grad_values();
        r.grads.emplace_back(g.begin(), g.end());
    }
    return r;
}

// Equal bit for bit (memcmp, so -0 vs 0 and NaN payloads count), naming the first difference.
void require_bitwise(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
    INFO(what);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i)
        if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
            FAIL(what << ": element " << i << " of " << a.size() << " differs: " << a[i] << " vs "
                      << b[i]);
}

void require_same_gradients(const Pass& plain, const Pass& ckpt) {
    CHECK(std::memcmp(&plain.loss, &ckpt.loss, sizeof(float)) == 0);
    CHECK(plain.dropout_draws == ckpt.dropout_draws);
    REQUIRE(plain.grads.size() == ckpt.grads.size());
    size_t nonzero = 0;
    for (size_t i = 0; i < plain.grads.size(); ++i) {
        REQUIRE(!plain.grads[i].empty());
        require_bitwise(plain.grads[i], ckpt.grads[i], "gradient");
        nonzero += std::any_of(plain.grads[i].begin(), plain.grads[i].end(),
                               [](float g) { return g != 0.0f; });
    }
    CHECK(nonzero == plain.grads.size()); // every tensor is reached: the test compares something
    // The checkpointed pass really took the other path: one entry per block instead of dozens.
    CHECK(ckpt.tape_entries * 3 < plain.tape_entries);
}

} // namespace

TEST_CASE("checkpoint: backward through a replayed function equals the plain graph",
          "[checkpoint][unit]") {
    // With x used only by f its gradient is f's, taken whole: bitwise. Used elsewhere too, the
    // replay's sum reaches x in one addition instead of several: equal up to rounding.
    const bool x_used_elsewhere = GENERATE(false, true);
    INFO("x used outside f: " << x_used_elsewhere);
    const auto xv = test::random_normal(6, 1), wv = test::random_normal(3, 2);
    auto f = [](const Tensor& x, const Tensor& w) { return gelu_tanh(mul(add(x, w), w)); };
    auto run = [&](bool checkpoint) {
        Tensor x0 = Tensor::from({2, 3}, xv, true), w = Tensor::from({3}, wv, true);
        Tensor x = scale(x0, 1.5f); // a non-leaf input, as a block's is
        Tensor y;
        if (checkpoint) {
            {
                NoGradGuard off;
                y = f(x, w);
            }
            record("checkpoint", y,
                   checkpoint_backward(x, y, [f, w](const Tensor& again) { return f(again, w); }));
        } else {
            y = f(x, w);
        }
        Tensor loss = sum(mul(y, y));
        if (x_used_elsewhere)
            loss = add(loss, sum(mul(x, x)));
        backward(loss);
        CHECK(tape_size() == 0);
        const auto gx = x0.grad_values(), gw = w.grad_values();
        return std::pair{std::vector<float>(gx.begin(), gx.end()),
                         std::vector<float>(gw.begin(), gw.end())};
    };
    const auto plain = run(false), ckpt = run(true);
    REQUIRE(plain.first.size() == 6);
    require_bitwise(plain.second, ckpt.second, "parameter gradient");
    if (x_used_elsewhere)
        test::require_close(ckpt.first, plain.first, 1e-6, 1e-6, "input gradient");
    else
        require_bitwise(plain.first, ckpt.first, "input gradient");
}

TEST_CASE("checkpoint: a failing replay leaves the outer tape usable", "[checkpoint][unit]") {
    Tensor x = Tensor::from({3}, {1, 2, 3}, true);
    Tensor y;
    {
        NoGradGuard off;
        y = scale(x, 2.0f);
    }
    // A replay that computes something else (here a sum) is refused, not backpropagated.
    record("checkpoint", y,
           checkpoint_backward(x, y, [](const Tensor& again) { return sum(again); }));
    CHECK_THROWS_WITH(backward(sum(y)), Catch::Contains("checkpoint: the replay gave shape []"));
    CHECK(grad_enabled());
    clear_tape();
    Tensor z = sum(scale(x, 3.0f)); // recording works as before
    CHECK(tape_size() == 2);
    backward(z);
    CHECK(x.grad_values()[0] == 3.0f);
}

TEST_CASE("checkpoint: LoRA gradients equal the plain graph's bit for bit", "[checkpoint][train]") {
    const auto fixture = GENERATE(std::string("llama_gqa"), std::string("gpt2"));
    const double dropout = GENERATE(0.0, 0.2);
    INFO(fixture << ", LoRA dropout " << dropout);
    const auto b = packed_batch(3, 24, 150, 5);
    PassSpec spec{.fixture = fixture, .lora = true, .dropout = dropout};
    const Pass plain = forward_backward(spec, b);
    spec.checkpoint = true;
    const Pass ckpt = forward_backward(spec, b);
    require_same_gradients(plain, ckpt);
    if (dropout > 0) {
        // The masks matter to the gradients, so equality above means the replay drew the
        // forward's masks, not fresh ones.
        CHECK(plain.dropout_draws > 0);
        spec.dropout = 0;
        CHECK(forward_backward(spec, b).grads != ckpt.grads);
    }
}

TEST_CASE("checkpoint: full fine-tuning gradients equal the plain graph's bit for bit",
          "[checkpoint][train]") {
    const auto fixture = GENERATE(std::string("llama_gqa"), std::string("gpt2"));
    INFO(fixture);
    const auto b = packed_batch(2, 32, 150, 8);
    PassSpec spec{.fixture = fixture, .lora = false};
    const Pass plain = forward_backward(spec, b);
    spec.checkpoint = true;
    require_same_gradients(plain, forward_backward(spec, b));
}

TEST_CASE("checkpoint: a training run (LoRA, full) is the same run, step for step",
          "[checkpoint][train]") {
    const auto mode = GENERATE(std::string("lora"), std::string("full"));
    INFO(mode);
    train::TrainerConfig cfg;
    cfg.mode = mode;
    cfg.lora.targets = {"q_proj", "v_proj", "down_proj"};
    cfg.lora.rank = 4;
    cfg.lora.alpha = 8;
    cfg.lora.dropout = 0.1;
    cfg.optimizer.lr = 1e-2;
    cfg.schedule.name = "constant";
    cfg.seed = 3;
    Model m1 = load_model(test::kModelFixtures + "llama_gqa");
    Model m2 = load_model(test::kModelFixtures + "llama_gqa");
    train::Trainer plain(m1, cfg, 4);
    cfg.checkpoint_activations = true;
    train::Trainer ckpt(m2, cfg, 4);
    // Two micro-batches per step: the second accumulates into the first's gradients.
    const std::vector<data::TokenBatch> micro = {packed_batch(2, 20, 160, 1),
                                                 packed_batch(2, 20, 160, 2)};
    for (int step = 0; step < 4; ++step) {
        const auto s1 = plain.step(micro), s2 = ckpt.step(micro);
        INFO("step " << step + 1);
        CHECK(s1.loss == s2.loss);
        CHECK(s1.grad_norm == s2.grad_norm);
    }
    CHECK(plain.dropout_rng().offset == ckpt.dropout_rng().offset);
    for (size_t i = 0; i < plain.params().size(); ++i) {
        const auto a = plain.params()[i].tensor.values(), b = ckpt.params()[i].tensor.values();
        require_bitwise({a.begin(), a.end()}, {b.begin(), b.end()}, plain.params()[i].name.c_str());
    }
}

TEST_CASE("checkpoint: the forward keeps one tensor per block and the peak falls",
          "[checkpoint][train]") {
    // llama_gqa's two blocks repeated to 8; rows of 64 tokens, hidden 64.
    const auto b = packed_batch(4, 64, 160, 9);
    PassSpec spec{.fixture = "llama_gqa", .lora = true, .dropout = 0.1, .extra_layers = 6};
    const Pass plain = forward_backward(spec, b);
    spec.checkpoint = true;
    const Pass ckpt = forward_backward(spec, b);
    require_same_gradients(plain, ckpt);
    const int64_t layers = 8, activation = 4 * 64 * 64 * 4; // bytes of one [B*T, C] tensor
    // Checkpointed, the tape holds the embedding output (block 0's input), every block's output
    // (the next one's input) and the final norm's output: layers + 2 activations (measured:
    // exactly that, 655 364 B with the loss scalar); +4 leaves room for the loss's own saved
    // tensors. Recorded, every block keeps ~21 (measured: 11 042 820 B in all).
    INFO("held: plain " << plain.held_bytes << " B, checkpointed " << ckpt.held_bytes
                        << " B; peak: plain " << plain.peak_bytes << " B, checkpointed "
                        << ckpt.peak_bytes << " B; one activation " << activation << " B");
    CHECK(ckpt.held_bytes <= (layers + 4) * activation);
    CHECK(plain.held_bytes >= 8 * layers * activation);
    // The peak adds one block's replayed activations and their gradients.
    CHECK(ckpt.peak_bytes * 3 < plain.peak_bytes);
}
