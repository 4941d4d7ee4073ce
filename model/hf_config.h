// config.json of a Hugging Face model directory, parsed into one typed struct for every
// supported family: gpt2, llama (TinyLlama, SmolLM/SmolLM2, Llama-3.x), qwen2, granite, and
// Gemma's three generations: gemma, gemma2, gemma3_text.
// Unknown model types, missing required keys and values of the wrong type are ConfigErrors
// naming the file and the key.
#pragma once

#include "model/block.h"

#include <cstdint>
#include <string>
#include <vector>

namespace slimtune {

enum class Family { Gpt2, Llama, Qwen2, Granite, Gemma, Gemma2, Gemma3 };

struct RopeScaling {
    enum class Kind { None, Linear, Llama3 } kind = Kind::None;
    double factor = 1.0;
    double low_freq_factor = 1.0, high_freq_factor = 4.0; // llama3
    int64_t original_max_positions = 0;                   // llama3
};

// The largest sizes a config.json (or a GGUF's metadata, read through the same parser) may
// state. Each is several times the largest released model's (Llama-3.1 405B: 126 layers,
// hidden 16384, 128 heads of 128; Gemma: vocabulary 262 k): a config is a small file, and its
// sizes decide what is allocated, so a typo or a hostile value must not ask for terabytes.
inline constexpr int64_t kMaxConfigLayers = 1024, kMaxConfigHidden = 1 << 17,
                         kMaxConfigHeads = 4096, kMaxConfigHeadDim = 4096,
                         kMaxConfigIntermediate = 1 << 20, kMaxConfigVocab = 1 << 23,
                         kMaxConfigPositions = 1 << 24;

struct ModelConfig {
    std::string model_type; // as written in config.json
    Family family = Family::Llama;
    int64_t vocab_size = 0, hidden = 0, n_layer = 0, n_head = 0, n_head_kv = 0, head_dim = 0;
    int64_t intermediate = 0, max_positions = 0;
    float norm_eps = 1e-5f;
    bool qkv_bias = false, o_bias = false, mlp_bias = false;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    bool tie_word_embeddings = false;
    // Granite's multipliers (1 elsewhere); attention_multiplier 0 means 1/sqrt(head_dim).
    float embedding_multiplier = 1.0f, residual_multiplier = 1.0f;
    float attention_multiplier = 0.0f, logits_scaling = 1.0f;
    // Gemma: embedding_multiplier is sqrt(hidden_size) rounded to float32, as transformers
    // computes it in the activations' dtype, and attention_multiplier query_pre_attn_scalar^-1/2
    // (Gemma 2 and 3). Gemma 2's tanh soft-caps (0: none) on attention scores and final logits.
    float attn_softcap = 0.0f, final_softcap = 0.0f;
    // Sliding-window attention (Gemma 2 and 3): the window in tokens and, per layer, whether the
    // layer uses it (empty: no layer does). Gemma 3's sliding layers rotate with their own base
    // and no rope scaling; rope_theta and rope_scaling are the global layers'.
    int64_t sliding_window = 0;
    std::vector<bool> sliding_layers;
    double rope_local_theta = 0.0;
    int32_t bos_token_id = -1;
    std::vector<int32_t> eos_token_ids; // config.json, overridden by generation_config.json
    std::string torch_dtype;            // informative ("float32", "bfloat16", ...)
};

// Reads DIR/config.json (and DIR/generation_config.json for EOS ids when present).
ModelConfig read_hf_config(const std::string& dir);
// Parses config.json text; `where` names the file in messages.
ModelConfig parse_hf_config(const std::string& json_text, const std::string& where);

// config.json text for `cfg`, as transformers writes it for the family (what parse_hf_config
// reads back to the same config): how `slimtune init` writes a new model's directory.
std::string hf_config_json(const ModelConfig& cfg);

// RoPE inverse frequencies with the config's scaling applied (transformers' default, linear
// and llama3 rules). Empty for GPT-2 (learned positions).
std::vector<double> rope_frequencies(const ModelConfig& cfg);
// The block switches of this family for layer `layer` (Gemma's layers differ in their window and
// rotary frequencies; the other families' are all alike).
BlockConfig block_config(const ModelConfig& cfg, int64_t layer = 0);
// Whether cfg is one of Gemma's generations (RMSNorm weights act as 1 + w, tied GeGLU blocks).
bool is_gemma(const ModelConfig& cfg);

const char* family_name(Family f);

} // namespace slimtune
