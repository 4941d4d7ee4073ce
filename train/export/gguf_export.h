// GGUF files for llama.cpp and ollama, written from a loaded model: the model itself in any
// export type (the hyperparameter keys of model/io/gguf_metadata.h, tokenizer, tensors streamed
// one at a time through the quantizers) and a LoRA adapter (general.type = adapter). Both carry the
// provenance of the data that went in (general.dataset.*, general.base_model.*).
// Key names and types: shared/research/finetune.md §2.7, §2.8, §2.10.
#pragma once

#include "data/tokenizer/tokenizer.h"
#include "model/io/ggml_quants.h"
#include "model/io/gguf.h"
#include "model/io/gguf_quant_policy.h"
#include "model/transformer.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slimtune::train {

// What a GGUF says about where the model came from.
struct GgufExportInfo {
    std::string name;          // general.name
    std::string base_model;    // general.base_model.0.name ("" writes no base_model keys)
    std::string base_model_id; // its Hub id: general.base_model.0.repo_url ("" : none)
    std::string base_model_path;
    // tokenizer.chat_template: "" keeps the tokenizer's own; else this text replaces it (the
    // template the run trained with, when that is not the tokenizer's own).
    std::string chat_template_jinja;
    // slimtune_provenance.json of the run (null: none; no general.dataset keys are written).
    nlohmann::json provenance;
};

struct GgufExportReport {
    std::string path;
    std::string type; // export type name ("q4_k_m"; "lora f16" for an adapter)
    uint64_t file_bytes = 0;
    int64_t tensors = 0;
    std::map<std::string, int64_t> tensors_per_type; // ggml type name -> count
    double seconds = 0.0;
};

// The general.* keys every slimtune GGUF carries: name, base model and dataset provenance
// (manifest SHA-256, curated-file SHA-256, document counts, a curation summary).
std::vector<io::GgufKv> gguf_provenance_metadata(const GgufExportInfo& info);

// Writes `m` (float32, adapters merged or absent) with `tokenizer` as a GGUF model of `type`
// to `path` (atomically). `tokenizer` must be byte-level BPE (gguf_vocab). The tokenizer.json
// it was loaded from is embedded as tokenizer.huggingface.json so that slimtune's own reader
// tokenizes exactly as training did; tokenizer.chat_template is info.chat_template_jinja when
// set (also in the embedded tokenizer_config.json), else the tokenizer's own. Placeholder
// parameters (a model from open_checkpoint_model) are streamed from the checkpoint through `read`,
// one at a time.
GgufExportReport write_gguf_model(Model& m,
                                  const data::Tokenizer& tokenizer,
                                  const GgufExportInfo& info,
                                  io::ExportType type,
                                  const std::string& path,
                                  const io::ParamReader& read = {});

// Writes the unmerged LoRA adapters on `m` as a llama.cpp LoRA adapter GGUF: tensors
// "<base tensor>.lora_a" (A, ne = [in, r]) and ".lora_b" (B, ne = [r, out]), B rows permuted
// where the base's Q/K rows are, adapter.lora.alpha as FLOAT32. llama.cpp scales by alpha / r
// with one alpha for the whole file, so per-module scalings (rsLoRA, rank_pattern,
// alpha_pattern) are folded into B exactly where they differ from alpha / r. `type`: f32, f16
// or bf16. ConfigError when the model has no adapters, or they are merged.
GgufExportReport
write_gguf_lora(Model& m, const GgufExportInfo& info, io::ExportType type, const std::string& path);

} // namespace slimtune::train
