// llama-quantize as the oracle of our quantized exports: llama.cpp's own llama_model_quantize
// (libllama from npm, dlopen) turns our F32 GGUF into each export type, and our direct export
// of the same model must hold exactly the same tensor types and bytes: the per-tensor policy
// (output rule, Q4_K_M/Q5_K_M mixes, shape fallbacks) and the quantizers together.
#include "model/io/ggml_quants.h"
#include "model/io/gguf.h"
#include "tests/ggml_oracle.h"
#include "tests/model/export_test_util.h"
#include "tests/test_util.h"
#include "train/export/export.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <sstream>

using namespace slimtune;
using namespace slimtune::io;
using namespace slimtune::export_test;

namespace {

std::string gpt2_json(int64_t c, int64_t layers, int64_t vocab) {
    return R"({"model_type": "gpt2", "n_embd": )" + std::to_string(c) +
           R"(, "n_head": 4, "n_layer": )" + std::to_string(layers) +
           R"(, "n_positions": 64, "n_inner": null, "vocab_size": )" + std::to_string(vocab) +
           R"(, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
               "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": true})";
}

std::string
llama_json(const std::string& type, int64_t c, int64_t layers, int64_t vocab, bool tie) {
    return R"({"model_type": ")" + type + R"(", "hidden_size": )" + std::to_string(c) +
           R"(, "intermediate_size": )" + std::to_string(2 * c) + R"(, "num_hidden_layers": )" +
           std::to_string(layers) +
           R"(, "num_attention_heads": 4, "num_key_value_heads": 2,
               "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
               "vocab_size": )" +
           std::to_string(vocab) + R"(, "tie_word_embeddings": )" + (tie ? "true" : "false") +
           R"(, "bos_token_id": 0, "eos_token_id": 0})";
}

// Gemma 2 (type "gemma2") or Gemma 3 ("gemma3_text") of width c: MQA with heads of 64, windows
// of 8 on the layers llama.cpp expects.
std::string gemma_json(const std::string& type, int64_t c, int64_t layers, int64_t vocab) {
    return R"({"model_type": ")" + type + R"(", "hidden_size": )" + std::to_string(c) +
           R"(, "intermediate_size": )" + std::to_string(2 * c) + R"(, "num_hidden_layers": )" +
           std::to_string(layers) +
           R"(, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 64,
               "query_pre_attn_scalar": 64, "sliding_window": 8, "sliding_window_pattern": 6,
               "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "vocab_size": )" +
           std::to_string(vocab) + R"(, "bos_token_id": 0, "eos_token_id": 0})";
}

// Exports `model_dir` in every type and compares each file with llama.cpp's quantization of
// our F32 export.
void check_against_llama_quantize(const std::filesystem::path& model_dir,
                                  const std::filesystem::path& work) {
    std::ostringstream log;
    const std::string f32 = (work / "f32.gguf").string();
    train::export_model({.model_dir = model_dir.string(), .types = {ExportType::F32}, .out = f32},
                        log);
    for (const ExportType t :
         {ExportType::F16, ExportType::BF16, ExportType::Q8_0, ExportType::Q4_0, ExportType::Q5_0,
          ExportType::Q4_K, ExportType::Q6_K, ExportType::Q4_K_M, ExportType::Q5_K_M}) {
        const std::string name(export_type_name(t));
        INFO(model_dir.filename().string() << " " << name);
        const std::string ours = (work / ("ours-" + name + ".gguf")).string();
        const std::string theirs = (work / ("theirs-" + name + ".gguf")).string();
        train::export_model({.model_dir = model_dir.string(), .types = {t}, .out = ours}, log);
        test::llama_model_quantize_file(f32, theirs, static_cast<int32_t>(llama_file_type(t)),
                                        t == ExportType::Q4_K, 1, false);
        const GgufFile a = GgufFile::open(ours), b = GgufFile::open(theirs);
        REQUIRE(a.tensors().size() == b.tensors().size());
        int64_t quantized = 0;
        for (const GgufTensorInfo& ta : a.tensors()) {
            INFO(ta.name);
            const GgufTensorInfo* tb = b.find_tensor(ta.name);
            REQUIRE(tb);
            // llama-quantize never converts position embeddings; a float export (like
            // llama.cpp's converter with --outtype f16) does.
            if (ta.name == "position_embd.weight" && !ggml_block_size(*ggml_type_from_id(ta.type)))
                continue;
            if (ta.name == "position_embd.weight" &&
                (t == ExportType::F16 || t == ExportType::BF16)) {
                CHECK(tb->type == uint32_t(GgmlType::F32));
                continue;
            }
            REQUIRE(ggml_type_name(*ggml_type_from_id(ta.type)) ==
                    ggml_type_name(*ggml_type_from_id(tb->type)));
            const auto da = a.tensor_data(ta), db = b.tensor_data(*tb);
            REQUIRE(da.size() == db.size());
            CHECK(std::memcmp(da.data(), db.data(), da.size()) == 0);
            quantized += ta.type != uint32_t(GgmlType::F32);
        }
        CHECK(quantized > 0);
    }
}

} // namespace

TEST_CASE("export vs llama-quantize: K-quant shapes (rows of 256)", "[export][llama_cpp]") {
    if (test::llama_cpp_lib_dir().empty())
        FAIL("llama.cpp oracle not installed (scripts/npm-reference.sh)");
    test::TempDir tmp("export_llama_quantize");
    // 4 layers: use_more_bits picks layers 2 and 3 for Q6_K in the _M mixes.
    random_exportable(llama_json("llama", 256, 4, 300, false), tmp.path / "llama");
    check_against_llama_quantize(tmp.path / "llama", tmp.path);
    random_exportable(llama_json("qwen2", 256, 4, 300, true), tmp.path / "qwen2", "qwen2");
    check_against_llama_quantize(tmp.path / "qwen2", tmp.path);
    random_exportable(gpt2_json(256, 4, 300), tmp.path / "gpt2");
    check_against_llama_quantize(tmp.path / "gpt2", tmp.path);
    // Gemma: tied 300-token embedding as the head, q/k norms and post norms (1-D, F32).
    random_exportable(gemma_json("gemma2", 256, 4, 300), tmp.path / "gemma2");
    check_against_llama_quantize(tmp.path / "gemma2", tmp.path);
    random_exportable(gemma_json("gemma3_text", 256, 6, 300), tmp.path / "gemma3");
    check_against_llama_quantize(tmp.path / "gemma3", tmp.path);
}

TEST_CASE("export vs llama-quantize: reference checkpoints (fallback shapes)",
          "[export][llama_cpp]") {
    if (test::llama_cpp_lib_dir().empty())
        FAIL("llama.cpp oracle not installed (scripts/npm-reference.sh)");
    test::TempDir tmp("export_llama_quantize_fix");
    for (const char* name :
         {"llama_gqa", "llama3_scaled", "granite", "smollm", "gemma", "gemma2", "gemma3_1b"}) {
        exportable_fixture(name, tmp.path / name);
        check_against_llama_quantize(tmp.path / name, tmp.path);
    }
}
