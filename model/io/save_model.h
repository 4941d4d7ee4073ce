// Writes a model as a Hugging Face directory: model.safetensors (float32, Hugging Face names,
// GPT-2's Conv1D weights back in their (in, out) layout) plus the configuration and tokenizer
// files copied from the directory it was loaded from. What a full fine-tune produces, and what
// a merged LoRA export builds on.
#pragma once

#include "model/transformer.h"

#include <map>
#include <string>

namespace slimtune::io {

// Every write is atomic; `out_dir` is created. Throws ConfigError for a 16-bit frozen weight
// (load with float32 weights) and Error when a file cannot be written.
// `metadata` goes into the safetensors header (provenance: the dataset manifest hash).
void save_hf_model(Model& m,
                   const std::string& source_dir,
                   const std::string& out_dir,
                   const std::map<std::string, std::string>& metadata = {});

} // namespace slimtune::io
