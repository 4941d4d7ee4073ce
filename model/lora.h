// LoRA as PEFT defines it (peft.tuners.lora): which linear layers get an adapter, how A and B
// start, the scaling, merge/unmerge, and the PEFT adapter files (adapter_config.json +
// adapter_model.safetensors with keys "base_model.model.<module>.lora_A.weight").
#pragma once

#include "common/rng.h"
#include "model/transformer.h"

#include <map>
#include <string>
#include <vector>

namespace slimtune {

struct LoraConfig {
    int64_t rank = 8;
    double alpha = 16.0;
    double dropout = 0.0;
    bool rslora = false; // scaling alpha / sqrt(r) instead of alpha / r
    // Module names matched as PEFT does: a name equal to the module or a suffix after a '.'
    // ("q_proj" matches "model.layers.0.self_attn.q_proj"); {"all-linear"} is every linear
    // layer of the blocks (never the output head).
    std::vector<std::string> targets;
    std::string target_regex;                    // when set, instead of targets: a full match
    std::vector<int64_t> layers;                 // layers_to_transform; empty: every layer
    std::map<std::string, int64_t> rank_pattern; // regex key -> rank, matched as "(.*\.)?key$"
    std::map<std::string, double> alpha_pattern; // regex key -> alpha
};

// One adapted layer.
struct LoraModule {
    std::string module; // Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj"
    LinearParams* linear;
    int64_t rank; // the alpha it was made with lives on only in the scaling (LoraParams)
    bool conv1d;
};

// The layers `config` selects; ConfigError when it selects none (the message lists a few module
// names) or when its values make no sense (rank < 1, alpha <= 0, dropout outside [0, 1)).
std::vector<NamedLinear> lora_select(Model& m, const LoraConfig& config);

// Adds adapters to the selected layers: A kaiming-uniform with a = sqrt(5) (uniform in
// ±1/sqrt(in)), B zeros, both trainable; the base weights stay frozen. Returns the adapters in
// model order.
std::vector<LoraModule> lora_attach(Model& m, const LoraConfig& config, Rng& init_rng);

// Every adapter currently on the model, in model order.
std::vector<LoraModule> lora_modules(Model& m);

// PEFT's state-dict key of an adapter tensor: "base_model.model.<module>.lora_A.weight".
std::string lora_key(const std::string& module, bool a);

// W += scaling * B A on every adapter (and the reverse). Merging twice, or unmerging what is
// not merged, is a no-op; a 16-bit frozen weight cannot be merged (ConfigError).
void lora_merge(Model& m);
void lora_unmerge(Model& m);

// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (atomically, F32);
// `metadata` goes into the safetensors header (provenance: the dataset manifest hash).
void save_peft_adapter(Model& m,
                       const LoraConfig& config,
                       const std::string& dir,
                       const std::string& base_model_name,
                       const std::map<std::string, std::string>& metadata = {});

// Reads a PEFT LoRA adapter directory: its config, and adapters attached to `m` with the
// file's A and B (FormatError naming the file for a missing key or a wrong shape, ConfigError
// for an adapter type other than LORA or DoRA/bias options slimtune does not implement).
LoraConfig load_peft_adapter(Model& m, const std::string& dir);

} // namespace slimtune
