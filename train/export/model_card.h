// The model card (README.md) written next to a directory export: what the model is, how it
// was trained and on what data (the curation manifest's hash and summary), and what each
// exported file costs in size and in perplexity against the float32 model.
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
    std::string base_model;
    std::string format;            // gguf, ollama, hf
    nlohmann::json provenance;     // slimtune_provenance.json (null: a base model as is)
    nlohmann::json adapter_config; // adapter_config.json of a merged LoRA (null: none)
    std::string eval_data;         // what the perplexities were measured on ("" : none)
    int64_t eval_tokens = 0;
    std::optional<double> f32_perplexity; // the float32 model in memory, the reference
    std::vector<ModelCardFile> files;
};

// The card as Markdown.
std::string model_card_markdown(const ModelCard& card);

} // namespace slimtune::train
