#include "model/io/gguf_metadata.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>

namespace slimtune::io {

namespace {

using nlohmann::json;
using VT = GgufValueType;

// What the reader does when the file lacks a key.
enum class Absent {
    Required,      // FormatError: missing key
    ConfigDefault, // config.json's default (parse_hf_config's) applies
    Fallback,      // llama.cpp's default, `fallback`
    EmbeddingRows, // llama.cpp counts the rows of token_embd.weight
};

// One hyperparameter key, for both directions.
struct MetadataKey {
    const char* key;     // after "{arch}." (or kLlama3RopeKeys)
    VT type;             // UINT32 or FLOAT32
    const char* hf_gpt2; // the config.json key it feeds for GPT-2 (nullptr: none)
    const char* hf;      // the config.json key it feeds for llama, qwen2, granite (nullptr: none)
    double (*value)(const ModelConfig&); // what the export writes
    const char* what;                    // the value in messages
    Absent absent = Absent::Required;
    double fallback = 0.0;
    // Reader: a present key must equal value(config) ("the <check> is ..."); nullptr: fed only.
    const char* check = nullptr;
    // Writer: written only when this holds (nullptr: always).
    bool (*written)(const ModelConfig&) = nullptr;
};

template <auto Field> double field(const ModelConfig& c) {
    return static_cast<double>(c.*Field);
}
// Granite's attention scale; 0 in config.json means 1/sqrt(head_dim).
double attention_scale(const ModelConfig& c) {
    return c.attention_multiplier != 0.0f ? c.attention_multiplier
                                          : 1.0f / std::sqrt(static_cast<float>(c.head_dim));
}
// key_length/value_length are written only when heads are not hidden / n_head wide, and always
// for Gemma (as llama.cpp's converter does; its head_dim default is 256, not hidden / n_head).
bool head_dim_differs(const ModelConfig& c) {
    return c.head_dim * c.n_head != c.hidden || is_gemma(c);
}

using C = ModelConfig;
constexpr VT U32 = VT::UINT32, F32 = VT::FLOAT32;

// Every architecture's, first.
constexpr MetadataKey kSharedKeys[] = {
    {"vocab_size", U32, "vocab_size", "vocab_size", field<&C::vocab_size>, "vocab_size",
     Absent::EmbeddingRows},
    {"context_length", U32, "n_positions", "max_position_embeddings", field<&C::max_positions>,
     "context length"},
    {"embedding_length", U32, "n_embd", "hidden_size", field<&C::hidden>, "hidden size"},
    {"block_count", U32, "n_layer", "num_hidden_layers", field<&C::n_layer>, "layer count"},
    {"feed_forward_length", U32, "n_inner", "intermediate_size", field<&C::intermediate>,
     "intermediate size"},
    {"attention.head_count", U32, "n_head", "num_attention_heads", field<&C::n_head>, "head count"},
    // Absent: as many kv heads as query heads.
    {"attention.head_count_kv", U32, nullptr, "num_key_value_heads", field<&C::n_head_kv>,
     "kv head count", Absent::ConfigDefault, 0.0, "kv head count"},
};

constexpr MetadataKey kGpt2Keys[] = {
    {"attention.layer_norm_epsilon", F32, "layer_norm_epsilon", nullptr, field<&C::norm_eps>,
     "epsilon"},
};

// llama, qwen2 and granite.
constexpr MetadataKey kLlamaKeys[] = {
    {"attention.layer_norm_rms_epsilon", F32, nullptr, "rms_norm_eps", field<&C::norm_eps>,
     "epsilon"},
    {"rope.dimension_count", U32, nullptr, nullptr, field<&C::head_dim>, "head dim",
     Absent::ConfigDefault, 0.0, "head dim (partial rotary)"},
    // llama.cpp's default base for every architecture (Hugging Face's Qwen2 default differs).
    {"rope.freq_base", F32, nullptr, "rope_theta", field<&C::rope_theta>, "rope base",
     Absent::Fallback, 10000.0},
    {"attention.key_length", U32, nullptr, "head_dim", field<&C::head_dim>, "head dim",
     Absent::ConfigDefault, 0.0, nullptr, head_dim_differs},
    {"attention.value_length", U32, nullptr, nullptr, field<&C::head_dim>, "head dim",
     Absent::ConfigDefault, 0.0, "key length", head_dim_differs},
};

// Granite's scales, after the rope scaling keys.
constexpr MetadataKey kGraniteKeys[] = {
    {"attention.scale", F32, nullptr, "attention_multiplier", attention_scale, "attention scale",
     Absent::ConfigDefault},
    {"embedding_scale", F32, nullptr, "embedding_multiplier", field<&C::embedding_multiplier>,
     "embedding scale", Absent::ConfigDefault},
    {"residual_scale", F32, nullptr, "residual_multiplier", field<&C::residual_multiplier>,
     "residual scale", Absent::ConfigDefault},
    {"logit_scale", F32, nullptr, "logits_scaling", field<&C::logits_scaling>, "logit scale",
     Absent::ConfigDefault},
};

// Gemma 2's soft-caps and window (llama.cpp's defaults are Gemma2Config's: 50, 30, 4096).
constexpr MetadataKey kGemma2Keys[] = {
    {"attn_logit_softcapping", F32, nullptr, "attn_logit_softcapping", field<&C::attn_softcap>,
     "attention soft-cap", Absent::ConfigDefault},
    {"final_logit_softcapping", F32, nullptr, "final_logit_softcapping", field<&C::final_softcap>,
     "final soft-cap", Absent::ConfigDefault},
    {"attention.sliding_window", U32, nullptr, "sliding_window", field<&C::sliding_window>,
     "sliding window", Absent::ConfigDefault},
};
// Gemma 3's window: without it llama.cpp runs every layer globally.
constexpr MetadataKey kGemma3Keys[] = {
    {"attention.sliding_window", U32, nullptr, "sliding_window", field<&C::sliding_window>,
     "sliding window"},
};

// Llama-3 rope scaling under kLlama3RopeKeys: config.json's rope_scaling object.
constexpr MetadataKey kLlama3RopeScaling[] = {
    {"factor", F32, nullptr, "factor", [](const C& c) { return c.rope_scaling.factor; }, "factor"},
    {"low_freq_factor", F32, nullptr, "low_freq_factor",
     [](const C& c) { return c.rope_scaling.low_freq_factor; }, "low_freq_factor"},
    {"high_freq_factor", F32, nullptr, "high_freq_factor",
     [](const C& c) { return c.rope_scaling.high_freq_factor; }, "high_freq_factor"},
    {"original_context_length", U32, nullptr, "original_max_position_embeddings",
     [](const C& c) { return static_cast<double>(c.rope_scaling.original_max_positions); },
     "original context"},
};

// The keys of a family after the shared ones (the rope scaling keys and Granite's follow).
std::span<const MetadataKey> family_keys(Family f) {
    return f == Family::Gpt2 ? std::span<const MetadataKey>(kGpt2Keys)
                             : std::span<const MetadataKey>(kLlamaKeys);
}
std::span<const MetadataKey> scale_keys(Family f) {
    switch (f) {
    case Family::Granite:
        return kGraniteKeys;
    case Family::Gemma2:
        return kGemma2Keys;
    case Family::Gemma3:
        return kGemma3Keys;
    default:
        return {};
    }
}

// What llama.cpp cannot be told about Gemma: it fixes the layer pattern (Gemma 2 alternates
// from a sliding layer 0, Gemma 3 makes every 6th layer global), Gemma 3's local rope base
// (10000, unscaled) and its lack of soft-caps. A model outside those runs differently there.
void check_llama_cpp_gemma(const ModelConfig& c) {
    const int64_t pattern = c.family == Family::Gemma2 ? 2 : 6;
    auto refuse = [&](const std::string& what) {
        throw ConfigError("GGUF export: this " + c.model_type + " model " + what +
                          ", which llama.cpp's " + family_name(c.family) +
                          " architecture cannot express");
    };
    for (size_t i = 0; i < c.sliding_layers.size(); ++i)
        if (c.sliding_layers[i] != (static_cast<int64_t>(i) % pattern < pattern - 1))
            refuse("has layer " + std::to_string(i) +
                   (c.sliding_layers[i] ? " sliding" : " global") +
                   " (llama.cpp: one global "
                   "layer in every " +
                   std::to_string(pattern) + ")");
    if (c.family != Family::Gemma3)
        return;
    if (c.rope_local_theta != 10000.0)
        refuse("has rope_local_base_freq " + std::to_string(c.rope_local_theta) +
               " (llama.cpp: 10000)");
    if (c.attn_softcap > 0 || c.final_softcap > 0)
        refuse("soft-caps its scores or logits");
    if (c.rope_scaling.kind == RopeScaling::Kind::Llama3)
        refuse("has llama3 rope scaling");
}

// --- writing ---

GgufValue value_of(const MetadataKey& k, const ModelConfig& cfg) {
    const double v = k.value(cfg);
    if (k.type == VT::FLOAT32)
        return GgufValue::f32(static_cast<float>(v));
    if (!(v >= 0 && v <= static_cast<double>(UINT32_MAX)))
        throw ConfigError(std::string("GGUF export: ") + k.what + " " +
                          std::to_string(static_cast<int64_t>(v)) + " does not fit a UINT32");
    return GgufValue::u32(static_cast<uint32_t>(v));
}

void write_keys(std::vector<GgufKv>& kv,
                const std::string& prefix,
                std::span<const MetadataKey> keys,
                const ModelConfig& cfg) {
    for (const MetadataKey& k : keys)
        if (!k.written || k.written(cfg))
            kv.push_back({prefix + k.key, value_of(k, cfg)});
}

// --- reading ---

// The file's value of a key as config.json holds it.
json json_value(const GgufFile& f, const std::string& key, VT type) {
    if (type == VT::FLOAT32)
        return f.at(key, VT::FLOAT32).as_f32();
    return f.at(key, VT::UINT32).as_u32();
}

// Feeds the keys of `keys` that `f` has (or must have) into config.json `j`, under GPT-2's
// names or the others'.
void read_keys(const GgufFile& f,
               const std::string& prefix,
               std::span<const MetadataKey> keys,
               bool gpt2,
               json& j) {
    for (const MetadataKey& k : keys) {
        const char* hf = gpt2 ? k.hf_gpt2 : k.hf;
        if (!hf)
            continue;
        const std::string key = prefix + k.key;
        if (f.find(key) || k.absent == Absent::Required) {
            j[hf] = json_value(f, key, k.type);
            continue;
        }
        if (k.absent == Absent::Fallback) {
            j[hf] = k.fallback;
        } else if (k.absent == Absent::EmbeddingRows) {
            const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
            j[hf] = embd && embd->ne.size() == 2 ? json(embd->ne[1]) : json_value(f, key, k.type);
        }
    }
}

// The keys that must agree with the config parse_hf_config derived (head counts, head dims).
void check_keys(const GgufFile& f,
                const std::string& prefix,
                std::span<const MetadataKey> keys,
                const ModelConfig& c) {
    for (const MetadataKey& k : keys) {
        const std::string key = prefix + k.key;
        if (!k.check || !f.find(key))
            continue;
        const uint32_t v = f.at(key, VT::UINT32).as_u32();
        const auto want = static_cast<int64_t>(k.value(c));
        if (static_cast<int64_t>(v) != want)
            throw ConfigError(f.path() + ": " + key + " is " + std::to_string(v) + " but the " +
                              k.check + " is " + std::to_string(want) +
                              "; slimtune cannot run that");
    }
}

// The rope_scaling object of config.json for the file's scaling keys (null: none).
json rope_scaling_json(const GgufFile& f, const std::string& arch) {
    const std::string llama3(kLlama3RopeKeys);
    if (f.find(llama3 + "factor")) {
        json j = {{"rope_type", "llama3"}};
        read_keys(f, llama3, kLlama3RopeScaling, false, j);
        return j;
    }
    if (f.find_tensor("rope_freqs.weight"))
        throw FormatError(f.path() + ": has a rope_freqs.weight tensor but no " + llama3 +
                          "* keys; Llama-3 rope scaling from another converter is not supported");
    const std::string type_key = arch + ".rope.scaling.type";
    if (!f.find(type_key))
        return nullptr;
    const std::string type = f.at(type_key, VT::STRING).as_str();
    if (type == "none")
        return nullptr;
    if (type != "linear") // parse_hf_config names the supported kinds
        return {{"rope_type", type}};
    return {{"rope_type", "linear"},
            {"factor", f.at(arch + ".rope.scaling.factor", VT::FLOAT32).as_f32()}};
}

} // namespace

double llama_cpp_query_scalar(const ModelConfig& c) {
    // llama.cpp takes Gemma 2 27B (46 layers) and Gemma 3 27B (62) for hidden / heads wide.
    const bool big = (c.family == Family::Gemma2 && c.n_layer == 46) ||
                     (c.family == Family::Gemma3 && c.n_layer == 62);
    return static_cast<double>(big ? c.hidden / c.n_head : c.head_dim);
}

std::string gguf_architecture(const ModelConfig& cfg) {
    return family_name(cfg.family);
}

std::vector<GgufKv> gguf_architecture_metadata(const ModelConfig& cfg) {
    if (cfg.family == Family::Gemma2 || cfg.family == Family::Gemma3)
        check_llama_cpp_gemma(cfg);
    const std::string arch = gguf_architecture(cfg) + ".";
    std::vector<GgufKv> kv;
    write_keys(kv, arch, kSharedKeys, cfg);
    write_keys(kv, arch, family_keys(cfg.family), cfg);
    const RopeScaling& rs = cfg.rope_scaling;
    if (rs.kind == RopeScaling::Kind::Linear) {
        kv.push_back({arch + "rope.scaling.type", GgufValue::str("linear")});
        kv.push_back({arch + "rope.scaling.factor", GgufValue::f32(static_cast<float>(rs.factor))});
    } else if (rs.kind == RopeScaling::Kind::Llama3) {
        write_keys(kv, std::string(kLlama3RopeKeys), kLlama3RopeScaling, cfg);
    }
    write_keys(kv, arch, scale_keys(cfg.family), cfg);
    return kv;
}

ModelConfig gguf_model_config(const GgufFile& f) {
    if (f.find("general.type")) {
        const std::string& type = f.at("general.type", VT::STRING).as_str();
        if (type != "model")
            throw ConfigError(f.path() + ": general.type is '" + type +
                              "', not 'model' (llama.cpp applies an adapter GGUF to its base "
                              "model; slimtune cannot run one alone)");
    }
    const std::string arch = f.at("general.architecture", VT::STRING).as_str();
    const Family families[] = {Family::Gpt2,  Family::Llama,  Family::Qwen2, Family::Granite,
                               Family::Gemma, Family::Gemma2, Family::Gemma3};
    const Family* family = std::find_if(std::begin(families), std::end(families),
                                        [&](Family fam) { return arch == family_name(fam); });
    if (family == std::end(families))
        throw ConfigError(f.path() + ": general.architecture '" + arch +
                          "' is not supported (supported: gpt2, llama, qwen2, granite, gemma, "
                          "gemma2, gemma3)");

    // config.json as Hugging Face would write it for the file's hyperparameters, so that
    // parse_hf_config applies its family defaults and validation exactly as to a directory.
    json j = {{"model_type", *family == Family::Gemma3 ? "gemma3_text" : arch}};
    j["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
    const bool gpt2 = *family == Family::Gpt2;
    read_keys(f, arch + ".", kSharedKeys, gpt2, j);
    read_keys(f, arch + ".", family_keys(*family), gpt2, j);
    if (!gpt2)
        j["rope_scaling"] = rope_scaling_json(f, arch);
    read_keys(f, arch + ".", scale_keys(*family), gpt2, j);
    if (*family == Family::Gemma || *family == Family::Gemma2 || *family == Family::Gemma3) {
        // llama.cpp's head width without key_length, and the query scale it uses (the export
        // folds the model's own into the weights: gguf_tensor_sources).
        if (!j.contains("head_dim"))
            j["head_dim"] =
                j.at("hidden_size").get<int64_t>() / j.at("num_attention_heads").get<int64_t>();
        j["query_pre_attn_scalar"] = llama_cpp_query_scalar(parse_hf_config(j.dump(), f.path()));
    }
    ModelConfig c = parse_hf_config(j.dump(), f.path());

    if (c.family == Family::Llama || c.family == Family::Granite) {
        // llama.cpp loads each of these biases when present; Hugging Face's attention_bias
        // would tie q/k/v to o, which a GGUF need not.
        // Any one of a group present means the group: the others are then reported missing.
        auto any = [&](std::initializer_list<const char*> names) {
            return std::any_of(names.begin(), names.end(), [&](const char* n) {
                return f.find_tensor(std::string("blk.0.") + n + ".bias") != nullptr;
            });
        };
        c.qkv_bias = any({"attn_q", "attn_k", "attn_v"});
        c.o_bias = any({"attn_output"});
        c.mlp_bias = any({"ffn_gate", "ffn_up", "ffn_down"});
    }
    check_keys(f, arch + ".", kSharedKeys, c);
    check_keys(f, arch + ".", family_keys(c.family), c);
    try {
        // What model_skeleton checks, here so that the message names the file.
        block_check(block_config(c));
    } catch (const ConfigError& e) {
        throw ConfigError(f.path() + ": " + e.what());
    }
    c.torch_dtype.clear();
    c.bos_token_id = -1;
    if (f.find("tokenizer.ggml.bos_token_id"))
        c.bos_token_id =
            static_cast<int32_t>(f.at("tokenizer.ggml.bos_token_id", VT::UINT32).as_u32());
    c.eos_token_ids.clear();
    for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"})
        if (f.find(k)) {
            const auto id = static_cast<int32_t>(f.at(k, VT::UINT32).as_u32());
            if (std::find(c.eos_token_ids.begin(), c.eos_token_ids.end(), id) ==
                c.eos_token_ids.end())
                c.eos_token_ids.push_back(id);
        }
    return c;
}

} // namespace slimtune::io
