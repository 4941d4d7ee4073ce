#include "model/io/gguf_model.h"

#include "common/error.h"
#include "common/text.h"
#include "model/io/ggml_quants.h"
#include "model/io/gguf_tensors.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace slimtune::io {

namespace {

using nlohmann::json;
using VT = GgufValueType;

const char* kLlama3Prefix = "slimtune.rope_scaling.llama3.";

// The rope_scaling object of config.json for the file's scaling keys (null: none). Llama-3
// scaling travels under slimtune.* because llama.cpp reads it from the rope_freqs tensor only.
json rope_scaling_json(const GgufFile& f, const std::string& arch) {
    const std::string p = kLlama3Prefix;
    if (f.find(p + "factor"))
        return {{"rope_type", "llama3"},
                {"factor", f.at(p + "factor", VT::FLOAT32).as_f32()},
                {"low_freq_factor", f.at(p + "low_freq_factor", VT::FLOAT32).as_f32()},
                {"high_freq_factor", f.at(p + "high_freq_factor", VT::FLOAT32).as_f32()},
                {"original_max_position_embeddings",
                 f.at(p + "original_context_length", VT::UINT32).as_u32()}};
    if (f.find_tensor("rope_freqs.weight"))
        throw FormatError(f.path() + ": has a rope_freqs.weight tensor but no " + p +
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

// config.json as Hugging Face would write it for the file's hyperparameters, so that
// parse_hf_config applies its family defaults and validation to a GGUF exactly as to a
// directory.
json hf_config_json(const GgufFile& f, const std::string& arch) {
    auto key = [&](const char* k) { return arch + "." + k; };
    auto has = [&](const char* k) { return f.find(key(k)) != nullptr; };
    auto u32 = [&](const char* k) -> json { return f.at(key(k), VT::UINT32).as_u32(); };
    auto f32 = [&](const char* k) -> json { return f.at(key(k), VT::FLOAT32).as_f32(); };
    json j = {{"model_type", arch}};
    // llama.cpp falls back to the embedding's rows when the key is absent.
    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    if (!has("vocab_size") && embd && embd->ne.size() == 2)
        j["vocab_size"] = embd->ne[1];
    else
        j["vocab_size"] = u32("vocab_size");
    j["tie_word_embeddings"] = f.find_tensor("output.weight") == nullptr;
    if (arch == "gpt2") {
        j["n_embd"] = u32("embedding_length");
        j["n_layer"] = u32("block_count");
        j["n_head"] = u32("attention.head_count");
        j["n_positions"] = u32("context_length");
        j["n_inner"] = u32("feed_forward_length");
        j["layer_norm_epsilon"] = f32("attention.layer_norm_epsilon");
        return j;
    }
    j["hidden_size"] = u32("embedding_length");
    j["num_hidden_layers"] = u32("block_count");
    j["num_attention_heads"] = u32("attention.head_count");
    j["num_key_value_heads"] = has("attention.head_count_kv") ? u32("attention.head_count_kv")
                                                              : u32("attention.head_count");
    j["intermediate_size"] = u32("feed_forward_length");
    j["max_position_embeddings"] = u32("context_length");
    j["rms_norm_eps"] = f32("attention.layer_norm_rms_epsilon");
    // llama.cpp's default base for every architecture (Hugging Face's Qwen2 default differs).
    j["rope_theta"] = has("rope.freq_base") ? f32("rope.freq_base") : json(10000.0);
    if (has("attention.key_length"))
        j["head_dim"] = u32("attention.key_length");
    j["rope_scaling"] = rope_scaling_json(f, arch);
    if (arch == "granite") {
        const std::pair<const char*, const char*> scales[] = {
            {"attention.scale", "attention_multiplier"},
            {"embedding_scale", "embedding_multiplier"},
            {"residual_scale", "residual_multiplier"},
            {"logit_scale", "logits_scaling"}};
        for (const auto& [gguf, hf] : scales)
            if (has(gguf))
                j[hf] = f32(gguf);
    }
    return j;
}

// A key that must agree with the config parse_hf_config derived (head counts, head dims).
void check_u32(const GgufFile& f, const std::string& k, int64_t want, const char* what) {
    if (!f.find(k))
        return;
    const uint32_t v = f.at(k, VT::UINT32).as_u32();
    if (static_cast<int64_t>(v) != want)
        throw ConfigError(f.path() + ": " + k + " is " + std::to_string(v) + " but the " + what +
                          " is " + std::to_string(want) + "; slimtune cannot run that");
}

std::vector<float> dequantized(const GgufFile& f, const GgufTensorInfo& t, GgmlType type) {
    int64_t rows = 1;
    for (size_t i = 1; i < t.ne.size(); ++i)
        rows *= t.ne[i];
    const int64_t row = t.ne.empty() ? 1 : t.ne[0];
    std::vector<float> v(static_cast<size_t>(rows * row));
    dequantize_rows(type, f.tensor_data(t).data(), v.data(), rows, row);
    return v;
}

// The heads whose Q/K rows the export permuted for this tensor (0: not permuted).
int64_t permuted_heads(const ModelConfig& cfg, const GgufTensorSource& s) {
    if (cfg.family != Family::Llama && cfg.family != Family::Granite)
        return 0;
    const bool bias = s.role == TensorRole::Bias;
    if (s.role == TensorRole::AttnQ || (bias && s.name.find(".attn_q.") != std::string::npos))
        return cfg.n_head;
    if (s.role == TensorRole::AttnK || (bias && s.name.find(".attn_k.") != std::string::npos))
        return cfg.n_head_kv;
    return 0;
}

// The PyTorch shape of a tensor info (ggml lists the row length first).
Shape torch_shape(const GgufTensorInfo& t) {
    return {t.ne.rbegin(), t.ne.rend()};
}

} // namespace

bool is_gguf_path(const std::string& path) {
    if (path.size() < 5)
        return false;
    std::string ext = path.substr(path.size() - 5);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == ".gguf";
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
    if (arch != "gpt2" && arch != "llama" && arch != "qwen2" && arch != "granite")
        throw ConfigError(f.path() + ": general.architecture '" + arch +
                          "' is not supported (supported: gpt2, llama, qwen2, granite)");
    ModelConfig c = parse_hf_config(hf_config_json(f, arch).dump(), f.path());
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
    check_u32(f, arch + ".attention.head_count_kv", c.n_head_kv, "kv head count");
    if (c.family != Family::Gpt2) {
        check_u32(f, arch + ".attention.value_length", c.head_dim, "key length");
        check_u32(f, arch + ".rope.dimension_count", c.head_dim, "head dim (partial rotary)");
    }
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

Model load_gguf_model(const GgufFile& f) {
    Model m = model_skeleton(gguf_model_config(f));
    // Placeholders are enough: the sources' values are lazy and never asked for here, except
    // rope_freqs, which is computed from the config.
    const std::vector<GgufTensorSource> sources = gguf_tensor_sources(m);
    std::map<std::string, Tensor*> params;
    for (const NamedParam& p : model_params(m, ""))
        params[p.name] = p.tensor;

    std::set<std::string> expected;
    std::vector<std::string> missing, misshapen, unreadable, unexpected;
    for (const GgufTensorSource& s : sources) {
        expected.insert(s.name);
        const GgufTensorInfo* t = f.find_tensor(s.name);
        if (!t)
            missing.push_back(s.name);
        else if (torch_shape(*t) != s.shape)
            misshapen.push_back(s.name + " " + shape_str(torch_shape(*t)) + " (expected " +
                                shape_str(s.shape) + ")");
        else if (!ggml_type_from_id(t->type)) {
            const GgufTypeLayout* l = gguf_type_layout(t->type);
            unreadable.push_back(s.name + " (" +
                                 (l ? std::string(l->name) : std::to_string(t->type)) + ")");
        }
    }
    for (const GgufTensorInfo& t : f.tensors())
        if (!expected.count(t.name))
            unexpected.push_back(t.name);
    std::string problems;
    if (!missing.empty())
        problems += "; missing: " + short_list(missing);
    if (!misshapen.empty())
        problems += "; wrong shape: " + short_list(misshapen);
    if (!unexpected.empty())
        problems += "; unexpected: " + short_list(unexpected);
    if (!unreadable.empty())
        problems += "; types slimtune cannot dequantize: " + short_list(unreadable);
    if (!problems.empty())
        throw FormatError(f.path() + ": tensors do not match a " + m.cfg.model_type +
                          " model of this config" + problems);

    for (const GgufTensorSource& s : sources) {
        const GgufTensorInfo& t = *f.find_tensor(s.name);
        std::vector<float> v = dequantized(f, t, *ggml_type_from_id(t.type));
        if (s.role == TensorRole::RopeFreqs) {
            // Not a parameter: the model recomputes these factors from the config, so the
            // tensor only has to agree with the keys it was rebuilt from.
            const std::vector<float> want = s.values();
            for (size_t i = 0; i < v.size(); ++i)
                if (!(std::abs(v[i] - want[i]) <= 1e-5f * std::max(1.0f, std::abs(want[i]))))
                    throw FormatError(f.path() + ": rope_freqs.weight[" + std::to_string(i) +
                                      "] is " + std::to_string(v[i]) + " but the " + kLlama3Prefix +
                                      "* keys give " + std::to_string(want[i]));
            continue;
        }
        if (const int64_t heads = permuted_heads(m.cfg, s))
            v = unpermute_qk_rows(v.data(), s.shape[0], s.shape.size() == 2 ? s.shape[1] : 1,
                                  heads);
        Tensor* p = params.at(s.hf_name);
        *p = Tensor::from(p->shape(), std::move(v));
    }
    return m;
}

Model load_gguf_model(const std::string& path) {
    return load_gguf_model(GgufFile::open(path));
}

} // namespace slimtune::io
