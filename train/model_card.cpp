#include "train/model_card.h"

#include "common/atomic_file.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "train/provenance.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A JSON value as card text ("—" when absent or null).
std::string text_of(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || j[key].is_null())
        return "—";
    const json& v = j[key];
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_number_float())
        return fixed_digits(v.get<double>(), 4);
    return v.dump();
}

// "`file` `sha256`" for each weights file of the base model; "—" when none was recorded.
std::string weights_hashes(const json& p) {
    const json h = p.value("base_model_sha256", json::object());
    if (!h.is_object() || h.empty())
        return "—";
    std::string out;
    for (const auto& [file, sha] : h.items())
        out += (out.empty() ? "" : ", ") +
               ("`" + file + "` `" + (sha.is_string() ? sha.get<std::string>() : "?") + "`");
    return out;
}

void training_section(std::ostringstream& md, const ModelCard& c) {
    const json& p = c.provenance;
    const json train = p.is_object() ? p.value("train", json::object()) : json::object();
    md << "## Training\n\n";
    if (!p.is_object()) {
        md << "No slimtune training record was found: this is the base model, exported as is.\n\n";
        return;
    }
    md << "| | |\n|---|---|\n";
    md << "| base model | `" << c.base_model << "` |\n";
    md << "| base model weights SHA-256 | " << weights_hashes(p) << " |\n";
    md << "| method | " << text_of(train, "mode") << " |\n";
    if (c.adapter_config.is_object()) {
        const json& a = c.adapter_config;
        md << "| LoRA | r = " << text_of(a, "r") << ", alpha = " << text_of(a, "lora_alpha")
           << (a.value("use_rslora", false) ? " (rsLoRA)" : "")
           << ", targets = " << text_of(a, "target_modules")
           << (c.format == "peft" ? "" : ", merged") << " |\n";
    }
    md << "| chat template | " << (c.chat_template.empty() ? "none" : c.chat_template)
       << (c.chat_template_source.empty() ? "" : " (" + c.chat_template_source + ")") << " |\n";
    md << "| steps | " << text_of(train, "steps") << " |\n";
    md << "| final training loss | " << text_of(train, "last_loss") << " |\n";
    md << "| validation loss | " << text_of(train, "eval_loss") << " |\n\n";
    // Older records hold the whole recipe: its [curate] section was never applied by training
    // (the data was curated beforehand; the Data section quotes the manifest's settings).
    const std::string recipe = without_ini_section(p.value("recipe", std::string()), "curate");
    if (!recipe.empty())
        md << "<details><summary>Recipe (training sections; the data's curation settings are "
              "under Data)</summary>\n\n```ini\n"
           << recipe << (recipe.ends_with('\n') ? "" : "\n") << "```\n</details>\n\n";
}

// The settings the manifest says the data was curated with, one "key = value" line each.
void curation_settings(std::ostringstream& md, const json& d) {
    const json cur = d.value("curation", json::object());
    const json settings = cur.is_object() ? cur.value("settings", json()) : json();
    md << "| curation profile | " << text_of(cur, "profile") << " |\n\n";
    if (!settings.is_object()) {
        md << "Curation settings: not recorded (the manifest predates the record).\n\n";
        return;
    }
    md << "<details><summary>Curation settings (from " << cur.value("settings_from", "manifest")
       << ")</summary>\n\n```ini\n[curate]\n";
    for (const auto& [key, value] : settings.items())
        md << key << " =" << (value.is_string() && value.get<std::string>().empty() ? "" : " ")
           << (value.is_string() ? value.get<std::string>() : value.dump()) << "\n";
    md << "```\n</details>\n\n";
}

void data_section(std::ostringstream& md, const ModelCard& c) {
    const json& p = c.provenance;
    if (!p.is_object() || !p.contains("dataset") || !p["dataset"].is_object())
        return;
    const json& d = p["dataset"];
    md << "## Data\n\n";
    md << "Trained only on data that `slimtune curate` vouched for; the manifest lists the "
          "SHA-256 of every input and output and the settings of every stage.\n\n";
    md << "| | |\n|---|---|\n";
    md << "| curated file | `" << text_of(d, "train_file") << "` |\n";
    md << "| manifest SHA-256 | `" << text_of(d, "manifest_sha256") << "` |\n";
    md << "| curated.jsonl SHA-256 | `" << text_of(d, "curated_sha256") << "` |\n";
    md << "| documents in → out | " << text_of(d, "documents_in") << " → "
       << text_of(d, "documents_out") << " |\n";
    curation_settings(md, d);
    md << "| stage | enabled | dropped | modified | added |\n|---|---|---:|---:|---:|\n";
    for (const json& st : d.value("stages", json::array()))
        md << "| " << text_of(st, "name") << " | " << (st.value("enabled", false) ? "yes" : "no")
           << " | " << text_of(st, "dropped") << " | " << text_of(st, "modified") << " | "
           << text_of(st, "added") << " |\n";
    md << "\n";
}

void files_section(std::ostringstream& md, const ModelCard& c) {
    if (c.files.empty())
        return;
    md << "## Files\n\n";
    const bool ppl = c.f32_perplexity.has_value();
    if (ppl)
        md << "Perplexity on `" << c.eval_data << "` (" << c.eval_tokens
           << " scored tokens), each file read back by slimtune; the float32 model in memory "
              "scores "
           << fixed_digits(*c.f32_perplexity, 4) << ".\n\n";
    md << "| file | type | size |" << (ppl ? " perplexity | Δ vs F32 |" : "") << "\n";
    md << "|---|---|---:|" << (ppl ? "---:|---:|" : "") << "\n";
    for (const ModelCardFile& f : c.files) {
        md << "| `" << f.file << "` | " << f.type << " | " << mebibytes(f.bytes) << " |";
        if (ppl) {
            if (f.perplexity) {
                const double delta = (*f.perplexity / *c.f32_perplexity - 1.0) * 100.0;
                md << " " << fixed_digits(*f.perplexity, 4) << " | " << (delta >= 0 ? "+" : "")
                   << fixed_digits(delta, 2) << " % |";
            } else {
                md << " — | — |";
            }
        }
        md << "\n";
    }
    md << "\n";
}

void usage_section(std::ostringstream& md, const ModelCard& c) {
    if (c.format == "peft") {
        md << "## Use\n\n```python\nfrom peft import AutoPeftModelForCausalLM\n"
              "model = AutoPeftModelForCausalLM.from_pretrained(\"path/to/this/directory\")\n"
              "```\n\n```sh\nslimtune export --model BASE_DIR --adapter . --format gguf "
              "--type q4_k_m --out export/\n```\n";
        return;
    }
    if (c.files.empty())
        return;
    md << "## Use\n\n```sh\n";
    if (c.format == "hf")
        md << "slimtune generate --model . --prompt \"...\"\n";
    else
        md << "llama-cli -m " << c.files.front().file << " -p \"...\"\n";
    if (c.format == "ollama")
        md << "ollama create " << c.name << " -f Modelfile && ollama run " << c.name << "\n";
    md << "```\n";
}

// The Hub's model card metadata (YAML): only values the Hub validates as they are.
void front_matter(std::ostringstream& md, const ModelCard& c) {
    const bool peft = c.format == "peft";
    std::vector<std::string> tags;
    if (peft && !c.base_model_id.empty())
        tags.push_back("base_model:adapter:" + c.base_model_id);
    if (peft || c.adapter_config.is_object())
        tags.push_back("lora");
    if (c.format == "gguf" || c.format == "ollama")
        tags.push_back("gguf");
    tags.push_back("slimtune");
    md << "---\n";
    if (!c.base_model_id.empty())
        md << "base_model: " << c.base_model_id << "\n";
    md << "library_name: " << (peft ? "peft" : c.format == "hf" ? "transformers" : "gguf") << "\n";
    md << "pipeline_tag: text-generation\n";
    md << "tags:\n";
    for (const std::string& t : tags)
        md << "- " << t << "\n";
    md << "---\n\n";
}

} // namespace

std::string model_card_markdown(const ModelCard& c) {
    std::ostringstream md;
    front_matter(md, c);
    md << "# " << c.name << "\n\n";
    if (c.format == "peft")
        md << "A LoRA adapter (PEFT) for `" << c.base_model << "`, trained by slimtune.\n\n";
    else
        md << "Exported by slimtune from `" << c.base_model << "`"
           << (c.provenance.is_object() ? " after fine-tuning" : "") << ".\n\n";
    training_section(md, c);
    data_section(md, c);
    files_section(md, c);
    usage_section(md, c);
    return md.str();
}

void write_adapter_card(const std::string& adapter_dir,
                        const std::string& name,
                        const json& provenance) {
    ModelCard card;
    card.name = name;
    card.base_model_id = base_model_id(provenance);
    card.base_model = card.base_model_id.empty()
                          ? fs::path(base_model_path(provenance)).filename().string()
                          : card.base_model_id;
    card.format = "peft";
    card.provenance = provenance;
    const fs::path config_path = fs::path(adapter_dir) / "adapter_config.json";
    const std::string config_text = read_file(config_path, "adapter config", kMaxSettingsFileBytes);
    check_json_depth(config_text, config_path.string());
    card.adapter_config = json::parse(config_text);
    card.chat_template = trained_chat_template(provenance);
    card.chat_template_source = "trained with";
    write_file_atomic((fs::path(adapter_dir) / "README.md").string(),
                      [&](std::ostream& os) { os << model_card_markdown(card); });
}

} // namespace slimtune::train
