#include "model/lora.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

namespace slimtune {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool ends_with_module(const std::string& name, const std::string& target) {
    if (name == target)
        return true;
    return name.size() > target.size() &&
           name.compare(name.size() - target.size(), target.size(), target) == 0 &&
           name[name.size() - target.size() - 1] == '.';
}

void check_config(const LoraConfig& c) {
    if (c.rank < 1)
        throw ConfigError("lora.rank must be >= 1, got " + std::to_string(c.rank));
    if (!(c.alpha > 0.0))
        throw ConfigError("lora.alpha must be > 0, got " + std::to_string(c.alpha));
    if (!(c.dropout >= 0.0 && c.dropout < 1.0))
        throw ConfigError("lora.dropout must be in [0, 1), got " + std::to_string(c.dropout));
    if (c.targets.empty() && c.target_regex.empty())
        throw ConfigError("lora: no target modules (lora.targets or lora.target_regex)");
    for (const auto& [k, r] : c.rank_pattern)
        if (r < 1)
            throw ConfigError("lora.rank_pattern: rank for '" + k + "' must be >= 1");
    for (const auto& [k, a] : c.alpha_pattern)
        if (!(a > 0.0))
            throw ConfigError("lora.alpha_pattern: alpha for '" + k + "' must be > 0");
}

// PEFT's pattern lookup: the first key whose "(.*\.)?key$" matches the module name.
template <class T>
T pattern_value(const std::map<std::string, T>& patterns, const std::string& module, T fallback) {
    for (const auto& [key, value] : patterns) {
        try {
            if (std::regex_match(module, std::regex("(.*\\.)?" + key)))
                return value;
        } catch (const std::regex_error& e) {
            throw ConfigError("lora pattern '" + key + "' is not a valid regex: " + e.what());
        }
    }
    return fallback;
}

float scaling_of(double alpha, int64_t rank, bool rslora) {
    return static_cast<float>(rslora ? alpha / std::sqrt(static_cast<double>(rank))
                                     : alpha / static_cast<double>(rank));
}

} // namespace

std::string lora_key(const std::string& module, bool a) {
    return "base_model.model." + module + (a ? ".lora_A.weight" : ".lora_B.weight");
}

std::vector<NamedLinear> lora_select(Model& m, const LoraConfig& c) {
    check_config(c);
    std::vector<NamedLinear> all = model_linears(m), picked;
    const bool all_linear = c.targets.size() == 1 && c.targets[0] == "all-linear";
    std::regex re;
    if (!c.target_regex.empty()) {
        try {
            re = std::regex(c.target_regex);
        } catch (const std::regex_error& e) {
            throw ConfigError("lora.target_regex '" + c.target_regex +
                              "' is not a valid regex: " + e.what());
        }
    }
    for (const NamedLinear& l : all) {
        bool hit = all_linear;
        if (!c.target_regex.empty())
            hit = std::regex_match(l.module, re);
        else if (!all_linear)
            for (const std::string& t : c.targets)
                hit |= ends_with_module(l.module, t);
        if (hit && !c.layers.empty())
            hit = std::find(c.layers.begin(), c.layers.end(), l.layer) != c.layers.end();
        if (hit)
            picked.push_back(l);
    }
    if (picked.empty()) {
        std::string names;
        for (size_t i = 0; i < all.size() && i < 6; ++i)
            names += (i ? ", " : "") + all[i].module;
        std::string wanted = c.target_regex;
        for (const auto& t : c.targets)
            wanted += (wanted.empty() ? "" : ",") + t;
        throw ConfigError("lora: targets '" + wanted + "' match no linear layer of this " +
                          m.cfg.model_type + " model (its layers are named like " + names + ")");
    }
    return picked;
}

std::vector<LoraModule> lora_attach(Model& m, const LoraConfig& c, Rng& rng) {
    std::vector<LoraModule> out;
    for (const NamedLinear& l : lora_select(m, c)) {
        LinearParams& lin = *l.linear;
        if (lin.lora.a.defined())
            throw ConfigError("lora: " + l.module + " already has an adapter");
        const int64_t rank = pattern_value(c.rank_pattern, l.module, c.rank);
        const double alpha = pattern_value(c.alpha_pattern, l.module, c.alpha);
        const int64_t out_f = lin.weight.dim(0), in_f = lin.weight.dim(1);
        // kaiming_uniform_(a=sqrt(5)) on (r, in): bound = gain * sqrt(3 / fan_in) with
        // gain = sqrt(2 / (1 + 5)), i.e. 1 / sqrt(in).
        const float bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(in_f)));
        std::vector<float> a(static_cast<size_t>(rank * in_f));
        for (float& v : a)
            v = (2.0f * rng.next_uniform() - 1.0f) * bound;
        lin.lora.a = Tensor::from({rank, in_f}, std::move(a), true);
        lin.lora.b = Tensor::zeros({out_f, rank}, true);
        lin.lora.scaling = scaling_of(alpha, rank, c.rslora);
        lin.lora.dropout = static_cast<float>(c.dropout);
        lin.lora.merged = false;
        out.push_back({l.module, &lin, rank, l.conv1d});
    }
    return out;
}

std::vector<LoraModule> lora_modules(Model& m) {
    std::vector<LoraModule> out;
    for (const NamedLinear& l : model_linears(m))
        if (l.linear->lora.a.defined())
            out.push_back({l.module, l.linear, l.linear->lora.a.dim(0), l.conv1d});
    return out;
}

namespace {

// W (out, in) += sign * scaling * B (out, r) A (r, in), in double per element for accuracy.
void fold(LinearParams& lin, float sign, const std::string& module) {
    if (lin.weight.storage() != Storage::F32)
        throw ConfigError("lora: cannot merge into " + module +
                          ": its base weight is kept in 16 bits (load with float32 weights)");
    const Tensor& A = lin.lora.a;
    const Tensor& B = lin.lora.b;
    const int64_t out_f = B.dim(0), r = B.dim(1), in_f = A.dim(1);
    float* W = lin.weight.data();
    const float* a = A.data();
    const float* b = B.data();
    const double s = static_cast<double>(sign) * static_cast<double>(lin.lora.scaling);
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < out_f; ++o)
        for (int64_t i = 0; i < in_f; ++i) {
            double acc = 0.0;
            for (int64_t k = 0; k < r; ++k)
                acc += static_cast<double>(b[o * r + k]) * static_cast<double>(a[k * in_f + i]);
            W[o * in_f + i] = static_cast<float>(static_cast<double>(W[o * in_f + i]) + s * acc);
        }
}

} // namespace

void lora_merge(Model& m) {
    for (LoraModule& l : lora_modules(m))
        if (!l.linear->lora.merged) {
            fold(*l.linear, 1.0f, l.module);
            l.linear->lora.merged = true;
        }
}

void lora_unmerge(Model& m) {
    for (LoraModule& l : lora_modules(m))
        if (l.linear->lora.merged) {
            fold(*l.linear, -1.0f, l.module);
            l.linear->lora.merged = false;
        }
}

void save_peft_adapter(Model& m,
                       const LoraConfig& c,
                       const std::string& dir,
                       const std::string& base_model_name,
                       const std::map<std::string, std::string>& metadata) {
    const std::vector<LoraModule> mods = lora_modules(m);
    if (mods.empty())
        throw ConfigError("save_peft_adapter: the model has no LoRA adapters");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(dir + ": cannot create directory: " + ec.message());
    std::vector<io::SafetensorsTensor> tensors;
    bool conv1d = false;
    for (const LoraModule& l : mods) {
        conv1d |= l.conv1d;
        for (const bool is_a : {true, false}) {
            const Tensor& t = is_a ? l.linear->lora.a : l.linear->lora.b;
            tensors.push_back({lora_key(l.module, is_a),
                               io::DType::F32,
                               t.shape(),
                               {reinterpret_cast<const uint8_t*>(t.data()),
                                static_cast<size_t>(t.numel()) * sizeof(float)}});
        }
    }
    io::write_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), tensors,
                          metadata);
    json targets = c.target_regex.empty() ? json(c.targets) : json(c.target_regex);
    json cfg = {{"peft_type", "LORA"},
                {"task_type", "CAUSAL_LM"},
                {"base_model_name_or_path", base_model_name},
                {"r", c.rank},
                {"lora_alpha", c.alpha},
                {"lora_dropout", c.dropout},
                {"use_rslora", c.rslora},
                {"target_modules", targets},
                {"layers_to_transform", c.layers.empty() ? json(nullptr) : json(c.layers)},
                {"layers_pattern", nullptr},
                {"rank_pattern", c.rank_pattern},
                {"alpha_pattern", c.alpha_pattern},
                {"fan_in_fan_out", conv1d},
                {"bias", "none"},
                {"modules_to_save", nullptr},
                {"init_lora_weights", true},
                {"use_dora", false},
                {"inference_mode", true},
                {"revision", nullptr}};
    write_file_atomic((fs::path(dir) / "adapter_config.json").string(),
                      [&](std::ostream& os) { os << cfg.dump(2) << "\n"; });
}

LoraConfig load_peft_adapter(Model& m, const std::string& dir) {
    const std::string cfg_path = (fs::path(dir) / "adapter_config.json").string();
    std::string text;
    try {
        text = read_file(cfg_path, "adapter config", kMaxSettingsFileBytes);
    } catch (const FormatError&) {
        throw;
    } catch (const Error& e) {
        throw Error(e.what() + std::string(" (is ") + dir + " a PEFT adapter directory?)");
    }
    check_json_depth(text, cfg_path);
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(cfg_path + ": malformed JSON: " + e.what());
    }
    auto fail = [&](const std::string& what) { throw FormatError(cfg_path + ": " + what); };
    if (!j.is_object())
        fail("expected a JSON object");
    if (j.value("peft_type", "") != "LORA")
        throw ConfigError(cfg_path + ": peft_type is '" + j.value("peft_type", std::string("?")) +
                          "'; slimtune reads LORA adapters");
    if (j.value("use_dora", false))
        throw ConfigError(cfg_path + ": DoRA adapters (use_dora) are not supported");
    if (j.value("bias", std::string("none")) != "none")
        throw ConfigError(cfg_path + ": bias '" + j.value("bias", std::string()) +
                          "' is not supported (only \"none\")");
    LoraConfig c;
    try {
        c.rank = j.at("r").get<int64_t>();
        c.alpha = j.at("lora_alpha").get<double>();
        c.dropout = j.value("lora_dropout", 0.0);
        c.rslora = j.value("use_rslora", false);
        const json& t = j.at("target_modules");
        if (t.is_string())
            c.target_regex = t.get<std::string>();
        else
            c.targets = t.get<std::vector<std::string>>();
        if (j.contains("layers_to_transform") && !j["layers_to_transform"].is_null()) {
            const json& l = j["layers_to_transform"];
            c.layers = l.is_array() ? l.get<std::vector<int64_t>>()
                                    : std::vector<int64_t>{l.get<int64_t>()};
        }
        if (j.contains("rank_pattern") && j["rank_pattern"].is_object())
            c.rank_pattern = j["rank_pattern"].get<std::map<std::string, int64_t>>();
        if (j.contains("alpha_pattern") && j["alpha_pattern"].is_object())
            c.alpha_pattern = j["alpha_pattern"].get<std::map<std::string, double>>();
    } catch (const json::exception& e) {
        fail(std::string("bad or missing field: ") + e.what());
    }
    Rng unused(0);
    std::vector<LoraModule> mods;
    try {
        mods = lora_attach(m, c, unused);
    } catch (const ConfigError& e) { // e.g. target names this model does not have
        throw ConfigError(cfg_path + ": " + e.what());
    }
    const std::string st_path = (fs::path(dir) / "adapter_model.safetensors").string();
    std::error_code ec;
    if (!fs::exists(st_path, ec) && fs::exists(fs::path(dir) / "adapter_model.bin", ec))
        throw FormatError(st_path + ": missing; adapter_model.bin (a pickle) is not read: save "
                                    "the adapter with safe_serialization=True");
    const io::SafetensorsFile file = io::SafetensorsFile::open(st_path);
    size_t used = 0;
    for (LoraModule& l : mods) {
        for (const bool is_a : {true, false}) {
            Tensor& t = is_a ? l.linear->lora.a : l.linear->lora.b;
            // PEFT files written by PEFT carry no ".default" adapter name in the key.
            const std::string key = lora_key(l.module, is_a);
            const io::SafetensorsEntry* e = file.find(key);
            if (!e)
                throw FormatError(st_path + ": missing " + key);
            if (e->shape != t.shape())
                throw FormatError(st_path + ": " + key + " has shape " + shape_str(e->shape) +
                                  ", expected " + shape_str(t.shape()) + " for " +
                                  m.cfg.model_type + " (an adapter for another base model?)");
            std::vector<float> v = file.read_f32(key);
            io::require_finite_weights(v, st_path, key);
            std::memcpy(t.data(), v.data(), v.size() * sizeof(float));
            ++used;
        }
    }
    if (used != file.entries().size())
        throw FormatError(st_path + ": holds " + std::to_string(file.entries().size()) +
                          " tensors but the config selects " + std::to_string(used) +
                          " (adapter for another model?)");
    return c;
}

} // namespace slimtune
