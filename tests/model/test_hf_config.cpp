// config.json parsing: families, defaults, RoPE scaling, EOS lists, and the errors.
#include "common/error.h"
#include "model/hf_config.h"
#include "tests/test_util.h"

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace slimtune;
using Catch::Contains;

namespace {
const char* kLlama = R"({"model_type": "llama", "vocab_size": 100, "hidden_size": 64,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "intermediate_size": 96, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
  "rope_theta": 10000.0, "eos_token_id": [7, 9], "bos_token_id": 1, "tie_word_embeddings": true})";
} // namespace

TEST_CASE("hf_config: llama keys, defaults and switches", "[model][unit]") {
    const ModelConfig c = parse_hf_config(kLlama, "config.json");
    CHECK(c.family == Family::Llama);
    CHECK(c.head_dim == 16);
    CHECK(c.n_head_kv == 2);
    CHECK(c.eos_token_ids == std::vector<int32_t>{7, 9});
    CHECK(c.tie_word_embeddings);
    CHECK_FALSE(c.qkv_bias);
    const BlockConfig b = block_config(c);
    CHECK(b.norm == NormKind::Rms);
    CHECK(b.mlp == MlpKind::SwiGlu);
    REQUIRE(b.rope_inv_freq.size() == 8);
    CHECK(b.rope_inv_freq[1] == Approx(1.0 / std::pow(10000.0, 2.0 / 16)).epsilon(1e-15));
}

TEST_CASE("hf_config: gpt2, qwen2 and granite specifics", "[model][unit]") {
    const ModelConfig g = parse_hf_config(
        R"({"model_type": "gpt2", "vocab_size": 300, "n_embd": 64, "n_layer": 2, "n_head": 4,
            "n_positions": 128, "n_inner": null, "activation_function": "gelu_new",
            "eos_token_id": 299})",
        "g.json");
    CHECK(g.intermediate == 256); // null n_inner means 4 * n_embd
    CHECK(g.tie_word_embeddings);
    CHECK(g.qkv_bias);
    CHECK(rope_frequencies(g).empty());
    CHECK(block_config(g).norm == NormKind::Layer);

    const ModelConfig q = parse_hf_config(
        R"({"model_type": "qwen2", "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 96})",
        "q.json");
    CHECK(q.qkv_bias);
    CHECK_FALSE(q.o_bias);
    CHECK(q.rope_theta == 1e6);

    const ModelConfig r = parse_hf_config(
        R"({"model_type": "granite", "vocab_size": 100, "hidden_size": 64,
            "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 96,
            "embedding_multiplier": 12.0, "residual_multiplier": 0.22,
            "attention_multiplier": 0.0625, "logits_scaling": 8.0})",
        "r.json");
    CHECK(r.embedding_multiplier == 12.0f);
    CHECK(block_config(r).residual_multiplier == 0.22f);
    CHECK(block_config(r).attn_scale == 0.0625f);
    CHECK(r.logits_scaling == 8.0f);
}

TEST_CASE("hf_config: rope scaling, linear and llama3", "[model][unit]") {
    auto with = [](const std::string& scaling) {
        std::string s = kLlama;
        s.insert(s.size() - 1, ", \"rope_scaling\": " + scaling);
        return rope_frequencies(parse_hf_config(s, "c.json"));
    };
    const auto plain = with("null");
    const auto linear = with(R"({"type": "linear", "factor": 2.0})");
    for (size_t i = 0; i < plain.size(); ++i)
        CHECK(linear[i] == Approx(plain[i] / 2).epsilon(1e-15));
    // llama3 with original context 64: wavelengths above 64 are divided by 8, below 16 kept,
    // between interpolated (computed by hand from the definition).
    const auto l3 = with(R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                             "high_freq_factor": 4.0, "original_max_position_embeddings": 64})");
    for (size_t i = 0; i < plain.size(); ++i) {
        const double wavelen = 2 * M_PI / plain[i];
        double want = plain[i];
        if (wavelen > 64)
            want = plain[i] / 8;
        else if (wavelen >= 16) {
            const double smooth = (64 / wavelen - 1.0) / 3.0;
            want = (1 - smooth) * plain[i] / 8 + smooth * plain[i];
        }
        CHECK(l3[i] == Approx(want).epsilon(1e-14));
    }
    CHECK(l3.front() == plain.front()); // the highest frequency is untouched
    CHECK(l3.back() == Approx(plain.back() / 8).epsilon(1e-14));
}

TEST_CASE("hf_config: bad configs are one-line ConfigErrors naming file and key", "[model][unit]") {
    CHECK_THROWS_WITH(parse_hf_config("{", "m/config.json"),
                      Contains("m/config.json") && Contains("not valid JSON"));
    CHECK_THROWS_WITH(parse_hf_config(R"({"model_type": "mamba"})", "c.json"),
                      Contains("model_type 'mamba' is not supported"));
    CHECK_THROWS_WITH(parse_hf_config(R"({"model_type": "llama", "vocab_size": 10})", "c.json"),
                      Contains("missing required key 'hidden_size'"));
    std::string s = kLlama;
    s.replace(s.find("\"hidden_size\": 64"), 17, "\"hidden_size\": \"64\"");
    CHECK_THROWS_WITH(parse_hf_config(s, "c.json"), Contains("'hidden_size' must be an integer"));
    s = kLlama;
    s.replace(s.find("\"num_key_value_heads\": 2"), 24, "\"num_key_value_heads\": 3");
    CHECK_THROWS_WITH(parse_hf_config(s, "c.json"), Contains("not a multiple"));
    s = kLlama;
    s.insert(s.size() - 1, R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4})");
    CHECK_THROWS_WITH(parse_hf_config(s, "c.json"), Contains("rope_scaling type 'yarn'"));
    CHECK_THROWS_WITH(read_hf_config("/nonexistent/model"), Contains("not a directory"));
}

TEST_CASE("hf_config: generation_config.json overrides the EOS ids", "[model][unit]") {
    const auto dir = std::filesystem::temp_directory_path() / "slimtune_hfcfg_test";
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "config.json") << kLlama;
    CHECK(read_hf_config(dir.string()).eos_token_ids == std::vector<int32_t>{7, 9});
    std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": 5})";
    CHECK(read_hf_config(dir.string()).eos_token_ids == std::vector<int32_t>{5});
    std::ofstream(dir / "generation_config.json") << R"({"eos_token_id": "x"})";
    CHECK_THROWS_WITH(read_hf_config(dir.string()), Contains("generation_config.json"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("hf_config: the written config.json reads back to the same config", "[model][unit]") {
    for (const char* fixture :
         {"gpt2", "granite", "llama3_scaled", "llama_gqa", "llama_linear_rope", "qwen2", "smollm",
          "gemma", "gemma2", "gemma3_270m", "gemma3_1b"}) {
        INFO(fixture);
        const ModelConfig a =
            read_hf_config(std::string(SLIMTUNE_SOURCE_DIR) + "/tests/fixtures/models/" + fixture);
        const ModelConfig b = parse_hf_config(hf_config_json(a), "written");
        CHECK(b.model_type == a.model_type);
        CHECK(b.family == a.family);
        for (auto [x, y] : {std::pair{a.vocab_size, b.vocab_size},
                            {a.hidden, b.hidden},
                            {a.n_layer, b.n_layer},
                            {a.n_head, b.n_head},
                            {a.n_head_kv, b.n_head_kv},
                            {a.head_dim, b.head_dim},
                            {a.intermediate, b.intermediate},
                            {a.max_positions, b.max_positions}})
            CHECK(x == y);
        CHECK(b.norm_eps == a.norm_eps);
        CHECK(b.rope_theta == a.rope_theta);
        CHECK(b.rope_scaling.kind == a.rope_scaling.kind);
        CHECK(b.rope_scaling.factor == a.rope_scaling.factor);
        CHECK(b.rope_scaling.original_max_positions == a.rope_scaling.original_max_positions);
        CHECK(b.qkv_bias == a.qkv_bias);
        CHECK(b.o_bias == a.o_bias);
        CHECK(b.mlp_bias == a.mlp_bias);
        CHECK(b.tie_word_embeddings == a.tie_word_embeddings);
        CHECK(b.embedding_multiplier == a.embedding_multiplier);
        CHECK(b.residual_multiplier == a.residual_multiplier);
        CHECK(b.attention_multiplier == a.attention_multiplier);
        CHECK(b.logits_scaling == a.logits_scaling);
        CHECK(b.bos_token_id == a.bos_token_id);
        CHECK(b.eos_token_ids == a.eos_token_ids);
        CHECK(b.attn_softcap == a.attn_softcap);
        CHECK(b.final_softcap == a.final_softcap);
        CHECK(b.sliding_window == a.sliding_window);
        CHECK(b.sliding_layers == a.sliding_layers);
        CHECK(b.rope_local_theta == a.rope_local_theta);
    }
    // Floats are written with their own shortest digits.
    CHECK_THAT(hf_config_json(parse_hf_config(kLlama, "k")), Contains("\"rms_norm_eps\": 1e-05"));
}

TEST_CASE("hf_config: Gemma's three generations, their defaults and layer patterns",
          "[model][unit]") {
    const char* base = R"("vocab_size": 100, "hidden_size": 640, "num_hidden_layers": 8,
        "num_attention_heads": 4, "num_key_value_heads": 1, "intermediate_size": 96)";
    auto parse = [&](const std::string& type, const std::string& extra) {
        return parse_hf_config("{\"model_type\": \"" + type + "\", " + base + extra + "}",
                               "g.json");
    };
    const ModelConfig g1 = parse("gemma", R"(, "hidden_act": "gelu")");
    CHECK(g1.family == Family::Gemma);
    CHECK(g1.head_dim == 256); // GemmaConfig's default, not hidden / heads
    CHECK(g1.tie_word_embeddings);
    CHECK(g1.embedding_multiplier == static_cast<float>(std::sqrt(640.0)));
    CHECK(g1.sliding_layers.empty());
    const BlockConfig b1 = block_config(g1);
    CHECK(b1.mlp == MlpKind::GeGlu);
    CHECK(b1.norm_weight_offset == 1.0f);
    CHECK_FALSE(b1.post_norms);
    CHECK(b1.attn_scale == 0.0f); // 1/sqrt(head_dim)

    // Gemma 2: Gemma2Config's caps and window, sliding layers 0, 2, 4, ...
    const ModelConfig g2 = parse("gemma2", R"(, "query_pre_attn_scalar": 144)");
    CHECK(g2.attn_softcap == 50.0f);
    CHECK(g2.final_softcap == 30.0f);
    CHECK(g2.sliding_window == 4096);
    CHECK(g2.attention_multiplier == static_cast<float>(1.0 / 12.0));
    CHECK(g2.sliding_layers ==
          std::vector<bool>{true, false, true, false, true, false, true, false});
    CHECK(block_config(g2, 0).window == 4096);
    CHECK(block_config(g2, 1).window == 0);
    CHECK(block_config(g2, 1).post_norms);
    CHECK_FALSE(block_config(g2, 1).qk_norm);

    // Gemma 3: every 6th layer global; local layers rotate with their own base, unscaled.
    const ModelConfig g3 = parse("gemma3_text", R"(, "sliding_window": 512,
        "sliding_window_pattern": 6, "rope_scaling": {"rope_type": "linear", "factor": 8.0})");
    CHECK(g3.attn_softcap == 0.0f);
    CHECK(g3.final_softcap == 0.0f);
    CHECK(g3.rope_theta == 1e6);
    CHECK(g3.sliding_layers == std::vector<bool>{true, true, true, true, true, false, true, true});
    const BlockConfig local = block_config(g3, 0), global = block_config(g3, 5);
    CHECK(local.qk_norm);
    CHECK(local.window == 512);
    CHECK(global.window == 0);
    CHECK(local.rope_inv_freq[1] == Approx(std::pow(10000.0, -2.0 / 256)).epsilon(1e-15));
    CHECK(global.rope_inv_freq[1] == Approx(std::pow(1e6, -2.0 / 256) / 8).epsilon(1e-15));
    // layer_types (gemma-3-270m) says the same as the pattern.
    const ModelConfig g3t = parse("gemma3_text", R"(, "layer_types": ["sliding_attention",
        "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
        "full_attention", "sliding_attention", "sliding_attention"])");
    CHECK(g3t.sliding_layers == g3.sliding_layers);

    CHECK_THROWS_WITH(parse("gemma3_text", R"(, "layer_types": ["sliding_attention"])"),
                      Contains("g.json") && Contains("layer_types"));
    CHECK_THROWS_WITH(parse("gemma2", R"(, "hidden_activation": "gelu")"),
                      Contains("hidden_activation 'gelu'"));
    CHECK_THROWS_WITH(parse("gemma3_text", R"(, "use_bidirectional_attention": true)"),
                      Contains("use_bidirectional_attention"));
}
