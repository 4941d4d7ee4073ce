// slimtune reading its own GGUF exports back (io::load_gguf_model, train::gguf_tokenizer), for
// every reference architecture: F32 files give the same config, bit-identical parameters and
// identical logits; quantized files give exactly dequantize(quantize(exported values)) with the
// Q/K permutation undone; the embedded tokenizer encodes as the original; broken files are
// one-line errors naming the file; eval and generate run on a .gguf as on the directory.
#include "common/error.h"
#include "model/autograd.h"
#include "model/io/ggml_quants.h"
#include "model/io/gguf_model.h"
#include "model/io/gguf_tensors.h"
#include "tests/cli_util.h"
#include "tests/model/export_test_util.h"
#include "tests/model/logits_util.h"
#include "tests/test_util.h"
#include "train/commands/commands.h"
#include "train/export/gguf_export.h"
#include "train/gguf_tokenizer.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <iostream>
#include <numeric>
#include <sstream>

using namespace slimtune;
using namespace slimtune::io;
using namespace slimtune::export_test;
using Catch::Matchers::Contains;
using nlohmann::json;
using slimtune::test::run_cli;
using VT = GgufValueType;

namespace {

const char* const kFixtures[] = {"gpt2",  "llama_gqa", "llama3_scaled", "llama_linear_rope",
                                 "qwen2", "granite",   "smollm"};

// A fixture widened to a 300-token trained tokenizer and saved under dir/name.
struct Exportable {
    Model model;
    data::Tokenizer tokenizer;
    fs::path dir;
};

Exportable make(const std::string& name, const fs::path& root) {
    const fs::path dir = root / name;
    Model m = exportable_fixture(name, dir);
    return {std::move(m), data::Tokenizer::load(dir), dir};
}

std::string write(Exportable& e, ExportType type, const fs::path& root) {
    const std::string path =
        (root / (e.dir.filename().string() + "." + std::string(export_type_name(type)) + ".gguf"))
            .string();
    train::write_gguf_model(e.model, e.tokenizer, {}, type, path);
    return path;
}

bool bit_equal(std::span<const float> a, std::span<const float> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_same_config(const ModelConfig& got, const ModelConfig& want) {
    CHECK(got.model_type == want.model_type);
    CHECK(got.family == want.family);
    CHECK(got.vocab_size == want.vocab_size);
    CHECK(got.hidden == want.hidden);
    CHECK(got.n_layer == want.n_layer);
    CHECK(got.n_head == want.n_head);
    CHECK(got.n_head_kv == want.n_head_kv);
    CHECK(got.head_dim == want.head_dim);
    CHECK(got.intermediate == want.intermediate);
    CHECK(got.max_positions == want.max_positions);
    CHECK(got.norm_eps == want.norm_eps);
    CHECK(got.qkv_bias == want.qkv_bias);
    CHECK(got.o_bias == want.o_bias);
    CHECK(got.mlp_bias == want.mlp_bias);
    CHECK(got.rope_theta == want.rope_theta);
    CHECK(got.rope_scaling.kind == want.rope_scaling.kind);
    CHECK(got.rope_scaling.factor == want.rope_scaling.factor);
    CHECK(got.rope_scaling.low_freq_factor == want.rope_scaling.low_freq_factor);
    CHECK(got.rope_scaling.high_freq_factor == want.rope_scaling.high_freq_factor);
    CHECK(got.rope_scaling.original_max_positions == want.rope_scaling.original_max_positions);
    CHECK(got.tie_word_embeddings == want.tie_word_embeddings);
    CHECK(got.embedding_multiplier == want.embedding_multiplier);
    CHECK(got.residual_multiplier == want.residual_multiplier);
    CHECK(got.attention_multiplier == want.attention_multiplier);
    CHECK(got.logits_scaling == want.logits_scaling);
}

// Copies a GGUF: `kv` may edit a metadata pair or drop it (false); `tensor` may rename a
// tensor, change its dims and type (its bytes are then zeros of the new size) or drop it.
struct TensorEdit {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
};
void rewrite(
    const std::string& src,
    const std::string& dst,
    const std::function<bool(GgufKv&)>& kv,
    const std::function<bool(TensorEdit&)>& tensor = [](TensorEdit&) { return true; }) {
    const GgufFile f = GgufFile::open(src);
    GgufWriter w(dst);
    for (GgufKv e : f.metadata())
        if (kv(e))
            w.set(e.key, e.value);
    std::vector<std::pair<TensorEdit, std::vector<uint8_t>>> out;
    for (const GgufTensorInfo& t : f.tensors()) {
        TensorEdit e{t.name, t.ne, t.type};
        if (!tensor(e))
            continue;
        const auto bytes = f.tensor_data(t);
        std::vector<uint8_t> b(bytes.begin(), bytes.end());
        if (e.ne != t.ne || e.type != t.type)
            b.assign(gguf_tensor_nbytes(e.type, e.ne), 0);
        w.add_tensor(e.name, e.ne, e.type);
        out.emplace_back(std::move(e), std::move(b));
    }
    for (const auto& [e, b] : out)
        w.write_tensor_data(e.name, b.data(), b.size());
    w.finish();
}

bool keep_all(GgufKv&) {
    return true;
}

const char* const kSamples[] = {
    "The patient was discharged after three days.",
    "  naïve café, 123 -- ünïcödé\tand tabs\n",
    "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n",
    "Fine-tuning with slimtune: curate, train, export.",
};

} // namespace

TEST_CASE("gguf model: the Q/K unpermutation inverts the export's permutation", "[gguf_model]") {
    for (const auto& [rows, cols, heads] :
         {std::tuple<int64_t, int64_t, int64_t>{24, 5, 3}, {16, 1, 2}, {64, 32, 4}, {8, 3, 1}}) {
        const std::vector<float> x = test::random_normal(static_cast<size_t>(rows * cols), 11);
        const std::vector<float> p = permute_qk_rows(x.data(), rows, cols, heads);
        CHECK_FALSE(bit_equal(p, x));
        CHECK(bit_equal(unpermute_qk_rows(p.data(), rows, cols, heads), x));
        CHECK(bit_equal(permute_qk_rows(unpermute_qk_rows(x.data(), rows, cols, heads).data(), rows,
                                        cols, heads),
                        x));
    }
    const std::vector<float> x(12, 1.0f);
    CHECK_THROWS_AS(unpermute_qk_rows(x.data(), 12, 1, 4), ConfigError); // heads of 3 rows
    CHECK(is_gguf_path("out/model.Q8_0.GGUF"));
    CHECK_FALSE(is_gguf_path("models/gguf"));
}

TEST_CASE("gguf model: F32 round trip is exact for every architecture", "[gguf_model]") {
    test::TempDir tmp("gguf_model_f32");
    for (const char* name : kFixtures) {
        INFO(name);
        Exportable e = make(name, tmp.path);
        const std::string path = write(e, ExportType::F32, tmp.path);
        const GgufFile f = GgufFile::open(path);
        Model m = load_gguf_model(f);
        check_same_config(m.cfg, e.model.cfg);
        CHECK(m.cfg.bos_token_id == e.tokenizer.bos_id().value_or(-1));
        REQUIRE_FALSE(m.cfg.eos_token_ids.empty());
        CHECK(m.cfg.eos_token_ids.front() == e.tokenizer.eos_id().value());

        const std::vector<NamedParam> want = model_params(e.model, "");
        const std::vector<NamedParam> got = model_params(m, "");
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < got.size(); ++i) {
            INFO(want[i].name);
            CHECK(got[i].name == want[i].name);
            CHECK(got[i].tensor->shape() == want[i].tensor->shape());
            CHECK(bit_equal(got[i].tensor->values(), want[i].tensor->values()));
        }
        const std::vector<int32_t> ids = e.tokenizer.encode(kSamples[0]);
        CHECK(bit_equal(test::logits_of(m, ids), test::logits_of(e.model, ids)));

        // The embedded tokenizer is the original one.
        const data::Tokenizer tok = train::gguf_tokenizer(f);
        CHECK(tok.vocab_size() == e.tokenizer.vocab_size());
        CHECK(tok.bos_id() == e.tokenizer.bos_id());
        CHECK(tok.eos_id() == e.tokenizer.eos_id());
        CHECK(tok.config().chat_template == e.tokenizer.config().chat_template);
        for (const char* s : kSamples) {
            INFO(s);
            const std::vector<int32_t> a = tok.encode(s), b = e.tokenizer.encode(s);
            CHECK(a == b);
            CHECK(tok.decode(a) == e.tokenizer.decode(b));
        }
    }
}

TEST_CASE("gguf model: quantized files load as dequantize(quantize(exported values))",
          "[gguf_model]") {
    test::TempDir tmp("gguf_model_quant");
    std::vector<Exportable> models;
    for (const char* name : kFixtures)
        models.push_back(make(name, tmp.path));
    // Rows of 256, which the K-quants take whole (the fixtures' rows fall back to Q5_0/Q8_0).
    const std::string k_llama =
        R"({"model_type": "llama", "vocab_size": 300, "hidden_size": 256, "intermediate_size": 512,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "bos_token_id": 1,
            "eos_token_id": 2})";
    {
        Model m = random_exportable(k_llama, tmp.path / "k_llama");
        models.push_back(
            {std::move(m), data::Tokenizer::load(tmp.path / "k_llama"), tmp.path / "k_llama"});
    }
    std::map<std::string, int> tensors_per_type;
    for (Exportable& e : models) {
        const std::vector<int32_t> ids = e.tokenizer.encode(kSamples[3]);
        const std::vector<float> ref = test::logits_of(e.model, ids);
        float ref_max = 0;
        for (float x : ref)
            ref_max = std::max(ref_max, std::abs(x));
        double rel_q8 = 0, rel_q4 = 0;
        for (ExportType type : {ExportType::Q8_0, ExportType::Q4_K_M}) {
            INFO(e.dir.filename().string() << " " << std::string(export_type_name(type)));
            const std::string path = write(e, type, tmp.path);
            const GgufFile f = GgufFile::open(path);
            Model m = load_gguf_model(f);
            const std::vector<GgufTensorSource> want = gguf_tensor_sources(e.model);
            const std::vector<GgufTensorSource> got = gguf_tensor_sources(m);
            REQUIRE(got.size() == want.size());
            for (size_t i = 0; i < got.size(); ++i) {
                INFO(want[i].name);
                const GgufTensorInfo* t = f.find_tensor(want[i].name);
                REQUIRE(t);
                const GgmlType gt = *ggml_type_from_id(t->type);
                ++tensors_per_type[std::string(ggml_type_name(gt))];
                const std::vector<float> v = want[i].values();
                const int64_t row = t->ne[0], rows = static_cast<int64_t>(v.size()) / row;
                std::vector<uint8_t> bytes(static_cast<size_t>(rows) * ggml_row_size(gt, row));
                std::vector<float> expect(v.size());
                quantize_rows(gt, v.data(), bytes.data(), rows, row);
                dequantize_rows(gt, bytes.data(), expect.data(), rows, row);
                CHECK(bit_equal(got[i].values(), expect));
            }
            // Close to the float32 model's logits.
            const std::vector<float> l = test::logits_of(m, ids);
            double err = 0, norm = 0;
            float worst = 0;
            for (size_t i = 0; i < l.size(); ++i) {
                worst = std::max(worst, std::abs(l[i] - ref[i]));
                err += double(l[i] - ref[i]) * double(l[i] - ref[i]);
                norm += double(ref[i]) * double(ref[i]);
            }
            // Tiny random models amplify weight noise: measured 0.6-2.2% (q8_0) and 4-27%
            // (q4_k_m) relative RMS error over these models.
            const double rel = std::sqrt(err / norm);
            UNSCOPED_INFO("relative RMS logit error " << rel << ", max " << worst << " of "
                                                      << ref_max);
            CHECK(rel < (type == ExportType::Q8_0 ? 0.04 : 0.4));
            (type == ExportType::Q8_0 ? rel_q8 : rel_q4) = rel;
        }
        CHECK(rel_q8 < rel_q4);
    }
    // Every quantized kind the policy chose was read back.
    for (const char* t : {"q8_0", "q4_K", "q6_K", "q5_0"})
        CHECK(tensors_per_type[t] > 0);
}

TEST_CASE("gguf model: broken files are one-line errors naming the file", "[gguf_model]") {
    test::TempDir tmp("gguf_model_errors");
    Exportable e = make("llama3_scaled", tmp.path);
    const std::string good = write(e, ExportType::F32, tmp.path);
    const std::string bad = tmp.file("bad.gguf");
    auto message = [&](const std::function<void()>& f) {
        try {
            f();
        } catch (const Error& x) {
            const std::string s = x.what();
            CHECK(s.find('\n') == std::string::npos);
            CHECK_THAT(s, Contains(bad));
            return s;
        }
        FAIL("no error");
        return std::string();
    };

    SECTION("missing, unexpected, misshapen and unreadable tensors, all at once") {
        rewrite(good, bad, keep_all, [](TensorEdit& t) {
            if (t.name == "blk.1.ffn_down.weight")
                return false;
            if (t.name == "blk.0.ffn_up.bias")
                t.name = "blk.0.ffn_bogus.bias";
            if (t.name == "output_norm.weight")
                t.ne = {16};
            if (t.name == "blk.0.attn_norm.weight")
                t.type = 3; // q4_1: a valid ggml type slimtune does not read
            return true;
        });
        const std::string s = message([&] { load_gguf_model(bad); });
        CHECK_THAT(s, Contains("missing: blk.0.ffn_up.bias, blk.1.ffn_down.weight"));
        CHECK_THAT(s, Contains("wrong shape: output_norm.weight [16] (expected [32])"));
        CHECK_THAT(s, Contains("unexpected: blk.0.ffn_bogus.bias"));
        CHECK_THAT(s, Contains("cannot dequantize: blk.0.attn_norm.weight (q4_1)"));
    }
    SECTION("a key of the wrong type") {
        rewrite(good, bad, [](GgufKv& kv) {
            if (kv.key == "llama.block_count")
                kv.value = GgufValue::u64(2);
            return true;
        });
        CHECK_THAT(message([&] { load_gguf_model(bad); }),
                   Contains("key 'llama.block_count' has type UINT64, expected UINT32"));
    }
    SECTION("a missing key") {
        rewrite(good, bad, [](GgufKv& kv) { return kv.key != "llama.embedding_length"; });
        CHECK_THAT(message([&] { load_gguf_model(bad); }),
                   Contains("missing key 'llama.embedding_length'"));
    }
    SECTION("hyperparameters slimtune cannot run") {
        rewrite(good, bad, [](GgufKv& kv) {
            if (kv.key == "llama.rope.dimension_count")
                kv.value = GgufValue::u32(8);
            return true;
        });
        CHECK_THAT(message([&] { load_gguf_model(bad); }),
                   Contains("llama.rope.dimension_count is 8 but the head dim"));
        rewrite(good, bad, [](GgufKv& kv) {
            if (kv.key == "llama.attention.key_length" ||
                kv.key == "llama.attention.value_length" || kv.key == "llama.rope.dimension_count")
                kv.value = GgufValue::u32(15);
            return true;
        });
        CHECK_THAT(message([&] { load_gguf_model(bad); }), Contains("must be even"));
    }
    SECTION("rope_freqs that disagree with the Llama-3 scaling keys") {
        rewrite(good, bad, [](GgufKv& kv) {
            if (kv.key == "slimtune.rope_scaling.llama3.factor")
                kv.value = GgufValue::f32(4.0f);
            return true;
        });
        CHECK_THAT(message([&] { load_gguf_model(bad); }), Contains("rope_freqs.weight["));
    }
    SECTION("an adapter, and an architecture slimtune does not run") {
        rewrite(good, bad, [](GgufKv& kv) {
            if (kv.key == "general.type")
                kv.value = GgufValue::str("adapter");
            return true;
        });
        CHECK_THAT(message([&] { load_gguf_model(bad); }), Contains("general.type is 'adapter'"));
        rewrite(good, bad, [](GgufKv& kv) {
            if (kv.key == "general.architecture")
                kv.value = GgufValue::str("rwkv6");
            return true;
        });
        CHECK_THAT(message([&] { load_gguf_model(bad); }),
                   Contains("general.architecture 'rwkv6' is not supported"));
    }
    SECTION("no embedded tokenizer: the model loads, the tokenizer asks for --tokenizer") {
        rewrite(good, bad, [](GgufKv& kv) { return kv.key != "tokenizer.huggingface.json"; });
        const GgufFile f = GgufFile::open(bad);
        CHECK(load_gguf_model(f).cfg.n_layer == 2);
        CHECK(message([&] { train::gguf_tokenizer(f); }) ==
              bad + ": has no tokenizer.huggingface.json; pass --tokenizer DIR");
        CHECK_THROWS_AS(train::gguf_tokenizer(f), ConfigError);
        CHECK_THAT(message([&] {
                       run_cli(train::run_generate, {"--model", bad, "--prompt", "Hello"});
                   }),
                   Contains("pass --tokenizer DIR"));
    }
}

TEST_CASE("gguf model: without the embedded tokenizer_config, the tokenizer.ggml keys fill in",
          "[gguf_model]") {
    test::TempDir tmp("gguf_model_tok");
    Exportable e = make("llama_gqa", tmp.path);
    const std::string bare = tmp.file("bare.gguf");
    rewrite(write(e, ExportType::F32, tmp.path), bare,
            [](GgufKv& kv) { return kv.key != "slimtune.tokenizer_config"; });
    const data::Tokenizer tok = train::gguf_tokenizer(GgufFile::open(bare));
    REQUIRE(e.tokenizer.eos_id());
    CHECK(tok.bos_id() == e.tokenizer.bos_id());
    CHECK(tok.eos_id() == e.tokenizer.eos_id());
    CHECK(tok.pad_id() == e.tokenizer.pad_id());
    CHECK(tok.config().chat_template == e.tokenizer.config().chat_template);
    for (const char* s : kSamples)
        CHECK(tok.encode(s) == e.tokenizer.encode(s));
}

TEST_CASE("gguf model: eval, generate and inspect take a .gguf", "[gguf_model]") {
    test::TempDir tmp("gguf_model_cli");
    Exportable e = make("llama_gqa", tmp.path);
    const std::string dir = e.dir.string();
    const std::string f32 = write(e, ExportType::F32, tmp.path);
    const std::string q8 = write(e, ExportType::Q8_0, tmp.path);
    const std::string data = tmp.file("eval.jsonl");
    std::ofstream(data) << R"({"text": "The patient was discharged after three days."})"
                        << "\n"
                        << R"({"messages": [{"role": "user", "content": "Hello"},)"
                        << R"( {"role": "assistant", "content": "Hi there."}]})"
                        << "\n"
                        << R"({"input_ids": [1, 5, 9, 13, 17]})"
                        << "\n";
    auto eval = [&](const std::string& model) {
        return json::parse(run_cli(train::run_eval, {"--model", model, "--data", data, "--json"}));
    };
    const json hf = eval(dir), g32 = eval(f32), g8 = eval(q8);
    INFO(hf.dump() << "\n" << g32.dump() << "\n" << g8.dump());
    CHECK(g32["tokens"] == hf["tokens"]);
    CHECK(g32["examples"] == 3);
    CHECK(g32["loss"].get<double>() == hf["loss"].get<double>());
    CHECK(std::abs(g8["loss"].get<double>() - hf["loss"].get<double>()) < 0.05); // 0.009 seen

    auto gen = [&](const std::string& model, std::vector<std::string> extra) {
        std::vector<std::string> args = {"--model", model, "--max-new-tokens", "8", "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        return json::parse(run_cli(train::run_generate, args));
    };
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--prompt", "The patient"},
          {"--prompt", "Hello", "--chat"},
          {"--tokens", "1,5,9"}}) {
        INFO(extra[1]);
        CHECK(gen(f32, extra) == gen(dir, extra));
    }
    // --tokenizer still wins over the embedded one.
    CHECK(gen(f32, {"--prompt", "The patient", "--tokenizer", dir}) ==
          gen(dir, {"--prompt", "The patient"}));

    const json a = json::parse(run_cli(train::run_inspect, {q8, "--json"}));
    const json b = json::parse(run_cli(train::run_inspect, {dir, "--json"}));
    CHECK(a["parameters"] == b["parameters"]);
    CHECK(a["layers"] == 2);
    CHECK(a["stored_dtypes"].contains("q8_0"));
    CHECK(a["stored_bytes"] == fs::file_size(q8));
}
