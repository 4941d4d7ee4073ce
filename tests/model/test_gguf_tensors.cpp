// GGUF tensor names, the llama Q/K permutation and Llama-3 rope factors, on the reference
// checkpoints: names and shapes as llama.cpp's converter writes them (finetune.md §2.9), the
// permutation by hand, and the rope factors against the model's own scaled frequencies.
#include "model/io/gguf_metadata.h"
#include "model/io/gguf_tensors.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

using namespace slimtune;
using namespace slimtune::io;

namespace {

const std::string kModels = std::string(SLIMTUNE_SOURCE_DIR) + "/tests/fixtures/models/";

std::map<std::string, GgufTensorSource> by_name(Model& m) {
    std::map<std::string, GgufTensorSource> r;
    for (auto& s : gguf_tensor_sources(m))
        r[s.name] = s;
    return r;
}

} // namespace

TEST_CASE("gguf tensors: Q/K rows interleave the two halves of each head", "[gguf]") {
    // 2 heads of 4 rows, 2 columns: row r holds (10r, 10r + 1).
    std::vector<float> w;
    for (int r = 0; r < 8; ++r)
        w.insert(w.end(), {10.0f * static_cast<float>(r), 10.0f * static_cast<float>(r) + 1});
    const auto p = permute_qk_rows(w.data(), 8, 2, 2);
    // Within a head: new rows 0,1,2,3 = old rows 0,2,1,3.
    const std::vector<float> want{0, 1, 20, 21, 10, 11, 30, 31, 40, 41, 60, 61, 50, 51, 70, 71};
    CHECK(p == want);
    CHECK_THROWS(permute_qk_rows(w.data(), 8, 2, 3));
}

TEST_CASE("gguf tensors: names, shapes and roles per family", "[gguf]") {
    Model g = load_model(kModels + "gpt2");
    auto gt = by_name(g);
    CHECK(gt.count("token_embd.weight"));
    CHECK(gt.count("position_embd.weight"));
    CHECK(gt.at("blk.0.attn_qkv.weight").role == TensorRole::AttnQkv);
    CHECK(gt.at("blk.1.ffn_down.bias").role == TensorRole::Bias);
    CHECK(gt.count("output_norm.bias"));
    CHECK_FALSE(gt.count("output.weight")); // tied
    // (out, in): c_attn is 3C x C once the Conv1D layout is undone.
    const auto& qkv = gt.at("blk.0.attn_qkv.weight");
    CHECK(qkv.shape == std::vector<int64_t>{3 * g.cfg.hidden, g.cfg.hidden});
    CHECK(gguf_architecture(g.cfg) == "gpt2");

    Model l = load_model(kModels + "llama_gqa");
    auto lt = by_name(l);
    CHECK(gguf_architecture(l.cfg) == "llama");
    CHECK(lt.at("blk.0.attn_k.weight").shape ==
          std::vector<int64_t>{l.cfg.n_head_kv * l.cfg.head_dim, l.cfg.hidden});
    CHECK(lt.at("blk.1.ffn_gate.weight").role == TensorRole::FfnGate);
    CHECK(lt.count("output.weight") == (l.cfg.tie_word_embeddings ? 0 : 1));
    CHECK_FALSE(lt.count("rope_freqs.weight"));
    // Q is permuted for llama (head rows interleaved), V is not.
    const auto q = lt.at("blk.0.attn_q.weight").values();
    const float* hq = l.layers[0].q.weight.data();
    const int64_t cols = l.cfg.hidden, half = l.cfg.head_dim / 2;
    CHECK(q[static_cast<size_t>(1 * cols)] == hq[half * cols]);
    const auto v = lt.at("blk.0.attn_v.weight").values();
    CHECK(std::equal(v.begin(), v.end(), l.layers[0].v.weight.data()));

    Model qw = load_model(kModels + "qwen2");
    auto qt = by_name(qw);
    CHECK(gguf_architecture(qw.cfg) == "qwen2");
    CHECK(qt.count("blk.0.attn_q.bias"));
    // qwen2 uses NEOX rope: no permutation.
    const auto qb = qt.at("blk.0.attn_q.bias").values();
    CHECK(std::equal(qb.begin(), qb.end(), qw.layers[0].q.bias.data()));

    Model gr = load_model(kModels + "granite");
    CHECK(gguf_architecture(gr.cfg) == "granite");
}

TEST_CASE("gguf tensors: Llama-3 rope factors equal the model's own scaled frequencies", "[gguf]") {
    Model m = load_model(kModels + "llama3_scaled");
    auto t = by_name(m);
    REQUIRE(t.count("rope_freqs.weight"));
    const auto f = t.at("rope_freqs.weight").values();
    REQUIRE(f.size() == static_cast<size_t>(m.cfg.head_dim / 2));
    // llama.cpp divides the base frequency by the factor: base / scaled.
    const std::vector<double> scaled = rope_frequencies(m.cfg);
    const double d = static_cast<double>(m.cfg.head_dim);
    bool some_scaled = false;
    for (size_t i = 0; i < f.size(); ++i) {
        const double base = 1.0 / std::pow(m.cfg.rope_theta, 2.0 * static_cast<double>(i) / d);
        CHECK(f[i] == Approx(base / scaled[i]).epsilon(1e-6));
        some_scaled |= f[i] > 1.0f;
    }
    CHECK(some_scaled);
    CHECK(f.front() == 1.0f);     // the highest frequency is left alone
    CHECK(f.back() == Approx(8)); // the lowest is divided by the factor
}
