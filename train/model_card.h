// The model card (README.md) written next to a trained adapter (by `slimtune train`) and in a
// directory export: what the model is, how it was trained and on what data (the curation
// manifest's hash, summary and settings), the chat template it was trained with, and what
// each exported file costs in size and in perplexity against the float32 model. The YAML front
// matter follows the Hugging Face Hub's model card metadata: base_model only when it is a Hub
// id, library_name peft / transformers / gguf, pipeline_tag text-generation, tags.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace slimtune::train {

struct ModelCardFile {
    std::string file; // name inside the export directory
    std::string type; // export type ("q4_k_m") or "safetensors"
    uint64_t bytes = 0;
    std::optional<double> perplexity; // on the card's evaluation data
};

struct ModelCard {
    std::string name;
    std::string base_model;        // what the text calls it (its Hub id, else a directory name)
    std::string base_model_id;     // its Hub id, "" when unknown (no base_model: in the YAML)
    std::string format;            // peft, gguf, ollama, hf
    nlohmann::json provenance;     // slimtune_provenance.json (null: a base model as is)
    nlohmann::json adapter_config; // adapter_config.json of a merged LoRA (null: none)
    // The chat template the files carry and where that choice came from ("" : none).
    std::string chat_template, chat_template_source;
    std::string eval_data; // what the perplexities were measured on ("" : none)
    int64_t eval_tokens = 0;
    std::optional<double> f32_perplexity; // the float32 model in memory, the reference
    std::vector<ModelCardFile> files;
};

// The card as Markdown.
std::string model_card_markdown(const ModelCard& card);

// README.md in a PEFT adapter directory that `slimtune train` wrote (adapter_config.json
// there), from the run's provenance record; `name` heads it.
void write_adapter_card(const std::string& adapter_dir,
                        const std::string& name,
                        const nlohmann::json& provenance);

} // namespace slimtune::train
