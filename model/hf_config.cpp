#include "model/hf_config.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

namespace slimtune {

using nlohmann::json;

namespace {

// Typed access to config keys with messages naming the file and the key.
struct Keys {
    const json& j;
    const std::string& where;

    bool has(const char* k) const { return j.contains(k) && !j.at(k).is_null(); }
    [[noreturn]] void bad(const char* k, const char* expected) const {
        throw ConfigError(where + ": key '" + k + "' must be " + expected + ", got " +
                          j.at(k).dump());
    }
    int64_t integer(const char* k) const {
        if (!has(k))
            throw ConfigError(where + ": missing required key '" + std::string(k) + "'");
        if (!j.at(k).is_number_integer())
            bad(k, "an integer");
        return j.at(k).get<int64_t>();
    }
    int64_t integer(const char* k, int64_t dflt) const { return has(k) ? integer(k) : dflt; }
    double number(const char* k, double dflt) const {
        if (!has(k))
            return dflt;
        if (!j.at(k).is_number())
            bad(k, "a number");
        return j.at(k).get<double>();
    }
    bool boolean(const char* k, bool dflt) const {
        if (!has(k))
            return dflt;
        if (!j.at(k).is_boolean())
            bad(k, "true or false");
        return j.at(k).get<bool>();
    }
    std::string string(const char* k, const std::string& dflt) const {
        if (!has(k))
            return dflt;
        if (!j.at(k).is_string())
            bad(k, "a string");
        return j.at(k).get<std::string>();
    }
    // An id or a list of ids (eos_token_id may be either).
    std::vector<int32_t> ids(const char* k) const {
        std::vector<int32_t> r;
        if (!has(k))
            return r;
        const json& v = j.at(k);
        if (v.is_number_integer())
            r.push_back(v.get<int32_t>());
        else if (v.is_array()) {
            for (const json& e : v) {
                if (!e.is_number_integer())
                    bad(k, "an integer or a list of integers");
                r.push_back(e.get<int32_t>());
            }
        } else
            bad(k, "an integer or a list of integers");
        return r;
    }
};

void require_positive(const std::string& where, const char* name, int64_t v) {
    if (v <= 0)
        throw ConfigError(where + ": '" + name + "' must be positive, got " + std::to_string(v));
}

void require_at_most(const std::string& where, const char* name, int64_t v, int64_t most) {
    if (v > most)
        throw ConfigError(where + ": '" + name + "' is " + std::to_string(v) +
                          "; expected at most " + std::to_string(most) +
                          " (slimtune's limit, far above any released model)");
}

RopeScaling parse_rope_scaling(const json& j, const std::string& where) {
    RopeScaling r;
    if (!j.contains("rope_scaling") || j.at("rope_scaling").is_null())
        return r;
    const json& rs = j.at("rope_scaling");
    if (!rs.is_object())
        throw ConfigError(where + ": 'rope_scaling' must be an object or null");
    const std::string where_rs = where + " rope_scaling";
    const Keys k{rs, where_rs};
    // transformers accepts both spellings; "rope_type" is the current one.
    const std::string type = k.has("rope_type") ? k.string("rope_type", "") : k.string("type", "");
    if (type == "default")
        return r;
    r.factor = k.number("factor", 1.0);
    if (!(r.factor > 0))
        throw ConfigError(where + ": rope_scaling 'factor' must be positive");
    if (type == "linear") {
        r.kind = RopeScaling::Kind::Linear;
    } else if (type == "llama3") {
        r.kind = RopeScaling::Kind::Llama3;
        r.low_freq_factor = k.number("low_freq_factor", 1.0);
        r.high_freq_factor = k.number("high_freq_factor", 4.0);
        r.original_max_positions = k.integer("original_max_position_embeddings");
        if (!(r.high_freq_factor > r.low_freq_factor) || r.original_max_positions <= 0)
            throw ConfigError(where + ": rope_scaling llama3 needs high_freq_factor > "
                                      "low_freq_factor and original_max_position_embeddings > 0");
    } else {
        throw ConfigError(where + ": rope_scaling type '" + type +
                          "' is not supported (supported: linear, llama3)");
    }
    return r;
}

// Gemma, Gemma 2 and Gemma 3 (text): transformers' GemmaConfig, Gemma2Config and
// Gemma3TextConfig keys with their defaults.
void parse_gemma(const Keys& k, ModelConfig& c) {
    const std::string& where = k.where;
    c.family = c.model_type == "gemma"    ? Family::Gemma
               : c.model_type == "gemma2" ? Family::Gemma2
                                          : Family::Gemma3;
    const bool gemma3 = c.family == Family::Gemma3;
    c.vocab_size = k.integer("vocab_size");
    c.hidden = k.integer("hidden_size");
    c.n_layer = k.integer("num_hidden_layers");
    c.n_head = k.integer("num_attention_heads");
    c.n_head_kv = k.integer("num_key_value_heads", c.n_head);
    c.intermediate = k.integer("intermediate_size");
    c.head_dim = k.integer("head_dim", 256); // independent of hidden_size
    c.max_positions = k.integer("max_position_embeddings", 0);
    c.norm_eps = static_cast<float>(k.number("rms_norm_eps", 1e-6));
    c.rope_theta = k.number("rope_theta", gemma3 ? 1e6 : 10000.0);
    c.rope_scaling = parse_rope_scaling(k.j, where);
    // Gemma 1 configs say hidden_act "gelu" but transformers runs the tanh approximation
    // unless hidden_activation names another.
    const std::string act = k.string("hidden_activation", "gelu_pytorch_tanh");
    if (act != "gelu_pytorch_tanh")
        throw ConfigError(where + ": hidden_activation '" + act +
                          "' is not supported (gelu_pytorch_tanh is)");
    c.qkv_bias = c.o_bias = k.boolean("attention_bias", false);
    c.tie_word_embeddings = k.boolean("tie_word_embeddings", true);
    c.embedding_multiplier = static_cast<float>(std::sqrt(static_cast<double>(c.hidden)));
    if (k.boolean("use_bidirectional_attention", false))
        throw ConfigError(where + ": use_bidirectional_attention true is not supported (a "
                                  "causal language model is)");
    if (c.family == Family::Gemma)
        return;
    const double scalar = k.number("query_pre_attn_scalar", 256.0);
    if (!(scalar > 0))
        throw ConfigError(where + ": 'query_pre_attn_scalar' must be positive");
    c.attention_multiplier = static_cast<float>(1.0 / std::sqrt(scalar));
    // Gemma2Config caps by default; Gemma3TextConfig does not.
    c.attn_softcap = static_cast<float>(k.number("attn_logit_softcapping", gemma3 ? 0.0 : 50.0));
    c.final_softcap = static_cast<float>(k.number("final_logit_softcapping", gemma3 ? 0.0 : 30.0));
    if (c.attn_softcap < 0 || c.final_softcap < 0)
        throw ConfigError(where + ": soft-capping values must not be negative");
    c.sliding_window = k.integer("sliding_window", 4096);
    require_positive(where, "sliding_window", c.sliding_window);
    c.sliding_layers.assign(static_cast<size_t>(std::max<int64_t>(c.n_layer, 0)), false);
    if (k.has("layer_types")) { // newer files list every layer's kind
        const json& types = k.j.at("layer_types");
        if (!types.is_array() || static_cast<int64_t>(types.size()) != c.n_layer)
            throw ConfigError(where + ": 'layer_types' must list num_hidden_layers kinds");
        for (size_t i = 0; i < types.size(); ++i) {
            const std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
            if (t != "sliding_attention" && t != "full_attention")
                throw ConfigError(where + ": layer_types[" + std::to_string(i) + "] is " +
                                  types[i].dump() +
                                  " (expected \"sliding_attention\" or \"full_attention\")");
            c.sliding_layers[i] = t == "sliding_attention";
        }
    } else {
        // Gemma 2 alternates, starting with a sliding layer; Gemma 3 makes every pattern-th
        // layer global.
        const int64_t pattern =
            gemma3 ? k.integer("sliding_window_pattern", k.integer("_sliding_window_pattern", 6))
                   : 2;
        require_positive(where, "sliding_window_pattern", pattern);
        for (size_t i = 0; i < c.sliding_layers.size(); ++i)
            c.sliding_layers[i] = (static_cast<int64_t>(i) + 1) % pattern != 0;
    }
    if (gemma3)
        c.rope_local_theta = k.number("rope_local_base_freq", 10000.0);
}

} // namespace

namespace {

// One row per family: its short name and transformers' class (config.json's "architectures").
struct FamilyRow {
    Family family;
    const char* name;
    const char* architecture;
};
constexpr FamilyRow kFamilies[] = {
    {Family::Gpt2, "gpt2", "GPT2LMHeadModel"},
    {Family::Llama, "llama", "LlamaForCausalLM"},
    {Family::Qwen2, "qwen2", "Qwen2ForCausalLM"},
    {Family::Granite, "granite", "GraniteForCausalLM"},
    {Family::Gemma, "gemma", "GemmaForCausalLM"},
    {Family::Gemma2, "gemma2", "Gemma2ForCausalLM"},
    {Family::Gemma3, "gemma3", "Gemma3ForCausalLM"},
};

const FamilyRow& family_row(Family f) {
    for (const FamilyRow& r : kFamilies)
        if (r.family == f)
            return r;
    throw Error("unknown model family");
}

} // namespace

const char* family_name(Family f) {
    return family_row(f).name;
}

ModelConfig parse_hf_config(const std::string& text, const std::string& where) {
    check_json_depth(text, where);
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw ConfigError(where + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_object())
        throw ConfigError(where + ": expected a JSON object");
    const Keys k{j, where};
    ModelConfig c;
    c.model_type = k.string("model_type", "");
    c.torch_dtype = k.string("torch_dtype", k.string("dtype", "")); // newer files say "dtype"
    c.bos_token_id = static_cast<int32_t>(k.integer("bos_token_id", -1));
    c.eos_token_ids = k.ids("eos_token_id");

    if (c.model_type == "gpt2") {
        c.family = Family::Gpt2;
        c.vocab_size = k.integer("vocab_size");
        c.hidden = k.integer("n_embd");
        c.n_layer = k.integer("n_layer");
        c.n_head = k.integer("n_head");
        c.n_head_kv = c.n_head;
        c.max_positions = k.has("n_positions") ? k.integer("n_positions") : k.integer("n_ctx");
        c.intermediate = k.integer("n_inner", 4 * c.hidden); // null means 4 * n_embd
        c.norm_eps = static_cast<float>(k.number("layer_norm_epsilon", 1e-5));
        const std::string act = k.string("activation_function", "gelu_new");
        if (act != "gelu_new" && act != "gelu_pytorch_tanh")
            throw ConfigError(where + ": activation_function '" + act +
                              "' is not supported (gelu_new, the tanh approximation, is)");
        if (!k.boolean("scale_attn_weights", true))
            throw ConfigError(where + ": scale_attn_weights false is not supported");
        c.qkv_bias = c.o_bias = c.mlp_bias = true;
        c.tie_word_embeddings = k.boolean("tie_word_embeddings", true);
    } else if (c.model_type == "llama" || c.model_type == "qwen2" || c.model_type == "granite") {
        c.family = c.model_type == "llama"   ? Family::Llama
                   : c.model_type == "qwen2" ? Family::Qwen2
                                             : Family::Granite;
        c.vocab_size = k.integer("vocab_size");
        c.hidden = k.integer("hidden_size");
        c.n_layer = k.integer("num_hidden_layers");
        c.n_head = k.integer("num_attention_heads");
        c.n_head_kv = k.integer("num_key_value_heads", c.n_head);
        c.intermediate = k.integer("intermediate_size");
        c.max_positions = k.integer("max_position_embeddings", 0);
        c.norm_eps = static_cast<float>(k.number("rms_norm_eps", 1e-6));
        c.rope_theta = k.number("rope_theta", c.family == Family::Qwen2 ? 1e6 : 10000.0);
        c.rope_scaling = parse_rope_scaling(j, where);
        const std::string act = k.string("hidden_act", "silu");
        if (act != "silu")
            throw ConfigError(where + ": hidden_act '" + act + "' is not supported (silu is)");
        require_positive(where, "num_attention_heads", c.n_head);
        c.head_dim = k.integer("head_dim", c.hidden / c.n_head);
        if (c.family == Family::Qwen2) { // q/k/v biases are fixed by the architecture
            c.qkv_bias = true;
        } else {
            c.qkv_bias = c.o_bias = k.boolean("attention_bias", false);
            c.mlp_bias = k.boolean("mlp_bias", false);
        }
        if (c.family == Family::Qwen2 && k.boolean("use_sliding_window", false))
            throw ConfigError(where + ": use_sliding_window true is not supported yet");
        c.tie_word_embeddings = k.boolean("tie_word_embeddings", false);
        if (c.family == Family::Granite) {
            c.embedding_multiplier = static_cast<float>(k.number("embedding_multiplier", 1.0));
            c.residual_multiplier = static_cast<float>(k.number("residual_multiplier", 1.0));
            c.attention_multiplier = static_cast<float>(k.number("attention_multiplier", 0.0));
            c.logits_scaling = static_cast<float>(k.number("logits_scaling", 1.0));
            if (!(c.logits_scaling != 0))
                throw ConfigError(where + ": 'logits_scaling' must not be 0");
        }
    } else if (c.model_type == "gemma" || c.model_type == "gemma2" ||
               c.model_type == "gemma3_text") {
        parse_gemma(k, c);
    } else if (c.model_type.empty()) {
        throw ConfigError(where + ": missing 'model_type'");
    } else {
        throw ConfigError(where + ": model_type '" + c.model_type +
                          "' is not supported (supported: gpt2, llama, qwen2, granite, gemma, "
                          "gemma2, gemma3_text)");
    }
    if (c.head_dim == 0)
        c.head_dim = c.hidden / c.n_head;
    for (auto [name, v] : {std::pair<const char*, int64_t>{"vocab size", c.vocab_size},
                           {"hidden size", c.hidden},
                           {"layer count", c.n_layer},
                           {"head count", c.n_head},
                           {"kv head count", c.n_head_kv},
                           {"head dim", c.head_dim},
                           {"intermediate size", c.intermediate}})
        require_positive(where, name, v);
    for (auto [name, v, most] :
         {std::tuple<const char*, int64_t, int64_t>{"vocab size", c.vocab_size, kMaxConfigVocab},
          {"hidden size", c.hidden, kMaxConfigHidden},
          {"layer count", c.n_layer, kMaxConfigLayers},
          {"head count", c.n_head, kMaxConfigHeads},
          {"kv head count", c.n_head_kv, kMaxConfigHeads},
          {"head dim", c.head_dim, kMaxConfigHeadDim},
          {"intermediate size", c.intermediate, kMaxConfigIntermediate},
          {"max positions", c.max_positions, kMaxConfigPositions}})
        require_at_most(where, name, v, most);
    // A zero or negative epsilon divides by zero in every norm; a rope base <= 0 makes every
    // frequency NaN. Both ran to the end with a loss of NaN and exit 0.
    if (!(std::isfinite(c.norm_eps) && c.norm_eps > 0))
        throw ConfigError(where + ": the norm epsilon (" +
                          (c.family == Family::Gpt2 ? "layer_norm_epsilon" : "rms_norm_eps") +
                          ") must be a positive number, got " + std::to_string(c.norm_eps));
    if (!(std::isfinite(c.rope_theta) && c.rope_theta > 0))
        throw ConfigError(where + ": 'rope_theta' must be a positive number, got " +
                          std::to_string(c.rope_theta));
    for (auto [name, v] :
         {std::pair<const char*, float>{"embedding_multiplier", c.embedding_multiplier},
          {"residual_multiplier", c.residual_multiplier},
          {"attention_multiplier", c.attention_multiplier},
          {"logits_scaling", c.logits_scaling}})
        if (!std::isfinite(v))
            throw ConfigError(where + ": '" + name + "' must be a finite number");
    if (c.n_head % c.n_head_kv != 0)
        throw ConfigError(where + ": num_attention_heads " + std::to_string(c.n_head) +
                          " is not a multiple of num_key_value_heads " +
                          std::to_string(c.n_head_kv));
    if (c.family == Family::Gpt2 && c.hidden % c.n_head != 0)
        throw ConfigError(where + ": n_embd must be a multiple of n_head");
    return c;
}

ModelConfig read_hf_config(const std::string& dir) {
    const std::string path = (std::filesystem::path(dir) / "config.json").string();
    if (!std::filesystem::is_directory(dir))
        throw ConfigError(dir + ": not a directory (expected a Hugging Face model directory)");
    ModelConfig c = parse_hf_config(read_file(path, "config", kMaxSettingsFileBytes), path);
    const std::string gen = (std::filesystem::path(dir) / "generation_config.json").string();
    if (std::filesystem::exists(gen)) {
        json g;
        const std::string gen_text = read_file(gen, "generation config", kMaxSettingsFileBytes);
        check_json_depth(gen_text, gen);
        try {
            g = json::parse(gen_text);
        } catch (const json::parse_error& e) {
            throw ConfigError(gen + ": not valid JSON (" + std::string(e.what()) + ")");
        }
        if (!g.is_object())
            throw ConfigError(gen + ": expected a JSON object");
        const Keys k{g, gen};
        if (k.has("eos_token_id"))
            c.eos_token_ids = k.ids("eos_token_id");
        if (k.has("bos_token_id"))
            c.bos_token_id = static_cast<int32_t>(k.integer("bos_token_id"));
    }
    return c;
}

namespace {
// transformers' default frequencies 1 / theta^(2i / head_dim); hyperparameters are validated by
// block_check, after this runs.
std::vector<double> default_frequencies(int64_t head_dim, double theta) {
    std::vector<double> f(static_cast<size_t>(head_dim / 2));
    for (size_t i = 0; i < f.size(); ++i)
        f[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
    return f;
}
} // namespace

std::vector<double> rope_frequencies(const ModelConfig& c) {
    if (c.family == Family::Gpt2)
        return {};
    std::vector<double> f = default_frequencies(c.head_dim, c.rope_theta);
    const RopeScaling& s = c.rope_scaling;
    if (s.kind == RopeScaling::Kind::Linear) {
        for (double& x : f)
            x /= s.factor;
    } else if (s.kind == RopeScaling::Kind::Llama3) {
        // Long wavelengths are slowed by `factor`, short ones kept, and the band between is
        // interpolated smoothly (Llama 3.1's rule).
        const double old_ctx = static_cast<double>(s.original_max_positions);
        const double low_wavelen = old_ctx / s.low_freq_factor;
        const double high_wavelen = old_ctx / s.high_freq_factor;
        for (double& x : f) {
            const double wavelen = 2 * M_PI / x;
            if (wavelen > low_wavelen) {
                x /= s.factor;
            } else if (wavelen >= high_wavelen) {
                const double smooth = (old_ctx / wavelen - s.low_freq_factor) /
                                      (s.high_freq_factor - s.low_freq_factor);
                x = (1 - smooth) * x / s.factor + smooth * x;
            }
        }
    }
    return f;
}

bool is_gemma(const ModelConfig& c) {
    return c.family == Family::Gemma || c.family == Family::Gemma2 || c.family == Family::Gemma3;
}

BlockConfig block_config(const ModelConfig& c, int64_t layer) {
    BlockConfig b;
    b.hidden = c.hidden;
    b.n_head = c.n_head;
    b.n_head_kv = c.n_head_kv;
    b.head_dim = c.head_dim;
    b.intermediate = c.intermediate;
    b.norm_eps = c.norm_eps;
    const bool gpt2 = c.family == Family::Gpt2, gemma = is_gemma(c);
    b.norm = gpt2 ? NormKind::Layer : NormKind::Rms;
    b.mlp = gpt2 ? MlpKind::Gelu : gemma ? MlpKind::GeGlu : MlpKind::SwiGlu;
    b.rope = !gpt2;
    b.rope_theta = c.rope_theta;
    b.rope_inv_freq = rope_frequencies(c);
    b.attn_scale = c.attention_multiplier;
    b.residual_multiplier = c.residual_multiplier;
    b.bias = c.qkv_bias || c.o_bias || c.mlp_bias;
    if (gemma) {
        b.norm_weight_offset = 1.0f;
        b.post_norms = c.family != Family::Gemma;
        b.qk_norm = c.family == Family::Gemma3;
        b.attn_softcap = c.attn_softcap;
    }
    const auto l = static_cast<size_t>(layer);
    if (l < c.sliding_layers.size() && c.sliding_layers[l]) {
        b.window = c.sliding_window;
        if (c.rope_local_theta > 0) { // Gemma 3's local layers: their own base, no scaling
            b.rope_theta = c.rope_local_theta;
            b.rope_inv_freq = default_frequencies(c.head_dim, c.rope_local_theta);
        }
    }
    return b;
}

namespace {

// A float config value as the double with the float's shortest digits (1e-05, not
// 9.999999747378752e-06), as Python writes the value it was given.
double shortest(float v) {
    std::array<char, 32> buf{};
    const auto end = std::to_chars(buf.data(), buf.data() + buf.size(), v).ptr;
    return std::strtod(std::string(buf.data(), end).c_str(), nullptr);
}

} // namespace

std::string hf_config_json(const ModelConfig& c) {
    json j;
    if (c.family == Family::Gpt2) {
        j = {{"architectures", {family_row(c.family).architecture}},
             {"model_type", "gpt2"},
             {"vocab_size", c.vocab_size},
             {"n_embd", c.hidden},
             {"n_layer", c.n_layer},
             {"n_head", c.n_head},
             {"n_positions", c.max_positions},
             {"n_ctx", c.max_positions},
             {"n_inner", c.intermediate},
             {"layer_norm_epsilon", shortest(c.norm_eps)},
             {"activation_function", "gelu_new"},
             {"tie_word_embeddings", c.tie_word_embeddings}};
    } else {
        j = {{"architectures", {family_row(c.family).architecture}},
             {"model_type", c.model_type},
             {"vocab_size", c.vocab_size},
             {"hidden_size", c.hidden},
             {"num_hidden_layers", c.n_layer},
             {"num_attention_heads", c.n_head},
             {"num_key_value_heads", c.n_head_kv},
             {"head_dim", c.head_dim},
             {"intermediate_size", c.intermediate},
             {"max_position_embeddings", c.max_positions},
             {"rms_norm_eps", shortest(c.norm_eps)},
             {"rope_theta", c.rope_theta},
             {"tie_word_embeddings", c.tie_word_embeddings}};
        if (is_gemma(c))
            j["hidden_activation"] = "gelu_pytorch_tanh";
        else
            j["hidden_act"] = "silu";
        if (is_gemma(c))
            j["attention_bias"] = c.qkv_bias;
        else if (c.family != Family::Qwen2) {
            j["attention_bias"] = c.qkv_bias;
            j["mlp_bias"] = c.mlp_bias;
        }
        if (c.rope_scaling.kind == RopeScaling::Kind::Linear)
            j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", c.rope_scaling.factor}};
        if (c.rope_scaling.kind == RopeScaling::Kind::Llama3)
            j["rope_scaling"] = {
                {"rope_type", "llama3"},
                {"factor", c.rope_scaling.factor},
                {"low_freq_factor", c.rope_scaling.low_freq_factor},
                {"high_freq_factor", c.rope_scaling.high_freq_factor},
                {"original_max_position_embeddings", c.rope_scaling.original_max_positions}};
        if (c.family == Family::Gemma2 || c.family == Family::Gemma3) {
            const double scale = static_cast<double>(c.attention_multiplier);
            j["query_pre_attn_scalar"] = 1.0 / (scale * scale);
            j["attn_logit_softcapping"] =
                c.attn_softcap > 0 ? json(shortest(c.attn_softcap)) : json(nullptr);
            j["final_logit_softcapping"] =
                c.final_softcap > 0 ? json(shortest(c.final_softcap)) : json(nullptr);
            j["sliding_window"] = c.sliding_window;
            json types = json::array();
            for (const bool sliding : c.sliding_layers)
                types.push_back(sliding ? "sliding_attention" : "full_attention");
            j["layer_types"] = types;
            if (c.family == Family::Gemma3)
                j["rope_local_base_freq"] = c.rope_local_theta;
        }
        if (c.family == Family::Granite) {
            j["embedding_multiplier"] = shortest(c.embedding_multiplier);
            j["residual_multiplier"] = shortest(c.residual_multiplier);
            j["attention_multiplier"] = shortest(c.attention_multiplier);
            j["logits_scaling"] = shortest(c.logits_scaling);
        }
    }
    if (c.bos_token_id >= 0)
        j["bos_token_id"] = c.bos_token_id;
    if (c.eos_token_ids.size() == 1)
        j["eos_token_id"] = c.eos_token_ids[0];
    else if (!c.eos_token_ids.empty())
        j["eos_token_id"] = c.eos_token_ids;
    j["torch_dtype"] = c.torch_dtype.empty() ? "float32" : c.torch_dtype;
    return j.dump(2) + "\n";
}

} // namespace slimtune
