// Every op against PyTorch: tests/reference/gen_ops.py computes outputs and gradients in
// float64 from the same float32 inputs; our float results must agree to 1e-5 absolute
// (plus 1e-5 relative, for large values). The backward pass is driven by the file's upstream
// gradient r (L = <r, out>).
#include "model/autograd.h"
#include "model/block.h"
#include "model/io/safetensors.h"
#include "model/ops/ops.h"
#include "tests/test_util.h"

#include <map>

using namespace slimtune;
using test::require_close;

namespace {

constexpr double kAtol = 1e-5, kRtol = 1e-5;

class Golden {
public:
    explicit Golden(const std::string& name)
        : name_(name), file_(io::SafetensorsFile::open(std::string(SLIMTUNE_GOLDEN_DIR) + "/" +
                                                       name + ".safetensors")) {}

    // Input `in.<n>` as a trainable leaf (remembered, so its gradient is checked).
    Tensor input(const std::string& n, bool trainable = true) {
        const auto& e = file_.at("in." + n);
        Tensor t = Tensor::from(e.shape, file_.read_f32("in." + n), trainable);
        if (trainable)
            inputs_[n] = t;
        return t;
    }
    std::vector<int32_t> ids(const std::string& n) const {
        std::vector<int32_t> r;
        for (int64_t v : file_.read_i64("in." + n))
            r.push_back(static_cast<int32_t>(v));
        return r;
    }
    double meta(const std::string& key) const { return std::stod(file_.metadata().at(key)); }

    // Backpropagates the file's upstream gradient through `out` and compares the output and
    // the gradient of every trainable input.
    void check(const Tensor& out) {
        require_close(out.values(), file_.read_f64("out"), kAtol, kRtol, name_ + " out");
        backward(out, file_.read_f32("grad_out"));
        for (const auto& [n, t] : inputs_)
            require_close(t.grad_values(), file_.read_f64("grad." + n), kAtol, kRtol,
                          name_ + " grad." + n);
    }

private:
    std::string name_;
    io::SafetensorsFile file_;
    std::map<std::string, Tensor> inputs_;
};

} // namespace

TEST_CASE("golden: linear", "[model][golden]") {
    for (std::string name : {"linear", "linear_nobias"}) {
        Golden g(name);
        Tensor x = g.input("x"), w = g.input("weight");
        g.check(linear(x, w, name == "linear" ? g.input("bias") : Tensor()));
    }
}

TEST_CASE("golden: matmul with transposes", "[model][golden]") {
    for (std::string name : {"matmul_nn", "matmul_nt", "matmul_tn", "matmul_tt", "matmul_2d"}) {
        Golden g(name);
        const bool ta = name == "matmul_tn" || name == "matmul_tt";
        const bool tb = name == "matmul_nt" || name == "matmul_tt";
        Tensor a = g.input("a"), b = g.input("b");
        g.check(matmul(a, b, ta, tb));
    }
}

TEST_CASE("golden: add, mul, scale with broadcasting", "[model][golden]") {
    for (std::string name : {"add_same", "add_bcast_row", "add_bcast_mixed"}) {
        Golden g(name);
        Tensor a = g.input("a"), b = g.input("b");
        g.check(add(a, b));
    }
    for (std::string name : {"mul_same", "mul_bcast"}) {
        Golden g(name);
        Tensor a = g.input("a"), b = g.input("b");
        g.check(mul(a, b));
    }
    Golden g("scale");
    g.check(scale(g.input("x"), static_cast<float>(g.meta("alpha"))));
}

TEST_CASE("golden: narrow_last and sum", "[model][golden]") {
    {
        Golden g("narrow_last");
        g.check(narrow_last(g.input("x"), static_cast<int64_t>(g.meta("start")),
                            static_cast<int64_t>(g.meta("len"))));
    }
    Golden g("sum");
    g.check(sum(g.input("x")));
}

TEST_CASE("golden: embedding", "[model][golden]") {
    Golden g("embedding");
    Tensor w = g.input("weight");
    g.check(embedding(w, g.ids("ids")));
}

TEST_CASE("golden: layer_norm and rms_norm", "[model][golden]") {
    {
        Golden g("layer_norm");
        Tensor x = g.input("x"), w = g.input("weight"), b = g.input("bias");
        g.check(layer_norm(x, w, b, static_cast<float>(g.meta("eps"))));
    }
    Golden g("rms_norm");
    Tensor x = g.input("x"), w = g.input("weight");
    g.check(rms_norm(x, w, static_cast<float>(g.meta("eps"))));
}

TEST_CASE("golden: gelu_tanh, silu, swiglu", "[model][golden]") {
    {
        Golden g("gelu_tanh");
        g.check(gelu_tanh(g.input("x")));
    }
    {
        Golden g("silu");
        g.check(silu(g.input("x")));
    }
    Golden g("swiglu");
    Tensor gate = g.input("gate"), up = g.input("up");
    g.check(swiglu(gate, up));
}

TEST_CASE("golden: rope, full and partial rotary", "[model][golden]") {
    for (std::string name : {"rope_full", "rope_partial"}) {
        Golden g(name);
        Tensor x = g.input("x");
        const auto inv_freq =
            rope_inv_freq(static_cast<int64_t>(g.meta("rotary_dim")), g.meta("theta"));
        g.check(rope(x, g.ids("positions"), inv_freq));
    }
}

TEST_CASE("golden: attention (GQA, packed documents, MHA)", "[model][golden]") {
    for (std::string name : {"attention_gqa", "attention_doc", "attention_mha"}) {
        Golden g(name);
        Tensor q = g.input("q"), k = g.input("k"), v = g.input("v");
        const std::vector<int32_t> doc =
            name == "attention_doc" ? g.ids("doc") : std::vector<int32_t>{};
        g.check(attention(q, k, v, {.scale = static_cast<float>(g.meta("scale")), .doc_ids = doc}));
    }
}

TEST_CASE("golden: cross-entropy, plain, scaled and fused with the head", "[model][golden]") {
    {
        Golden g("cross_entropy");
        g.check(cross_entropy(g.input("logits"), g.ids("targets")));
    }
    {
        Golden g("cross_entropy_scaled");
        g.check(cross_entropy(g.input("logits"), g.ids("targets"),
                              {.logit_scale = static_cast<float>(g.meta("logit_scale"))}));
    }
    const int64_t chunk = GENERATE(int64_t{0}, int64_t{4}); // one chunk, and three
    Golden g("linear_cross_entropy");
    Tensor h = g.input("h"), w = g.input("weight");
    g.check(linear_cross_entropy(h, w, g.ids("targets"), {.chunk_rows = chunk}));
}

TEST_CASE("golden: dropout mask and scaling", "[model][golden]") {
    Golden g("dropout");
    Rng rng(static_cast<uint64_t>(g.meta("seed")), static_cast<uint64_t>(g.meta("offset")));
    g.check(dropout(g.input("x"), static_cast<float>(g.meta("p")), rng));
}

// The two blocks run model/block.cpp itself, fed the golden file's Hugging Face-named weights.
TEST_CASE("golden: one Llama block (RMSNorm, RoPE, GQA, packed docs, SwiGLU)", "[model][golden]") {
    Golden g("block_llama");
    const BlockConfig cfg{.hidden = 32,
                          .n_head = 4,
                          .n_head_kv = 2,
                          .head_dim = 8,
                          .intermediate = 48,
                          .norm = NormKind::Rms,
                          .mlp = MlpKind::SwiGlu,
                          .bias = false,
                          .rope = true,
                          .rope_theta = 10000.0,
                          .rotary_dim = 0,
                          .norm_eps = 1e-6f};
    auto w = [&](const std::string& n) { return LinearParams{g.input(n + ".weight"), {}}; };
    BlockParams p;
    p.norm1.weight = g.input("input_layernorm.weight");
    p.q = w("self_attn.q_proj");
    p.k = w("self_attn.k_proj");
    p.v = w("self_attn.v_proj");
    p.o = w("self_attn.o_proj");
    p.norm2.weight = g.input("post_attention_layernorm.weight");
    p.gate = w("mlp.gate_proj");
    p.up = w("mlp.up_proj");
    p.down = w("mlp.down_proj");
    const std::vector<int32_t> pos = g.ids("positions"), doc = g.ids("doc");
    Tensor x = g.input("x");
    g.check(block_forward(cfg, p, x, {.batch = 2, .seq = 8, .positions = pos, .doc_ids = doc}));
}

TEST_CASE("golden: one GPT-2 block (LayerNorm, biases, GELU)", "[model][golden]") {
    Golden g("block_gpt2");
    const BlockConfig cfg{.hidden = 32,
                          .n_head = 4,
                          .n_head_kv = 4,
                          .head_dim = 8,
                          .intermediate = 128,
                          .norm = NormKind::Layer,
                          .mlp = MlpKind::Gelu,
                          .bias = true,
                          .rope = false,
                          .rope_theta = 0,
                          .rotary_dim = 0,
                          .norm_eps = 1e-5f};
    auto lin = [&](const std::string& n) {
        Tensor wt = g.input(n + ".weight"), b = g.input(n + ".bias");
        return LinearParams{wt, b};
    };
    auto norm = [&](const std::string& n) {
        Tensor wt = g.input(n + ".weight"), b = g.input(n + ".bias");
        return NormParams{wt, b};
    };
    BlockParams p;
    p.norm1 = norm("ln_1");
    p.q = lin("attn.q_proj");
    p.k = lin("attn.k_proj");
    p.v = lin("attn.v_proj");
    p.o = lin("attn.c_proj");
    p.norm2 = norm("ln_2");
    p.up = lin("mlp.c_fc");
    p.down = lin("mlp.c_proj");
    Tensor x = g.input("x");
    g.check(block_forward(cfg, p, x, {.batch = 2, .seq = 8, .positions = {}, .doc_ids = {}}));
}
