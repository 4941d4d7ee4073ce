// slimtune export, checked with our own GGUF reader: the metadata keys and their exact types
// per architecture, tensor names, shapes, types and values (the Q/K permutation undone by hand),
// tokenizer keys, provenance, the LoRA adapter layout, and refusals of bad requests.
// (llama.cpp loading the same files: test_export_llama_cpp.cpp.)
#include "common/error.h"
#include "model/io/ggml_quants.h"
#include "model/io/gguf.h"
#include "model/lora.h"
#include "tests/model/export_test_util.h"
#include "tests/test_util.h"
#include "train/export/export.h"
#include "train/export/gguf_export.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <sstream>

using namespace slimtune;
using namespace slimtune::io;
using namespace slimtune::export_test;
using Catch::Matchers::Contains;
using VT = GgufValueType;

namespace {

std::vector<float> dequantized(const GgufFile& f, const std::string& name) {
    const GgufTensorInfo* t = f.find_tensor(name);
    REQUIRE(t);
    const auto type = ggml_type_from_id(t->type);
    REQUIRE(type);
    int64_t rows = 1;
    for (size_t i = 1; i < t->ne.size(); ++i)
        rows *= t->ne[i];
    std::vector<float> v(static_cast<size_t>(rows * t->ne[0]));
    dequantize_rows(*type, f.tensor_data(*t).data(), v.data(), rows, t->ne[0]);
    return v;
}

train::ExportResult run(train::ExportOptions o) {
    std::ostringstream progress;
    return train::export_model(o, progress);
}

} // namespace

TEST_CASE("export gguf: llama metadata, tokenizer and tensors round-trip", "[export]") {
    test::TempDir tmp("export_llama");
    Model m = exportable_fixture("llama_gqa", tmp.path / "model");
    const std::string out = (tmp.path / "m.gguf").string();
    run({.model_dir = (tmp.path / "model").string(),
         .format = "gguf",
         .types = {ExportType::F32},
         .out = out});
    const GgufFile f = GgufFile::open(out);
    CHECK(f.at("general.architecture", VT::STRING).as_str() == "llama");
    CHECK(f.at("general.type", VT::STRING).as_str() == "model");
    CHECK(f.at("general.file_type", VT::UINT32).as_u32() == 0);
    CHECK(f.at("llama.block_count", VT::UINT32).as_u32() == m.cfg.n_layer);
    CHECK(f.at("llama.embedding_length", VT::UINT32).as_u32() == m.cfg.hidden);
    CHECK(f.at("llama.attention.head_count", VT::UINT32).as_u32() == m.cfg.n_head);
    CHECK(f.at("llama.attention.head_count_kv", VT::UINT32).as_u32() == m.cfg.n_head_kv);
    CHECK(f.at("llama.rope.dimension_count", VT::UINT32).as_u32() == m.cfg.head_dim);
    CHECK(f.at("llama.rope.freq_base", VT::FLOAT32).as_f32() == float(m.cfg.rope_theta));
    CHECK(f.at("llama.attention.layer_norm_rms_epsilon", VT::FLOAT32).as_f32() == m.cfg.norm_eps);
    CHECK(f.at("llama.vocab_size", VT::UINT32).as_u32() == 300);
    CHECK(f.at("tokenizer.ggml.model", VT::STRING).as_str() == "gpt2");
    CHECK(f.at("tokenizer.ggml.pre", VT::STRING).as_str() == "gpt-2");
    CHECK(f.at_array("tokenizer.ggml.tokens", VT::STRING).size() == 300);
    CHECK(f.at_array("tokenizer.ggml.token_type", VT::INT32).size() == 300);
    CHECK(f.at("tokenizer.ggml.eos_token_id", VT::UINT32).as_u32() == 2); // <|im_end|>
    CHECK(f.at("tokenizer.ggml.eot_token_id", VT::UINT32).as_u32() == 2); // <|im_end|>
    CHECK_FALSE(f.at("tokenizer.chat_template", VT::STRING).as_str().empty());
    CHECK(f.find("tokenizer.huggingface.json"));
    CHECK_FALSE(f.find("general.dataset.count")); // no provenance beside a base model

    // Values: Q rows permuted per head, everything else as the model holds it.
    const std::vector<float> q = dequantized(f, "blk.1.attn_q.weight");
    const Tensor& wq = m.layers[1].q.weight;
    const int64_t d = m.cfg.head_dim, cols = wq.dim(1);
    for (int64_t h = 0; h < m.cfg.n_head; ++h)
        for (int64_t i = 0; i < d / 2; ++i)
            for (int64_t j = 0; j < 2; ++j)
                for (int64_t c = 0; c < cols; ++c)
                    REQUIRE(q[size_t(((h * d) + 2 * i + j) * cols + c)] ==
                            wq.data()[((h * d) + j * (d / 2) + i) * cols + c]);
    const std::vector<float> v = dequantized(f, "blk.0.attn_v.weight");
    CHECK(std::equal(v.begin(), v.end(), m.layers[0].v.weight.values().begin()));
    const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
    REQUIRE(emb);
    CHECK(emb->ne == std::vector<int64_t>{m.cfg.hidden, 300});
    CHECK(f.find_tensor("output.weight")); // llama_gqa has an untied head
}

TEST_CASE("export gguf: types per tensor and the shape fallback", "[export]") {
    test::TempDir tmp("export_types");
    exportable_fixture("qwen2", tmp.path / "model");
    const auto res = run({.model_dir = (tmp.path / "model").string(),
                          .format = "gguf",
                          .types = {ExportType::Q8_0, ExportType::Q4_K_M, ExportType::BF16},
                          .out = (tmp.path / "out").string()});
    REQUIRE(res.gguf.size() == 3);
    CHECK(res.gguf[0].path == (tmp.path / "out" / "model-Q8_0.gguf").string());
    const GgufFile q8 = GgufFile::open(res.gguf[0].path);
    CHECK(q8.at("general.file_type", VT::UINT32).as_u32() == 7);
    CHECK(q8.at("general.quantization_version", VT::UINT32).as_u32() == 2);
    CHECK(q8.find_tensor("blk.0.attn_q.weight")->type == uint32_t(GgmlType::Q8_0));
    CHECK(q8.find_tensor("blk.0.attn_q.bias")->type == uint32_t(GgmlType::F32));
    CHECK(!q8.find_tensor("output.weight")); // tied
    // hidden 32: rows of 32 are not 256-multiples -> Q4_K falls back to Q5_0, Q6_K to Q8_0.
    const GgufFile q4 = GgufFile::open(res.gguf[1].path);
    CHECK(q4.at("general.file_type", VT::UINT32).as_u32() == 15);
    CHECK(q4.find_tensor("blk.0.ffn_up.weight")->type == uint32_t(GgmlType::Q5_0));
    CHECK(q4.find_tensor("token_embd.weight")->type == uint32_t(GgmlType::Q8_0));
    const GgufFile bf = GgufFile::open(res.gguf[2].path);
    CHECK(bf.find_tensor("blk.0.ffn_up.weight")->type == uint32_t(GgmlType::BF16));
    CHECK(bf.find_tensor("blk.0.attn_norm.weight")->type == uint32_t(GgmlType::F32));
}

TEST_CASE("export gguf: GPT-2, Granite and Llama-3 keys", "[export]") {
    test::TempDir tmp("export_arch");
    exportable_fixture("gpt2", tmp.path / "gpt2");
    const std::string g = (tmp.path / "g.gguf").string();
    run({.model_dir = (tmp.path / "gpt2").string(), .types = {ExportType::F16}, .out = g});
    const GgufFile fg = GgufFile::open(g);
    CHECK(fg.at("gpt2.attention.layer_norm_epsilon", VT::FLOAT32).as_f32() > 0.0f);
    CHECK_FALSE(fg.find("gpt2.rope.freq_base"));
    CHECK(fg.find_tensor("position_embd.weight")->type == uint32_t(GgmlType::F16));
    CHECK(fg.find_tensor("blk.0.attn_qkv.weight"));

    const Model gr = exportable_fixture("granite", tmp.path / "granite");
    const std::string r = (tmp.path / "r.gguf").string();
    run({.model_dir = (tmp.path / "granite").string(), .types = {ExportType::F32}, .out = r});
    const GgufFile fr = GgufFile::open(r);
    CHECK(fr.at("granite.embedding_scale", VT::FLOAT32).as_f32() == gr.cfg.embedding_multiplier);
    CHECK(fr.at("granite.residual_scale", VT::FLOAT32).as_f32() == gr.cfg.residual_multiplier);
    CHECK(fr.at("granite.attention.scale", VT::FLOAT32).as_f32() == gr.cfg.attention_multiplier);
    CHECK(fr.at("granite.logit_scale", VT::FLOAT32).as_f32() == gr.cfg.logits_scaling);

    exportable_fixture("llama3_scaled", tmp.path / "l3");
    const std::string l = (tmp.path / "l.gguf").string();
    run({.model_dir = (tmp.path / "l3").string(), .types = {ExportType::F32}, .out = l});
    const GgufFile fl = GgufFile::open(l);
    CHECK(fl.tensors().front().name == "rope_freqs.weight");
    CHECK(fl.at("slimtune.rope_scaling.llama3.factor", VT::FLOAT32).as_f32() > 1.0f);
}

TEST_CASE("open_checkpoint_model: placeholders until read, values equal load_model's", "[export]") {
    for (const char* name :
         {"gpt2", "gpt2_noprefix", "gpt2_bf16", "llama_gqa_bf16", "qwen2_sharded"}) {
        INFO(name);
        const std::string dir = fixture_dir(name).string();
        CheckpointModel c = open_checkpoint_model(dir);
        Model loaded = load_model(dir);
        const std::vector<NamedParam> lazy = model_params(c.model, ""),
                                      full = model_params(loaded, "");
        REQUIRE(lazy.size() == full.size());
        for (size_t i = 0; i < lazy.size(); ++i) {
            INFO(lazy[i].name);
            CHECK(lazy[i].tensor->is_placeholder());
            const std::vector<float> v = c.read(lazy[i]);
            const std::span<const float> want = full[i].tensor->values();
            REQUIRE(v.size() == want.size());
            CHECK(std::memcmp(v.data(), want.data(), v.size() * sizeof(float)) == 0);
            CHECK(lazy[i].tensor->is_placeholder()); // read() leaves the model as it is
        }
        c.load_all();
        for (size_t i = 0; i < lazy.size(); ++i)
            CHECK(std::ranges::equal(lazy[i].tensor->values(), full[i].tensor->values()));
    }
    // The checks load_model makes come before any weight is read.
    CHECK_THROWS_WITH(open_checkpoint_model("/nonexistent/model"), Contains("/nonexistent/model"));
}

TEST_CASE("export gguf: streamed from the checkpoint, the tensors equal the in-memory model's",
          "[export]") {
    test::TempDir tmp("export_stream");
    struct Case {
        const char* fixture;
        const char* adapter; // tests/fixtures/adapters/<adapter>, merged; "" for none
        ExportType type;
    };
    for (const Case& c :
         {Case{"gpt2", "", ExportType::F32}, Case{"gpt2", "gpt2_lora", ExportType::Q8_0},
          Case{"llama_gqa", "", ExportType::Q4_0},
          Case{"llama_gqa", "llama_gqa_lora", ExportType::F16},
          Case{"qwen2", "", ExportType::F32}}) {
        const std::string label = std::string(c.fixture) + " " + c.adapter;
        INFO(label);
        const fs::path dir = tmp.path / c.fixture;
        if (!fs::exists(dir))
            exportable_fixture(c.fixture, dir);
        const std::string adapter =
            *c.adapter
                ? (fs::path(SLIMTUNE_SOURCE_DIR) / "tests/fixtures/adapters" / c.adapter).string()
                : std::string();
        const std::string streamed = (tmp.path / "streamed.gguf").string();
        run({.model_dir = dir.string(),
             .adapter_dir = adapter,
             .types = {c.type},
             .out = streamed});

        Model m = load_model(dir.string());
        if (!adapter.empty()) {
            load_peft_adapter(m, adapter);
            lora_merge(m);
        }
        const std::string in_memory = (tmp.path / "in_memory.gguf").string();
        train::write_gguf_model(m, data::Tokenizer::load(dir.string()), {}, c.type, in_memory);

        const GgufFile a = GgufFile::open(streamed), b = GgufFile::open(in_memory);
        REQUIRE(a.tensors().size() == b.tensors().size());
        for (size_t i = 0; i < a.tensors().size(); ++i) {
            const GgufTensorInfo &ta = a.tensors()[i], &tb = b.tensors()[i];
            INFO(ta.name);
            CHECK(ta.name == tb.name);
            CHECK(ta.type == tb.type);
            CHECK(ta.ne == tb.ne);
            const auto da = a.tensor_data(ta), db = b.tensor_data(tb);
            REQUIRE(da.size() == db.size());
            CHECK(std::memcmp(da.data(), db.data(), da.size()) == 0);
        }
    }
}

TEST_CASE("export: bad requests are refused before anything is written", "[export]") {
    test::TempDir tmp("export_bad");
    const std::string fix = fixture_dir("llama_gqa").string();
    auto refuses = [&](train::ExportOptions o, const std::string& msg) {
        CHECK_THROWS_WITH(run(o), Contains(msg));
    };
    refuses({.model_dir = fix, .format = "onnx", .out = "x"}, "--format must be");
    refuses({.model_dir = fix, .format = "gguf-lora", .out = "x.gguf"}, "pass --adapter");
    refuses({.model_dir = fix,
             .types = {ExportType::F32, ExportType::Q8_0},
             .out = (tmp.path / "a.gguf").string()},
            "give a directory");
    // The reference checkpoints carry no tokenizer: a GGUF needs one.
    refuses({.model_dir = fix, .out = (tmp.path / "b.gguf").string()}, "no tokenizer.json");
    CHECK_THROWS_WITH(io::parse_export_types("q4_k_m,q3_k"),
                      Contains("unknown export type 'q3_k'"));
    CHECK_THROWS_WITH(io::parse_export_types("f16,f16"), Contains("given twice"));
    CHECK(std::filesystem::is_empty(tmp.path));
}
