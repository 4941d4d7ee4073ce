// Real-layout Hugging Face checkpoints (tests/fixtures/models, made by
// tests/reference/gen_models.py) against the PyTorch reference: logits, loss, and greedy
// generation, for every family and storage variant; KV-cache generation against recompute.
#include "common/error.h"
#include "model/autograd.h"
#include "model/generate.h"
#include "model/io/safetensors.h"
#include "model/transformer.h"
#include "tests/test_util.h"

#include <filesystem>
#include <numeric>

using namespace slimtune;
using test::require_close;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = fs::path(SLIMTUNE_GOLDEN_DIR).parent_path() / "fixtures" / "models";
const fs::path kGoldens = fs::path(SLIMTUNE_GOLDEN_DIR) / "models";

std::vector<std::string> golden_models() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(kGoldens))
        if (e.path().extension() == ".safetensors")
            names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::vector<int32_t> as_ids(const std::vector<int64_t>& v) {
    return std::vector<int32_t>(v.begin(), v.end());
}

std::vector<int32_t> positions(size_t n) {
    std::vector<int32_t> p(n);
    std::iota(p.begin(), p.end(), 0);
    return p;
}

} // namespace

TEST_CASE("models: every family matches the PyTorch reference", "[model][golden]") {
    const auto names = golden_models();
    REQUIRE(names.size() >= 8);
    for (const std::string& name : names) {
        INFO("model " << name);
        const io::SafetensorsFile g =
            io::SafetensorsFile::open((kGoldens / (name + ".safetensors")).string());
        const Model m = load_model((kFixtures / name).string());
        const std::vector<int32_t> tokens = as_ids(g.read_i64("tokens"));
        const int64_t T = static_cast<int64_t>(tokens.size());
        NoGradGuard no_grad;
        const auto pos = positions(tokens.size());
        Tensor h = model_hidden(m, tokens, {.batch = 1, .seq = T, .positions = pos, .doc_ids = {}});
        require_close(model_logits(m, h).values(), g.read_f64("logits"), 1e-4, 0, name + " logits");

        std::vector<int32_t> targets(tokens.begin() + 1, tokens.end());
        targets.push_back(-100);
        const std::vector<float> loss = {model_loss(m, h, targets).item()};
        require_close(loss, g.read_f64("loss"), 1e-5, 1e-6, name + " loss");

        const std::vector<int32_t> greedy = as_ids(g.read_i64("greedy"));
        SamplingOptions s;
        s.max_new_tokens = static_cast<int64_t>(greedy.size());
        const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 8);
        CHECK(generate(m, prompt, s) == greedy);
    }
}

TEST_CASE("models: Gemma's packed documents match the reference, windows inside documents",
          "[model][golden]") {
    // The golden's 128 tokens as three documents (positions restart, doc ids separate them):
    // longer than every fixture's sliding window, so each window is cut by document starts.
    size_t checked = 0;
    for (const std::string& name : golden_models()) {
        const io::SafetensorsFile g =
            io::SafetensorsFile::open((kGoldens / (name + ".safetensors")).string());
        if (!g.find("packed_logits"))
            continue;
        INFO("model " << name);
        const Model m = load_model((kFixtures / name).string());
        const std::vector<int32_t> tokens = as_ids(g.read_i64("tokens"));
        const std::vector<int32_t> pos = as_ids(g.read_i64("packed_positions"));
        const std::vector<int32_t> doc = as_ids(g.read_i64("packed_doc_ids"));
        const int64_t T = static_cast<int64_t>(tokens.size());
        NoGradGuard no_grad;
        Tensor h =
            model_hidden(m, tokens, {.batch = 1, .seq = T, .positions = pos, .doc_ids = doc});
        require_close(model_logits(m, h).values(), g.read_f64("packed_logits"), 1e-4, 0,
                      name + " packed logits");
        ++checked;
    }
    CHECK(checked == 4); // gemma, gemma2, gemma3_270m, gemma3_1b
}

TEST_CASE("models: KV-cache generation equals recomputing the sequence", "[model][unit]") {
    // gemma2 and gemma3_1b: 40 tokens run far past their sliding windows (6 and 5) in the cache.
    const std::string name = GENERATE(as<std::string>{}, "llama_gqa", "gemma2", "gemma3_1b");
    INFO("model " << name);
    const Model m = load_model((kFixtures / name).string());
    const std::vector<int32_t> prompt = {1, 17, 42, 99, 3};
    for (float temperature : {0.0f, 0.8f}) {
        SamplingOptions s;
        s.max_new_tokens = 40;
        s.temperature = temperature;
        s.top_k = 50;
        s.top_p = 0.9f;
        s.repetition_penalty = 1.3f;
        s.seed = 11;
        const auto cached = generate(m, prompt, s);
        s.use_cache = false;
        CHECK(cached == generate(m, prompt, s));
        CHECK(cached.size() == 40);
    }
}

TEST_CASE("models: generation stops at an EOS id", "[model][unit]") {
    const Model m = load_model((kFixtures / "llama_gqa").string());
    SamplingOptions s;
    s.max_new_tokens = 20;
    const std::vector<int32_t> prompt = {1, 5, 9};
    const auto free_run = generate(m, prompt, s);
    REQUIRE(free_run.size() == 20);
    s.stop_ids = {free_run[4]};
    const auto stopped = generate(m, prompt, s);
    CHECK(stopped.size() <= 5);
    CHECK(stopped.back() == free_run[4]);
}

TEST_CASE("sampling: greedy, top-k, top-p and repetition penalty", "[model][unit]") {
    Rng rng(3);
    SamplingOptions greedy;
    std::vector<float> z = {0.1f, 2.0f, 1.9f, -1.0f};
    CHECK(sample_next(z, {}, greedy, rng) == 1);
    // The penalty divides a positive logit: token 1 falls below token 2.
    greedy.repetition_penalty = 1.5f;
    z = {0.1f, 2.0f, 1.9f, -1.0f};
    const std::vector<int32_t> hist = {1};
    CHECK(sample_next(z, hist, greedy, rng) == 2);
    // top_k = 1 is greedy whatever the temperature.
    SamplingOptions k1;
    k1.temperature = 5.0f;
    k1.top_k = 1;
    for (int i = 0; i < 20; ++i) {
        z = {0.1f, 2.0f, 1.9f, -1.0f};
        CHECK(sample_next(z, {}, k1, rng) == 1);
    }
    // top_p keeps the smallest set reaching the mass: two tokens hold ~100% here.
    SamplingOptions p;
    p.temperature = 1.0f;
    p.top_p = 0.5f;
    int counts[4] = {};
    for (int i = 0; i < 400; ++i) {
        z = {10.0f, 9.0f, -10.0f, -10.0f};
        ++counts[sample_next(z, {}, p, rng)];
    }
    CHECK(counts[0] == 400); // 0.73 of the mass is in token 0 alone
    p.top_p = 0.9f;
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    for (int i = 0; i < 2000; ++i) {
        z = {10.0f, 9.0f, -10.0f, -10.0f};
        ++counts[sample_next(z, {}, p, rng)];
    }
    CHECK(counts[2] + counts[3] == 0);
    CHECK(counts[1] > 400); // expected share 0.27 of 2000
    CHECK(counts[1] < 700);
    SamplingOptions bad;
    bad.top_p = 0.0f;
    CHECK_THROWS_AS(check_sampling_options(bad), ConfigError);
}

TEST_CASE("models: bad model directories give one clear error", "[model][unit]") {
    CHECK_THROWS_WITH(load_model("/nonexistent"), Catch::Contains("/nonexistent"));
    const fs::path dir = fs::temp_directory_path() / "slimtune_badmodel_test";
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::copy_file(kFixtures / "llama_gqa" / "config.json", dir / "config.json");
    CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains("model.safetensors"));
    // Weights of another model: every problem named at once.
    fs::copy_file(kFixtures / "qwen2" / "model.safetensors", dir / "model.safetensors");
    CHECK_THROWS_WITH(load_model(dir.string()), Catch::Contains("wrong shape") ||
                                                    Catch::Contains("unexpected") ||
                                                    Catch::Contains("missing"));
    fs::remove_all(dir);
}

TEST_CASE("models: 16-bit projections kept as stored match the reference", "[model][golden]") {
    for (const std::string name : {"llama_gqa_bf16", "gpt2_bf16"}) {
        INFO("model " << name);
        const io::SafetensorsFile g =
            io::SafetensorsFile::open((kGoldens / (name + ".safetensors")).string());
        const Model m = load_model((kFixtures / name).string(), {.keep_16bit_projections = true});
        const BlockParams& b = m.layers[0];
        CHECK((b.qkv.weight.defined() ? b.qkv.weight : b.q.weight).storage() == Storage::BF16);
        CHECK(b.down.weight.storage() == Storage::BF16);
        CHECK(m.embed.storage() == Storage::F32);
        const std::vector<int32_t> tokens = as_ids(g.read_i64("tokens"));
        const int64_t T = static_cast<int64_t>(tokens.size());
        NoGradGuard no_grad;
        const auto pos = positions(tokens.size());
        {
            const test::WidenBf16Scope widen; // exact products of the stored weights
            Tensor h =
                model_hidden(m, tokens, {.batch = 1, .seq = T, .positions = pos, .doc_ids = {}});
            require_close(model_logits(m, h).values(), g.read_f64("logits"), 1e-4, 0,
                          name + " logits (16-bit projections)");
        }
        if (kernels::bf16_gemm_available()) { // BF16 products: activations rounded to bf16 too
            Tensor h =
                model_hidden(m, tokens, {.batch = 1, .seq = T, .positions = pos, .doc_ids = {}});
            require_close(model_logits(m, h).values(), g.read_f64("logits"), 5e-2, 2e-2,
                          name + " logits (BF16 products)"); // ~2 % off at most here
        }
    }
}
