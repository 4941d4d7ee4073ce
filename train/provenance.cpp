#include "train/provenance.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/curate/manifest.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One segment of a Hub id: word characters at both ends, '-' and '.' only inside.
bool hub_id_segment(std::string_view s) {
    const auto word = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    };
    if (s.empty() || !word(s.front()) || !word(s.back()))
        return false;
    for (const char c : s)
        if (!word(c) && c != '-' && c != '.')
            return false;
    return true;
}

std::string string_at(const json& j, const char* key) {
    return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                                                  : std::string();
}

} // namespace

json read_provenance(const std::string& dir) {
    const fs::path p = fs::path(dir) / kProvenanceFile;
    std::error_code ec;
    if (dir.empty() || !fs::is_regular_file(p, ec))
        return nullptr;
    const std::string text = read_file(p, "provenance", kMaxSettingsFileBytes);
    check_json_depth(text, p.string());
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw FormatError(p.string() + ": not a JSON object");
    return j;
}

json choose_training_chat_template(const data::TrainingDataConfig& data,
                                   const data::Tokenizer* tok,
                                   std::ostream& progress) {
    if (!tok) {
        progress << "chat template: none (no tokenizer: pre-tokenized data)\n";
        return chat_template_record("", "");
    }
    const data::ChatTemplateChoice c = data::choose_chat_template(data.chat_template, *tok);
    const std::string used = c.used ? c.used->name : "";
    if (!c.used && !c.named && c.tokenizer_default.empty() && c.marker_problem.empty()) {
        // A base model without a template: text records need none, so one line says so.
        progress << "chat template: none (the tokenizer has none; only chat records would need "
                    "data.chat_template)\n";
        return chat_template_record(used, c.tokenizer_default);
    }
    progress << "chat template: " << (c.used ? used : "none")
             << (c.named ? " (data.chat_template)"
                         : " (data.chat_template = auto: the tokenizer's own)")
             << "\n";
    progress << "tokenizer's own chat template: "
             << (c.tokenizer_default.empty() ? "none (" + c.no_default_reason + ")"
                                             : c.tokenizer_default + " (" + tok->source() + ")")
             << "\n";
    if (!c.marker_problem.empty()) {
        if (c.named && !data.allow_template_markers_as_text) // the recipe's to change: exit 2
            throw UsageError(
                c.marker_problem +
                (c.tokenizer_default.empty()
                     ? "; the tokenizer has no template of its own: set "
                       "data.allow_template_markers_as_text = true to train the markers as text"
                     : "; use data.chat_template = auto (the tokenizer's own: " +
                           c.tokenizer_default +
                           "), or set data.allow_template_markers_as_text = true to train the "
                           "markers as text"));
        progress << "warning: " << c.marker_problem
                 << "; training with it, so whatever serves the model must render the markers "
                    "as the same text\n";
    }
    return chat_template_record(used, c.tokenizer_default);
}

void write_trained_chat_template(const std::string& model_dir,
                                 const data::Tokenizer* tok,
                                 const json& provenance) {
    const std::string used = trained_chat_template(provenance);
    if (!tok || used.empty())
        return;
    const std::string jinja = data::exported_chat_template_jinja(
        data::chat_template_for(used, tok->config(), tok->source()), tok->config(), tok->source());
    if (!jinja.empty())
        data::write_tokenizer_chat_template(model_dir, jinja);
}

std::string trained_chat_template(const json& provenance) {
    if (!provenance.is_object())
        return {};
    return string_at(provenance.value("chat_template", json::object()), "name");
}

json chat_template_record(const std::string& used, const std::string& tokenizer_default) {
    return {{"name", used}, {"tokenizer_default", tokenizer_default}};
}

bool is_hub_model_id(std::string_view s) {
    if (s.empty() || s.size() > 96 || s.find("--") != std::string_view::npos ||
        s.find("..") != std::string_view::npos || s.ends_with(".git"))
        return false;
    const std::size_t slash = s.find('/');
    if (slash == std::string_view::npos)
        return hub_id_segment(s);
    return hub_id_segment(s.substr(0, slash)) && hub_id_segment(s.substr(slash + 1));
}

std::string hub_model_id(const std::string& dir) {
    std::error_code ec;
    if (!fs::exists(fs::path(dir) / "config.json", ec))
        return {};
    const fs::path config_path = fs::path(dir) / "config.json";
    const std::string text = read_file(config_path, "config", kMaxSettingsFileBytes);
    check_json_depth(text, config_path.string());
    const json cfg = json::parse(text, nullptr, false);
    const std::string recorded = string_at(cfg, "_name_or_path");
    return is_hub_model_id(recorded) && recorded.find('/') != std::string::npos ? recorded
                                                                                : std::string();
}

BaseModel
describe_base_model(const std::string& dir, const std::string& name, const std::string& name_key) {
    BaseModel b{.path = dir, .hub_id = name, .weights_sha256 = {}};
    if (!name.empty() && !is_hub_model_id(name))
        throw ConfigError(name_key + ": " + name_text(name) +
                          " is not a Hugging Face Hub model id (expected org/name)");
    if (name.empty())
        b.hub_id = hub_model_id(dir);
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".safetensors")
            b.weights_sha256[e.path().filename().string()] =
                data::curate::sha256_file(e.path().string());
    return b;
}

std::string base_model_path(const json& provenance) {
    return string_at(provenance, "base_model");
}

std::string base_model_id(const json& provenance) {
    return string_at(provenance, "base_model_id");
}

std::string peft_base_model(const std::string& hub_id, const std::string& dir) {
    if (!hub_id.empty())
        return hub_id;
    std::error_code ec;
    const fs::path abs = fs::absolute(dir, ec);
    return ec ? dir : abs.lexically_normal().string();
}

json curation_record(const json& manifest) {
    json out = {{"profile", nullptr}, {"settings", nullptr}, {"settings_from", "not recorded"}};
    if (!manifest.is_object())
        return out;
    if (manifest.contains("profile") && manifest["profile"].is_string())
        out["profile"] = manifest["profile"];
    if (manifest.contains("settings") && manifest["settings"].is_object()) {
        out["settings"] = manifest["settings"];
        out["settings_from"] = "manifest";
        return out;
    }
    // Older manifests list each stage's settings under its full recipe key (curate.*).
    json settings = json::object();
    for (const json& st : manifest.value("stages", json::array()))
        if (st.is_object() && st.contains("settings") && st["settings"].is_object())
            for (const auto& [key, value] : st["settings"].items())
                settings[key.starts_with("curate.") ? key.substr(7) : key] = value;
    if (!settings.empty()) {
        out["settings"] = settings;
        out["settings_from"] = "manifest stages";
    }
    return out;
}

std::string without_ini_section(const std::string& ini, const std::string& section) {
    std::istringstream in(ini);
    std::string out, line;
    bool skipping = false;
    while (std::getline(in, line)) {
        const std::size_t open = line.find_first_not_of(" \t");
        if (open != std::string::npos && line[open] == '[') {
            const std::size_t close = line.find(']', open);
            skipping =
                close != std::string::npos && line.substr(open + 1, close - open - 1) == section;
        }
        if (!skipping)
            out += line + "\n";
    }
    while (out.ends_with("\n\n"))
        out.pop_back();
    return out;
}

} // namespace slimtune::train
