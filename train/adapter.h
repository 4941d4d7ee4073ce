// What a fine-tuning produced, as eval, generate and export name it on the command line:
// --model (the base: a Hugging Face directory or a .gguf) and --adapter, which is
//   - a PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors; written
//     by `slimtune train`, `slimtune export --format peft` or PEFT itself),
//   - a training run directory: its adapter/ (LoRA) or its model/ (full fine-tuning),
//   - or a whole Hugging Face model directory (a full fine-tune), used instead of --model.
// A full fine-tuning run directory also works as --model. The adapter is applied to the loaded
// model unmerged (model/lora.h load_peft_adapter, the loader export uses too), so no merged
// copy is written, and 16-bit or GGUF base weights keep working.
#pragma once

#include "model/lora.h"
#include "model/transformer.h"

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

namespace slimtune::train {

struct FineTuneSource {
    std::string base;       // the base model (--model); "" when --model is itself fine-tuned
    std::string adapter;    // PEFT adapter directory to apply to `base`; "" none
    std::string full_model; // a fully fine-tuned model directory; "" none
    // The directory whose slimtune_provenance.json describes the fine-tuning ("" none).
    std::string provenance_dir;

    // The weights to load: the full fine-tune, else the base (which gets the adapter).
    const std::string& weights() const { return full_model.empty() ? base : full_model; }
    bool fine_tuned() const { return !adapter.empty() || !full_model.empty(); }
};

// Resolves --model and --adapter ("" when not given), saying on `progress` what a run
// directory stood for. UsageError for a directory that is none of the above, a LoRA run or
// adapter given as --model, or a full fine-tune given twice.
FineTuneSource
resolve_fine_tune(const std::string& model, const std::string& adapter, std::ostream& progress);

// Attaches the PEFT adapter in `dir` to `m`, unmerged (load_peft_adapter); a one-line error
// naming the file when it does not fit the model (target names, shapes, tensor count).
LoraConfig apply_adapter(Model& m, const std::string& dir, std::ostream& progress);

// The chat template to render chat with: `requested` (--chat-template) when given, else the one
// the fine-tuning recorded in its provenance, else "" (the tokenizer's own, as detected). Says
// which on `progress` when `src` is fine-tuned.
std::string
chat_template_for(const FineTuneSource& src, const std::string& requested, std::ostream& progress);

} // namespace slimtune::train
