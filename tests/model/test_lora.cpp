// LoRA as PEFT defines it: target selection, initialisation, scaling, the adapted forward,
// merge / unmerge, and the PEFT adapter files (keys, shapes, config, round trip).
#include "common/error.h"
#include "model/autograd.h"
#include "model/io/safetensors.h"
#include "model/io/save_model.h"
#include "model/lora.h"
#include "tests/model/logits_util.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

using namespace slimtune;
using nlohmann::json;
using slimtune::test::TempDir;

namespace {

const std::string kModels = std::string(SLIMTUNE_SOURCE_DIR) + "/tests/fixtures/models/";

// Gives every adapter a non-zero B so the adapter changes the output.
void randomize_b(Model& m, uint64_t seed) {
    Rng rng(seed);
    for (LoraModule& l : lora_modules(m))
        for (int64_t i = 0; i < l.linear->lora.b.numel(); ++i)
            l.linear->lora.b.data()[i] = 0.05f * rng.next_normal();
}

std::vector<std::string> modules_of(const std::vector<NamedLinear>& v) {
    std::vector<std::string> r;
    for (const auto& l : v)
        r.push_back(l.module);
    return r;
}

} // namespace

TEST_CASE("LoRA targets are selected as PEFT selects them", "[lora]") {
    Model m = load_model(kModels + "llama_gqa");
    LoraConfig c;
    c.targets = {"q_proj", "v_proj"};
    auto picked = modules_of(lora_select(m, c));
    REQUIRE(picked.size() == 2 * m.layers.size());
    CHECK(picked[0] == "model.layers.0.self_attn.q_proj");
    CHECK(picked[1] == "model.layers.0.self_attn.v_proj");
    c.targets = {"self_attn.o_proj"}; // a dotted suffix
    CHECK(lora_select(m, c).size() == m.layers.size());
    c.targets = {"proj"}; // a suffix must follow a '.' : "q_proj" does not end in ".proj"
    CHECK_THROWS_WITH(lora_select(m, c), Catch::Contains("match no linear layer") &&
                                             Catch::Contains("model.layers.0.self_attn.q_proj"));
    c.targets = {"all-linear"};
    CHECK(lora_select(m, c).size() == 7 * m.layers.size()); // never lm_head
    c.targets = {};
    c.target_regex = ".*layers\\.1\\..*(q|k)_proj";
    CHECK(modules_of(lora_select(m, c)) ==
          std::vector<std::string>{"model.layers.1.self_attn.q_proj",
                                   "model.layers.1.self_attn.k_proj"});
    c.target_regex.clear();
    c.targets = {"q_proj"};
    c.layers = {1};
    CHECK(modules_of(lora_select(m, c)) ==
          std::vector<std::string>{"model.layers.1.self_attn.q_proj"});
    c.layers.clear();
    c.rank = 0;
    CHECK_THROWS_WITH(lora_select(m, c), Catch::Contains("lora.rank"));

    Model g = load_model(kModels + "gpt2");
    LoraConfig gc;
    gc.targets = {"c_attn", "c_proj"}; // attn.c_proj and mlp.c_proj both match
    const auto gp = lora_select(g, gc);
    REQUIRE(gp.size() == 3 * g.layers.size());
    CHECK(gp[0].module == "transformer.h.0.attn.c_attn");
    CHECK(gp[0].conv1d);
}

TEST_CASE("LoRA init, scaling, patterns and the adapted forward", "[lora]") {
    Model m = load_model(kModels + "llama_gqa");
    const std::vector<int32_t> ids = {1, 5, 9, 13, 17, 21};
    const auto base = test::logits_of(m, ids);
    LoraConfig c;
    c.targets = {"q_proj", "down_proj"};
    c.rank = 4;
    c.alpha = 8;
    c.rank_pattern = {{"layers\\.1\\.self_attn\\.q_proj", 2}};
    c.alpha_pattern = {{"down_proj", 32.0}};
    Rng rng(7);
    const auto mods = lora_attach(m, c, rng);
    for (const LoraModule& l : mods) {
        const LoraParams& p = l.linear->lora;
        const int64_t in = p.a.dim(1);
        const float bound = 1.0f / std::sqrt(static_cast<float>(in));
        float amax = 0;
        for (float v : p.a.values())
            amax = std::max(amax, std::abs(v));
        CHECK(amax <= bound);
        CHECK(amax > 0.5f * bound); // kaiming-uniform fills the range
        for (float v : p.b.values())
            CHECK(v == 0.0f);
        CHECK(p.a.requires_grad());
        CHECK_FALSE(l.linear->weight.requires_grad());
        const bool q1 = l.module == "model.layers.1.self_attn.q_proj";
        const bool down = l.module.find("down_proj") != std::string::npos;
        CHECK(l.rank == (q1 ? 2 : 4));
        CHECK(p.scaling == Approx((down ? 32.0 : 8.0) / l.rank));
    }
    // B = 0: the adapted model computes exactly the base model.
    CHECK(test::logits_of(m, ids) == base);
    // rsLoRA scales by alpha / sqrt(r).
    Model r = load_model(kModels + "llama_gqa");
    LoraConfig rc;
    rc.targets = {"q_proj"};
    rc.rank = 16;
    rc.alpha = 8;
    rc.rslora = true;
    Rng rng2(1);
    CHECK(lora_attach(r, rc, rng2)[0].linear->lora.scaling == Approx(2.0f));
}

TEST_CASE("merging LoRA into the weights gives the unmerged outputs; unmerge restores", "[lora]") {
    for (const char* fixture : {"llama_gqa", "gpt2", "qwen2"}) {
        DYNAMIC_SECTION(fixture) {
            Model m = load_model(kModels + fixture);
            const std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
            const auto base = test::logits_of(m, ids);
            const std::vector<float> w_before(m.layers[0].o.weight.values().begin(),
                                              m.layers[0].o.weight.values().end());
            LoraConfig c;
            c.targets = {"all-linear"};
            c.rank = 4;
            c.alpha = 8;
            Rng rng(3);
            lora_attach(m, c, rng);
            randomize_b(m, 11);
            const auto adapted = test::logits_of(m, ids);
            double moved = 0;
            for (size_t i = 0; i < base.size(); ++i)
                moved = std::max(moved, std::abs(static_cast<double>(adapted[i] - base[i])));
            CHECK(moved > 1e-3); // the adapters matter
            lora_merge(m);
            test::require_close(test::logits_of(m, ids), adapted, 1e-5, 1e-5, "merged vs unmerged");
            lora_merge(m); // a second merge is a no-op
            test::require_close(test::logits_of(m, ids), adapted, 1e-5, 1e-5, "merged twice");
            lora_unmerge(m);
            test::require_close(std::vector<float>(m.layers[0].o.weight.values().begin(),
                                                   m.layers[0].o.weight.values().end()),
                                w_before, 1e-6, 1e-6, "weights after unmerge");
            test::require_close(test::logits_of(m, ids), adapted, 1e-5, 1e-5, "unmerged again");
        }
    }
}

TEST_CASE("PEFT adapter files: keys, shapes, config, and a round trip", "[lora]") {
    TempDir dir("peft");
    Model m = load_model(kModels + "gpt2");
    LoraConfig c;
    c.targets = {"c_attn", "c_proj"};
    c.rank = 4;
    c.alpha = 16;
    c.dropout = 0.05;
    c.layers = {0, 1};
    Rng rng(5);
    lora_attach(m, c, rng);
    randomize_b(m, 9);
    const std::vector<int32_t> ids = {10, 20, 30, 40};
    const auto adapted = test::logits_of(m, ids);
    save_peft_adapter(m, c, dir.str(), "tests/fixtures/models/gpt2");

    const io::SafetensorsFile f = io::SafetensorsFile::open(dir.file("adapter_model.safetensors"));
    const auto* a = f.find("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
    const auto* b = f.find("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight");
    REQUIRE(a);
    REQUIRE(b);
    const int64_t C = m.cfg.hidden;
    CHECK(a->shape == std::vector<int64_t>{4, C});     // (r, in)
    CHECK(b->shape == std::vector<int64_t>{3 * C, 4}); // (out, r)
    CHECK(f.entries().size() == 2 * 3 * 2);            // 3 modules x 2 layers x (A, B)
    std::ifstream in(dir.file("adapter_config.json"));
    const json cfg = json::parse(in);
    CHECK(cfg["peft_type"] == "LORA");
    CHECK(cfg["task_type"] == "CAUSAL_LM");
    CHECK(cfg["r"] == 4);
    CHECK(cfg["lora_alpha"] == 16.0);
    CHECK(cfg["fan_in_fan_out"] == true);
    CHECK(cfg["target_modules"] == json::array({"c_attn", "c_proj"}));
    CHECK(cfg["layers_to_transform"] == json::array({0, 1}));

    Model fresh = load_model(kModels + "gpt2");
    const LoraConfig back = load_peft_adapter(fresh, dir.str());
    CHECK(back.rank == 4);
    CHECK(back.dropout == Approx(0.05));
    CHECK(test::logits_of(fresh, ids) == adapted); // bit for bit: same values, same computation

    // A Llama adapter does not fit GPT-2: clear error naming the file or the targets.
    Model llama = load_model(kModels + "llama_gqa");
    CHECK_THROWS_AS(load_peft_adapter(llama, dir.str()), ConfigError);
    // A truncated adapter file is a format error naming it.
    {
        std::ofstream trunc(dir.file("adapter_model.safetensors"), std::ios::trunc);
        trunc << "12345";
    }
    Model again = load_model(kModels + "gpt2");
    CHECK_THROWS_WITH(load_peft_adapter(again, dir.str()),
                      Catch::Contains("adapter_model.safetensors"));
    CHECK_THROWS_WITH(load_peft_adapter(again, dir.file("nowhere")),
                      Catch::Contains("adapter_config.json"));
}

TEST_CASE("a saved Hugging Face directory loads back with the same logits", "[lora][save]") {
    for (const char* fixture : {"gpt2", "llama_gqa", "qwen2"}) {
        DYNAMIC_SECTION(fixture) {
            TempDir dir("save_hf");
            Model m = load_model(kModels + fixture);
            // Merge a LoRA first: the saved model is the merged one (what a full export writes).
            LoraConfig c;
            c.targets = {"all-linear"};
            Rng rng(2);
            lora_attach(m, c, rng);
            randomize_b(m, 4);
            const std::vector<int32_t> ids = {7, 3, 11, 5, 2};
            const auto adapted = test::logits_of(m, ids);
            lora_merge(m);
            io::save_hf_model(m, kModels + fixture, dir.str());
            const Model back = load_model(dir.str());
            test::require_close(test::logits_of(back, ids), adapted, 1e-5, 1e-5, "reloaded logits");
            CHECK(std::filesystem::exists(dir.file("config.json")));
        }
    }
}
