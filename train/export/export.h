// `slimtune export`: a trained model (or base + PEFT adapter) as files a deployment runs.
//   gguf       one GGUF per --type (llama.cpp, ollama), tokenizer and provenance inside
//   gguf-lora  the adapter alone as a llama.cpp LoRA GGUF, applied at load time to the base
//   hf         the merged model as a Hugging Face directory (safetensors, sharded above a size)
//   peft       the adapter as a PEFT directory (adapter_config.json + safetensors)
//   ollama     a GGUF plus a Modelfile (TEMPLATE, SYSTEM, stop parameters)
// Every file is written atomically; a directory output gets a model card (README.md).
#pragma once

#include "model/io/export_type.h"
#include "train/export/gguf_export.h"
#include "train/model_card.h"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace slimtune::train {

struct ExportOptions {
    std::string model_dir;     // Hugging Face directory (base model, or a full fine-tune)
    std::string adapter_dir;   // PEFT adapter directory from `slimtune train` (optional)
    std::string tokenizer_dir; // default: model_dir
    std::string format = "gguf";
    std::vector<io::ExportType> types = {io::ExportType::F16};
    std::string out;  // a .gguf file (one gguf type), else a directory
    std::string name; // general.name / file base name; default: derived from the dirs
    // The chat format every output carries (GGUF tokenizer.chat_template, ollama TEMPLATE, the
    // card's perplexity, hf tokenizer_config.json): a chat_template_names() name; default: the
    // one the run trained with (slimtune_provenance.json), else the tokenizer's own.
    std::string chat_template;
    uint64_t max_shard_bytes = 2'000'000'000; // hf: shard above this many bytes
    std::string eval_data;       // model card: JSONL whose perplexity each GGUF type gets
    int64_t eval_max_tokens = 0; // model card: score at most this many tokens (0: all)
};

struct ExportResult {
    std::vector<GgufExportReport> gguf; // per written GGUF
    std::string out;                    // the file or directory written
    std::string model_card;             // its path, "" when none
    ModelCard card;                     // what it says (files, sizes, perplexities)
};

// Runs the export; progress lines go to `progress`. ConfigError/FormatError for bad input
// (missing model or adapter, a format that needs an adapter without one, unknown types).
ExportResult export_model(const ExportOptions& options, std::ostream& progress);

} // namespace slimtune::train
