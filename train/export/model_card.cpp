#include "train/export/model_card.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace slimtune::train {

using nlohmann::json;

namespace {

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string mebibytes(uint64_t bytes) {
    return fixed(static_cast<double>(bytes) / (1024.0 * 1024.0), 2) + " MiB";
}

// A JSON value as card text ("—" when absent or null).
std::string text_of(const json& j, const char* key) {
    if (!j.is_object() || !j.contains(key) || j[key].is_null())
        return "—";
    const json& v = j[key];
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_number_float())
        return fixed(v.get<double>(), 4);
    return v.dump();
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
    md << "| method | " << text_of(train, "mode") << " |\n";
    if (c.adapter_config.is_object()) {
        const json& a = c.adapter_config;
        md << "| LoRA | r = " << text_of(a, "r") << ", alpha = " << text_of(a, "lora_alpha")
           << (a.value("use_rslora", false) ? " (rsLoRA)" : "")
           << ", targets = " << text_of(a, "target_modules")
           << (c.format == "peft" ? "" : ", merged") << " |\n";
    }
    md << "| steps | " << text_of(train, "steps") << " |\n";
    md << "| final training loss | " << text_of(train, "last_loss") << " |\n";
    md << "| validation loss | " << text_of(train, "eval_loss") << " |\n\n";
    if (p.contains("recipe") && p["recipe"].is_string() && !p["recipe"].get<std::string>().empty())
        md << "<details><summary>Recipe</summary>\n\n```ini\n"
           << p["recipe"].get<std::string>() << "\n```\n</details>\n\n";
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
       << text_of(d, "documents_out") << " |\n\n";
    md << "| stage | enabled | dropped | modified | added |\n|---|---|---:|---:|---:|\n";
    for (const json& st : d.value("stages", json::array()))
        md << "| " << text_of(st, "name") << " | " << (st.value("enabled", false) ? "yes" : "no")
           << " | " << text_of(st, "dropped") << " | " << text_of(st, "modified") << " | "
           << text_of(st, "added") << " |\n";
    md << "\n";
}

void files_section(std::ostringstream& md, const ModelCard& c) {
    md << "## Files\n\n";
    const bool ppl = c.f32_perplexity.has_value();
    if (ppl)
        md << "Perplexity on `" << c.eval_data << "` (" << c.eval_tokens
           << " scored tokens), each file read back by slimtune; the float32 model in memory "
              "scores "
           << fixed(*c.f32_perplexity, 4) << ".\n\n";
    md << "| file | type | size |" << (ppl ? " perplexity | Δ vs F32 |" : "") << "\n";
    md << "|---|---|---:|" << (ppl ? "---:|---:|" : "") << "\n";
    for (const ModelCardFile& f : c.files) {
        md << "| `" << f.file << "` | " << f.type << " | " << mebibytes(f.bytes) << " |";
        if (ppl) {
            if (f.perplexity) {
                const double delta = (*f.perplexity / *c.f32_perplexity - 1.0) * 100.0;
                md << " " << fixed(*f.perplexity, 4) << " | " << (delta >= 0 ? "+" : "")
                   << fixed(delta, 2) << " % |";
            } else {
                md << " — | — |";
            }
        }
        md << "\n";
    }
    md << "\n";
}

void usage_section(std::ostringstream& md, const ModelCard& c) {
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

} // namespace

std::string model_card_markdown(const ModelCard& c) {
    std::ostringstream md;
    md << "---\n";
    md << "base_model: " << c.base_model << "\n";
    md << "library_name: slimtune\n";
    md << "tags: [slimtune" << (c.format == "hf" ? "" : ", gguf") << "]\n";
    md << "---\n\n";
    md << "# " << c.name << "\n\n";
    md << "Exported by slimtune from `" << c.base_model << "`"
       << (c.provenance.is_object() ? " after fine-tuning" : "") << ".\n\n";
    training_section(md, c);
    data_section(md, c);
    files_section(md, c);
    usage_section(md, c);
    return md.str();
}

} // namespace slimtune::train
