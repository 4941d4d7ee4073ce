// A Hugging Face causal LM (gpt2, llama, qwen2, granite, gemma, gemma2, gemma3_text) as a plain
// struct of parameters whose names are the Hugging Face names, plus forward functions built on the
// one transformer block.
#pragma once

#include "model/block.h"
#include "model/hf_config.h"
#include "model/io/checkpoint.h"

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace slimtune {

struct Model {
    ModelConfig cfg;
    std::vector<BlockConfig> block; // each layer's block switches (cfg's family, the layer's
                                    // window and rotary frequencies)
    Tensor embed;                   // (V, C)  wte / model.embed_tokens
    Tensor pos_embed;               // (P, C)  GPT-2's wpe; undefined elsewhere
    std::vector<BlockParams> layers;
    NormParams norm_f;
    Tensor lm_head; // (V, C); undefined when tied to `embed`

    const Tensor& head() const { return lm_head.defined() ? lm_head : embed; }
};

// Where a parameter sits in the model, whatever its family calls it: the embeddings, a block's
// norms and linear layers, the final norm and the head. Other formats' names map from the slot
// (GGUF: model/io/gguf_tensors.cpp), so the Hugging Face names exist only in transformer.cpp.
enum class ParamSlot {
    Embed,
    PosEmbed,
    Norm1,
    Q,
    K,
    V,
    Qkv,
    O,
    Norm2,
    Gate,
    Up,
    Down,
    NormF,
    LmHead,
    QNorm, // Gemma 3's per-head query and key norms
    KNorm,
    PostAttnNorm, // Gemma 2 and 3's norms of the attention and MLP outputs
    PostFfnNorm,
};

// One parameter under its Hugging Face name. `transposed` marks GPT-2's Conv1D weights, which
// the file stores as (in, out) and the model holds as (out, in).
struct NamedParam {
    std::string name;
    Tensor* tensor;
    bool transposed = false;
    bool projection = false; // a block's linear weight (read only by linear())
    ParamSlot slot = ParamSlot::Embed;
    int64_t layer = -1; // the block's index; -1 outside the blocks
    bool bias = false;  // a norm's or linear layer's bias
};
// Every parameter of the model with its Hugging Face name, in file order: the single source of
// truth for loading, saving, LoRA targeting and export. `prefix` is "transformer." or "" for
// GPT-2 (both forms exist), ignored for the other families.
std::vector<NamedParam> model_params(Model& m, const std::string& gpt2_prefix = "transformer.");

// A linear layer under its Hugging Face module name ("model.layers.0.self_attn.q_proj",
// "transformer.h.0.attn.c_attn"): what LoRA targets. `conv1d` marks GPT-2's Conv1D layers.
struct NamedLinear {
    std::string module;
    LinearParams* linear;
    int64_t layer;
    bool conv1d = false;
};
// Every linear layer of the blocks, in file order (the output head is not one of them).
std::vector<NamedLinear> model_linears(Model& m, const std::string& gpt2_prefix = "transformer.");

struct LoadOptions {
    // Keep the blocks' projection weights in the checkpoint's 16-bit format (BF16/F16) when it
    // has one, frozen, half the memory; linear() widens them a block at a time. Embeddings,
    // norms, biases and the output head are always float32.
    bool keep_16bit_projections = false;
};
// Loads DIR (config.json + model.safetensors or a sharded index). Weights are converted to
// float32 (see LoadOptions). Reports every missing, unexpected or misshapen tensor at once.
Model load_model(const std::string& dir, const LoadOptions& opts = {});
// A model of the given config whose parameters are shape-only placeholders (no memory): what
// load_model fills, and what inspect counts.
Model model_skeleton(const ModelConfig& cfg);

// DIR's checkpoint checked against its config as load_model checks it, with the weights left in
// the (mapped) files: `model`'s parameters stay placeholders until load() fills them. An export
// streams from it one tensor at a time instead of holding the whole model in float32.
struct CheckpointModel {
    Model model;
    io::CheckpointReader ckpt;
    std::string gpt2_prefix; // "transformer." or "", as the file names GPT-2's tensors

    // `p` (from model_params(model, prefix) with any prefix) as float32 in the model's layout,
    // read from the file, whose pages are released afterwards.
    std::vector<float> read(const NamedParam& p) const;
    // Fills one parameter, or all (as load_model does); a filled one is left as it is.
    void load(const NamedParam& p, const LoadOptions& opts = {});
    void load_all(const LoadOptions& opts = {});
};
// The tensors a weights file holds against those a model of its config expects, gathered so
// that one message names every problem (directories and GGUF files alike).
struct TensorMismatch {
    std::vector<std::string> missing, misshapen, unexpected;
    std::vector<std::string> unreadable; // present, in a type the reader cannot dequantize
    void wrong_shape(const std::string& name, const Shape& have, const Shape& want);
    // "; missing: a, b; wrong shape: ...; unexpected: ..."; "" when the file matches.
    std::string problems() const;
};

// Throws what load_model throws for a bad directory, before any weight is read.
CheckpointModel open_checkpoint_model(const std::string& dir);

// Hidden states after the final norm, (B*T, C), for ids (B*T) laid out as `layout`. With
// caches (one per layer, batch 1, inference only) the tokens continue the cached sequence.
Tensor model_hidden(const Model& m,
                    std::span<const int32_t> ids,
                    const TokenLayout& layout,
                    std::vector<KvCache>* caches = nullptr);
// Logits (N, V) of hidden states (Granite's logits_scaling, Gemma 2's final soft-cap applied).
Tensor model_logits(const Model& m, const Tensor& hidden);
// Logits (1, V) of the last of n hidden rows (B*T = n): what generation samples from.
Tensor model_last_logits(const Model& m, const Tensor& hidden);
// Mean next-token loss of hidden states against targets (-100 ignored), never forming the
// whole logits matrix.
Tensor model_loss(const Model& m,
                  const Tensor& hidden,
                  std::span<const int32_t> targets,
                  double normalizer = 0.0);

// Per-layer KV caches for `capacity` positions.
std::vector<KvCache> model_caches(const Model& m, int64_t capacity);

// Number of parameters (tied weights counted once).
int64_t model_param_count(Model& m);

} // namespace slimtune
