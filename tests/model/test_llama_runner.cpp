// The llama.cpp runner (model/llama_cpp/runtime.h, opened by tests/llama_runner.h) itself, on GGUFs
// that slimtune exports from the llama_gqa reference checkpoint (widened to a 300-id trained
// tokenizer): it loads them, its logits are deterministic, causal and of the right shape,
// incremental decoding and greedy generation agree with slimtune's, it tokenizes with the file's
// vocabulary, a LoRA adapter file changes the logits to those of the merged model, the mean
// NLL scores every id once across context windows, and bad input is a runtime_error.
#include "model/generate.h"
#include "model/io/gguf_model.h"
#include "model/lora.h"
#include "tests/llama_runner.h"
#include "tests/model/export_test_util.h"
#include "tests/test_util.h"
#include "train/export/export.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace slimtune;
using slimtune::test::LlamaCppModel;

namespace {

constexpr int32_t kVocab = 300; // exportable_fixture's tokenizer
constexpr size_t kRow = kVocab; // floats per row of logits

// The GGUF files, exported once per test run: the base model, a LoRA adapter for it (nonzero
// B, so that it does something), and base + adapter merged.
struct Exported {
    test::TempDir dir{"llama_runner"};
    std::string model, lora, merged;

    Exported() {
        const auto model_dir = dir.path / "model", adapter_dir = dir.path / "adapter";
        Model m = export_test::exportable_fixture("llama_gqa", model_dir, kRow);
        const LoraConfig cfg{.rank = 4, .alpha = 8.0, .targets = {"q_proj", "v_proj"}};
        Rng rng(11);
        for (LoraModule& mod : lora_attach(m, cfg, rng)) {
            Tensor& b = mod.linear->lora.b;
            b = Tensor::from(b.shape(),
                             test::random_normal(static_cast<size_t>(b.numel()), 5, 0.5));
        }
        save_peft_adapter(m, cfg, adapter_dir.string(), "llama_gqa");
        model = dir.file("model.gguf");
        lora = dir.file("lora.gguf");
        merged = dir.file("merged.gguf");
        export_gguf({.model_dir = model_dir.string(), .out = model});
        export_gguf({.model_dir = model_dir.string(),
                     .adapter_dir = adapter_dir.string(),
                     .format = "gguf-lora",
                     .out = lora});
        export_gguf(
            {.model_dir = model_dir.string(), .adapter_dir = adapter_dir.string(), .out = merged});
    }

    static void export_gguf(train::ExportOptions o) {
        o.types = {io::ExportType::F32};
        std::ostringstream progress;
        train::export_model(o, progress);
    }
};

const Exported& exported() {
    static const Exported e;
    return e;
}

std::vector<int32_t> some_ids(size_t n) {
    std::vector<int32_t> ids(n);
    for (size_t i = 0; i < n; ++i)
        ids[i] = static_cast<int32_t>((3 + 37 * i) % kRow);
    return ids;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, size_t n) {
    float worst = 0;
    for (size_t i = 0; i < n; ++i)
        worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

} // namespace

TEST_CASE("llama.cpp runner: load, metadata, logits shape, determinism, causality", "[llama_cpp]") {
    LlamaCppModel m = LlamaCppModel::load(exported().model);
    CHECK(m.n_vocab() == kVocab);
    CHECK(m.n_ctx() == 512);
    CHECK(m.meta("general.architecture") == "llama");
    CHECK(m.meta("llama.vocab_size") == "300");
    CHECK(m.meta("no.such.key").empty());

    const std::vector<int32_t> ids = some_ids(9);
    const std::vector<float> full = m.logits(ids);
    REQUIRE(full.size() == ids.size() * kRow);
    for (const float x : full)
        REQUIRE(std::isfinite(x));
    CHECK(m.logits({}).empty());

    // Each call starts from an empty cache: a prefix gives the first rows of the longer
    // sequence, and repeating a call (after another one) gives the same bits.
    const std::vector<float> prefix = m.logits({ids.begin(), ids.begin() + 4});
    REQUIRE(prefix.size() == 4 * kRow);
    CHECK(max_abs_diff(prefix, full, prefix.size()) <= 1e-5f);
    CHECK(m.logits(ids) == full);
    // Rows are per position: a different last id changes only the last row.
    std::vector<int32_t> other = ids;
    other.back() = (other.back() + 1) % kVocab;
    const std::vector<float> changed = m.logits(other);
    CHECK(max_abs_diff(changed, full, (ids.size() - 1) * kRow) <= 1e-5f);

    // Movable: the moved-to model works.
    LlamaCppModel moved = std::move(m);
    CHECK(moved.logits(ids) == full);
}

TEST_CASE("llama.cpp runner: tokenize with the file's vocabulary", "[llama_cpp]") {
    const LlamaCppModel m = LlamaCppModel::load(exported().model);
    const std::vector<int32_t> ids = m.tokenize("the patient was discharged", false, false);
    REQUIRE_FALSE(ids.empty());
    CHECK(ids.size() < 26); // a trained BPE merges some bytes
    for (const int32_t id : ids)
        CHECK((id >= 0 && id < kVocab));
    CHECK(m.tokenize("", false, false).empty());
    // A special token is one id when parsed as special, its characters otherwise.
    CHECK(m.tokenize("<|im_end|>", false, true) == std::vector<int32_t>{2});
    CHECK(m.tokenize("<|im_end|>", false, false).size() > 1);
}

TEST_CASE("llama.cpp runner: a LoRA adapter gives the merged model's logits", "[llama_cpp]") {
    const std::vector<int32_t> ids = some_ids(7);
    const std::vector<float> merged = LlamaCppModel::load(exported().merged).logits(ids);
    LlamaCppModel m = LlamaCppModel::load(exported().model);
    const std::vector<float> base = m.logits(ids);
    m.apply_lora(exported().lora, 1.0f);
    const std::vector<float> adapted = m.logits(ids);
    CHECK(max_abs_diff(adapted, base, base.size()) > 1e-2f);
    CHECK(max_abs_diff(adapted, merged, merged.size()) <= 1e-4f);
}

TEST_CASE("llama.cpp runner: mean NLL over context windows", "[llama_cpp]") {
    LlamaCppModel wide = LlamaCppModel::load(exported().model);
    const std::vector<int32_t> ids = some_ids(40);

    // One window: the mean of -log softmax(row i)[ids[i + 1]].
    const std::vector<int32_t> first(ids.begin(), ids.begin() + 16);
    const std::vector<float> rows = wide.logits(first);
    double by_hand = 0;
    for (size_t i = 0; i + 1 < first.size(); ++i) {
        double sum = 0;
        for (size_t v = 0; v < kRow; ++v)
            sum += std::exp(double(rows[i * kRow + v]));
        by_hand += std::log(sum) - double(rows[i * kRow + size_t(first[i + 1])]);
    }
    by_hand /= double(first.size() - 1);
    CHECK(llama_cpp::mean_nll(wide, first) == Approx(by_hand).epsilon(1e-9));

    // A context of 16: windows [0, 16), [15, 31), [30, 40) overlap by one id, so each of the
    // 39 targets is scored once, with 15, 15 and 9 targets per window.
    LlamaCppModel narrow = LlamaCppModel::load(exported().model, 16);
    const auto window_nll = [&](size_t from, size_t to) {
        return llama_cpp::mean_nll(wide, {ids.begin() + long(from), ids.begin() + long(to)});
    };
    const double expected =
        (15 * window_nll(0, 16) + 15 * window_nll(15, 31) + 9 * window_nll(30, 40)) / 39;
    const double nll = llama_cpp::mean_nll(narrow, ids);
    CHECK(nll == Approx(expected).epsilon(1e-6));
    CHECK(nll > 0);
    CHECK_THROWS_AS(llama_cpp::mean_nll(narrow, {5}), std::runtime_error);
}

TEST_CASE("llama.cpp runner: incremental decoding gives the full sequence's rows; generation is "
          "slimtune's on the same file",
          "[llama_cpp]") {
    LlamaCppModel m = LlamaCppModel::load(exported().model, 16);
    const std::vector<int32_t> ids = some_ids(9);
    const std::vector<float> full = m.logits(ids);
    m.reset();
    CHECK(m.n_past() == 0);
    // A prompt of 4, then one id at a time: each extend() returns the row of its last id.
    std::vector<float> row = m.extend(std::span<const int32_t>(ids.data(), 4));
    REQUIRE(row.size() == kRow);
    CHECK(m.n_past() == 4);
    for (size_t i = 4;; ++i) {
        const std::vector<float> want(full.begin() + static_cast<std::ptrdiff_t>((i - 1) * kRow),
                                      full.begin() + static_cast<std::ptrdiff_t>(i * kRow));
        CHECK(max_abs_diff(row, want, kRow) <= 1e-5f);
        if (i == ids.size())
            break;
        row = m.extend(std::span<const int32_t>(&ids[i], 1));
    }
    CHECK(m.n_past() == 9);
    CHECK_THROWS_AS(m.extend(some_ids(8)), std::runtime_error); // 17 > the context of 16

    // Greedy, with and without a repetition penalty, and stopping at a stop id: the tokens
    // slimtune's generate() picks from its own reading of the same float32 file.
    const Model ours = io::load_gguf_model(exported().model);
    const std::vector<int32_t> prompt = some_ids(3);
    for (const float penalty : {1.0f, 1.3f}) {
        SamplingOptions o{.max_new_tokens = 13, .repetition_penalty = penalty};
        const std::vector<int32_t> want = generate(ours, prompt, o);
        REQUIRE(want.size() == 13);
        CHECK(llama_cpp::generate(m, prompt, o) == want);
        o.stop_ids = {want[2]};
        const auto stop = std::find(want.begin(), want.end(), want[2]) - want.begin();
        CHECK(llama_cpp::generate(m, prompt, o) ==
              std::vector<int32_t>(want.begin(), want.begin() + stop + 1));
    }
    // The context ends generation: 3 prompt ids + 13 new ones fill 16 positions but the last
    // is never decoded; a longer request stops there.
    CHECK(llama_cpp::generate(m, prompt, {.max_new_tokens = 40}).size() == 14);
    CHECK_THROWS_AS(llama_cpp::generate(m, {}, {}), std::runtime_error);
}

TEST_CASE("llama.cpp runner: bad input is a runtime_error", "[llama_cpp]") {
    CHECK_THROWS_AS(LlamaCppModel::load("/nonexistent/model.gguf"), std::runtime_error);
    const test::TempDir tmp("llama_runner_bad");
    const std::string junk = tmp.file("junk.gguf");
    std::ofstream(junk) << "not a gguf file";
    CHECK_THROWS_AS(LlamaCppModel::load(junk), std::runtime_error);

    LlamaCppModel m = LlamaCppModel::load(exported().model, 8);
    CHECK_THROWS_AS(m.logits({1, kVocab}), std::runtime_error);
    CHECK_THROWS_AS(m.logits({1, -1}), std::runtime_error);
    CHECK_THROWS_AS(m.logits(some_ids(9)), std::runtime_error); // longer than the context
    CHECK_THROWS_AS(m.apply_lora("/nonexistent/adapter.gguf"), std::runtime_error);
    CHECK_THROWS_AS(m.apply_lora(exported().model), std::runtime_error); // a model, no adapter
    CHECK(m.logits(some_ids(8)).size() == 8 * kRow); // still usable after the failures
}
