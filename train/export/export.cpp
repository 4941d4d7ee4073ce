#include "train/export/export.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/chat_template.h"
#include "data/examples.h"
#include "model/io/gguf_model.h"
#include "model/io/save_model.h"
#include "model/lora.h"
#include "train/adapter.h"
#include "train/evaluate.h"
#include "train/export/ollama_modelfile.h"
#include "train/model_card.h"
#include "train/provenance.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// slimtune_provenance.json beside the adapter (LoRA) or the model (full fine-tune); null when
// neither has one (a base model exported as is).
json read_export_provenance(const ExportOptions& o, std::string& where) {
    for (const std::string& dir : {o.adapter_dir, o.model_dir}) {
        json j = read_provenance(dir);
        if (!j.is_null()) {
            where = (fs::path(dir) / kProvenanceFile).string();
            return j;
        }
    }
    return nullptr;
}

std::string dir_name(const std::string& dir) {
    fs::path p = fs::path(dir);
    if (!p.has_filename())
        p = p.parent_path();
    return p.filename().string();
}

// The export's name: --name, else the run directory of the adapter ("runs/x/adapter" -> x),
// else the model directory's name.
std::string export_name(const ExportOptions& o) {
    if (!o.name.empty())
        return o.name;
    if (!o.adapter_dir.empty()) {
        fs::path p = fs::weakly_canonical(o.adapter_dir);
        if (p.filename() == "adapter" && p.has_parent_path())
            p = p.parent_path();
        return p.filename().string();
    }
    return dir_name(fs::weakly_canonical(o.model_dir).string());
}

std::string upper(std::string_view s) {
    std::string r(s);
    for (char& c : r)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return r;
}

std::string tokenizer_dir(const ExportOptions& o) {
    return o.tokenizer_dir.empty() ? o.model_dir : o.tokenizer_dir;
}

bool has_tokenizer(const std::string& dir) {
    std::error_code ec;
    return fs::exists(fs::path(dir) / "tokenizer.json", ec) ||
           fs::exists(fs::path(dir) / "vocab.json", ec) ||
           fs::exists(fs::path(dir) / "encoder.json", ec);
}

data::Tokenizer load_export_tokenizer(const ExportOptions& o) {
    const std::string dir = tokenizer_dir(o);
    if (!has_tokenizer(dir))
        throw ConfigError(dir + ": no tokenizer.json; a GGUF carries its tokenizer, pass "
                                "--tokenizer DIR");
    return data::Tokenizer::load(dir);
}

// gguf and ollama write the tokenizer, and --eval-data is scored with it; hf needs it only to
// write a chat template other than the tokenizer's own into the copied tokenizer files.
bool needs_tokenizer(const ExportOptions& o, const json& provenance) {
    if (o.format == "gguf" || o.format == "ollama" || !o.eval_data.empty())
        return true;
    const bool named = !o.chat_template.empty() || !trained_chat_template(provenance).empty();
    return o.format == "hf" && named && has_tokenizer(tokenizer_dir(o));
}

// The export's name, base model and provenance (`provenance_path`: where it was read, "" when
// there is none).
GgufExportInfo export_info(const ExportOptions& o, std::string& provenance_path) {
    GgufExportInfo info;
    info.provenance = read_export_provenance(o, provenance_path);
    info.name = export_name(o);
    const std::string recorded = base_model_path(info.provenance);
    info.base_model_path = recorded.empty() ? o.model_dir : recorded;
    info.base_model_id = base_model_id(info.provenance);
    if (info.base_model_id.empty())
        info.base_model_id = hub_model_id(info.base_model_path);
    info.base_model =
        info.base_model_id.empty() ? dir_name(info.base_model_path) : info.base_model_id;
    return info;
}

void make_dir(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(dir + ": cannot create directory: " + ec.message());
}

bool format_needs_adapter(const std::string& f) {
    return f == "gguf-lora" || f == "peft";
}

void check_options(const ExportOptions& o) {
    static const char* kFormats[] = {"gguf", "gguf-lora", "hf", "peft", "ollama"};
    if (std::find(std::begin(kFormats), std::end(kFormats), o.format) == std::end(kFormats))
        throw ConfigError("--format must be gguf, gguf-lora, hf, peft or ollama, got '" + o.format +
                          "'");
    if (o.model_dir.empty())
        throw ConfigError("--model is required");
    if (o.out.empty())
        throw ConfigError("--out is required");
    if (format_needs_adapter(o.format) && o.adapter_dir.empty())
        throw ConfigError("--format " + o.format + " exports an adapter: pass --adapter DIR");
    if (o.types.empty())
        throw ConfigError("--type: no export type given");
    if ((o.format == "gguf-lora" || o.format == "ollama") && o.types.size() != 1)
        throw ConfigError("--format " + o.format + " takes one --type");
    const bool file_out = o.out.ends_with(".gguf");
    if (o.format == "gguf" && file_out && o.types.size() != 1)
        throw ConfigError("--out " + o.out + " is one file but " + std::to_string(o.types.size()) +
                          " types were asked for; give a directory");
    if (o.format == "gguf-lora" && !file_out)
        throw ConfigError("--format gguf-lora writes one file: --out must end in .gguf");
    if ((o.format == "hf" || o.format == "peft" || o.format == "ollama") && file_out)
        throw ConfigError("--format " + o.format + " writes a directory, not " + o.out);
}

void print_report(const GgufExportReport& r, std::ostream& progress) {
    progress << "wrote " << r.path << " (" << r.file_bytes << " bytes, " << r.tensors
             << " tensors:";
    for (const auto& [t, n] : r.tensors_per_type)
        progress << " " << n << " " << t;
    progress << "; " << r.seconds << " s)\n";
}

// The chat template every file of the export carries: --chat-template, else the one the run
// trained with (recorded in its provenance), else the tokenizer's own.
struct ExportChatTemplate {
    std::string name;                       // "" : none
    std::string source;                     // where the choice came from, for messages and the card
    std::optional<data::ChatTemplate> tmpl; // with the tokenizer's tokens (none without tokenizer)
    std::string jinja; // replaces the tokenizer's own text ("" : keep it; see GgufExportInfo)
};

ExportChatTemplate choose_export_chat_template(const ExportOptions& o,
                                               const json& provenance,
                                               const std::string& provenance_path,
                                               const data::Tokenizer* tok,
                                               std::ostream& progress) {
    ExportChatTemplate e;
    const std::string recorded = trained_chat_template(provenance);
    if (!o.chat_template.empty()) {
        e.name = o.chat_template;
        e.source =
            "--chat-template" +
            (recorded.empty() || recorded == e.name ? "" : "; the run trained with " + recorded);
    } else if (!recorded.empty()) {
        e.name = recorded;
        e.source = "trained with, recorded in " + provenance_path;
    } else {
        e.source = "the tokenizer's own" +
                   std::string(provenance.is_object() ? "; the run recorded none" : "");
    }
    if (tok && !e.name.empty()) {
        e.tmpl = data::chat_template_for(e.name, tok->config(), tok->source());
        e.jinja = data::exported_chat_template_jinja(*e.tmpl, tok->config(), tok->source());
    } else if (tok) {
        try {
            // The tokenizer's own: a named format, else rendered by the Jinja engine (a GGUF
            // keeps the config's text; ollama refuses, naming the families it knows).
            e.tmpl = data::chat_template_for(data::kAutoChatTemplate, tok->config(), tok->source());
            e.name = e.tmpl->name;
        } catch (const ConfigError&) {
            // No template at all: a GGUF has none, ollama refuses.
        }
    }
    if (!e.name.empty())
        progress << "chat template: " << e.name << " (" << e.source << ")\n";
    return e;
}

json read_json_or_null(const fs::path& p) {
    std::error_code ec;
    if (!fs::exists(p, ec))
        return nullptr;
    const std::string text = read_file(p, "file", kMaxSettingsFileBytes);
    check_json_depth(text, p.string());
    json j = json::parse(text, nullptr, false);
    return j.is_discarded() ? json(nullptr) : j;
}

// README.md in the export directory; with --eval-data, every file's perplexity against the
// float32 model's (each GGUF read back by slimtune's own reader, dequantized).
void write_model_card(const ExportOptions& o,
                      const GgufExportInfo& info,
                      const ExportChatTemplate& chat,
                      const Model& m,
                      const data::Tokenizer* tok,
                      ExportResult& result,
                      std::ostream& progress) {
    ModelCard card;
    card.name = info.name;
    card.base_model = info.base_model;
    card.base_model_id = info.base_model_id;
    card.format = o.format;
    card.provenance = info.provenance;
    if (!o.adapter_dir.empty())
        card.adapter_config = read_json_or_null(fs::path(o.adapter_dir) / "adapter_config.json");
    card.chat_template = chat.name;
    card.chat_template_source = chat.source;
    card.eval_data = o.eval_data;
    std::optional<data::ExampleOptions> eo;
    if (!o.eval_data.empty()) {
        // As training read it (the record format detected per line), with the export's
        // tokenizer and the chat template the files carry.
        eo = data::example_options({}, data::kAutoChatTemplate, tok, m.cfg.vocab_size);
        if (chat.tmpl)
            eo->chat_template = chat.tmpl;
        const DatasetLoss f32 = dataset_loss(m, o.eval_data, *eo, o.eval_max_tokens);
        card.f32_perplexity = f32.perplexity;
        card.eval_tokens = f32.tokens;
        progress << "float32 perplexity " << f32.perplexity << " (" << f32.tokens << " tokens)\n";
    }
    for (const GgufExportReport& r : result.gguf) {
        ModelCardFile f{.file = fs::path(r.path).filename().string(),
                        .type = r.type,
                        .bytes = r.file_bytes,
                        .perplexity = std::nullopt};
        if (eo) {
            const Model q = io::load_gguf_model(r.path);
            f.perplexity = dataset_loss(q, o.eval_data, *eo, o.eval_max_tokens).perplexity;
            progress << f.file << ": perplexity " << *f.perplexity << "\n";
        }
        card.files.push_back(f);
    }
    if (o.format == "hf") {
        for (const auto& e : fs::directory_iterator(o.out))
            if (e.path().extension() == ".safetensors")
                card.files.push_back({.file = e.path().filename().string(),
                                      .type = "safetensors f32",
                                      .bytes = fs::file_size(e.path()),
                                      .perplexity = std::nullopt});
        std::sort(card.files.begin(), card.files.end(),
                  [](const ModelCardFile& a, const ModelCardFile& b) { return a.file < b.file; });
        if (eo && !card.files.empty())
            card.files.front().perplexity =
                dataset_loss(load_model(o.out), o.eval_data, *eo, o.eval_max_tokens).perplexity;
    }
    result.model_card = (fs::path(o.out) / "README.md").string();
    write_file_atomic(result.model_card,
                      [&](std::ostream& os) { os << model_card_markdown(card); });
    progress << "wrote " << result.model_card << "\n";
    result.card = std::move(card);
}

// The dataset's manifest hash for a safetensors header's __metadata__ (merged model, PEFT
// adapter), so the weights carry the provenance also when the JSON beside them is lost.
std::map<std::string, std::string> provenance_metadata(const GgufExportInfo& info) {
    std::map<std::string, std::string> meta;
    if (info.provenance.is_object() && info.provenance.contains("dataset"))
        meta["slimtune.dataset_manifest_sha256"] =
            info.provenance["dataset"].value("manifest_sha256", std::string());
    return meta;
}

// --adapter may name a training run directory, or a full fine-tune (train/adapter.h).
ExportOptions with_run_resolved(ExportOptions o, std::ostream& progress) {
    const FineTuneSource src = resolve_fine_tune(o.model_dir, o.adapter_dir, progress);
    o.model_dir = src.weights();
    o.adapter_dir = src.adapter;
    return o;
}

} // namespace

ExportResult export_model(const ExportOptions& options, std::ostream& progress) {
    check_options(options);
    const ExportOptions o = with_run_resolved(options, progress);
    ExportResult result;
    result.out = o.out;
    std::string provenance_path;
    GgufExportInfo info = export_info(o, provenance_path);
    if (!provenance_path.empty())
        progress << "provenance: " << provenance_path << "\n";

    // gguf and ollama stream the base weights from the checkpoint a tensor at a time (only the
    // adapted ones are read in to merge); the other formats hold the model in float32.
    CheckpointModel src = open_checkpoint_model(o.model_dir);
    Model& m = src.model;
    const bool stream = o.format == "gguf" || o.format == "ollama";
    if (!stream)
        src.load_all();
    LoraConfig lora_cfg;
    if (!o.adapter_dir.empty()) {
        lora_cfg = apply_adapter(m, o.adapter_dir, progress);
        if (!format_needs_adapter(o.format)) {
            for (const LoraModule& l : lora_modules(m))
                src.load({.name = l.module + ".weight",
                          .tensor = &l.linear->weight,
                          .transposed = l.conv1d,
                          .projection = true});
            lora_merge(m);
        }
    }

    if (o.format == "gguf-lora") {
        const GgufExportReport r = write_gguf_lora(m, info, o.types.front(), o.out);
        print_report(r, progress);
        result.gguf.push_back(r);
        return result;
    }
    const std::unique_ptr<data::Tokenizer> tok =
        needs_tokenizer(o, info.provenance)
            ? std::make_unique<data::Tokenizer>(load_export_tokenizer(o))
            : nullptr;
    const ExportChatTemplate chat =
        choose_export_chat_template(o, info.provenance, provenance_path, tok.get(), progress);
    info.chat_template_jinja = chat.jinja;

    if (o.format == "peft" || o.format == "hf") {
        const std::map<std::string, std::string> meta = provenance_metadata(info);
        // Weights, configs and provenance are staged and swapped in at once: an export killed
        // in between leaves the previous directory whole, never new weights beside an old
        // config. The model card (documentation only) follows.
        StagedDirectory stage(o.out);
        if (o.format == "peft") {
            save_peft_adapter(m, lora_cfg, stage.path(),
                              peft_base_model(info.base_model_id, info.base_model_path), meta);
        } else {
            io::save_hf_model(m, o.model_dir, stage.path(), meta, o.max_shard_bytes);
            if (!chat.jinja.empty())
                data::write_tokenizer_chat_template(stage.path(), chat.jinja);
        }
        // eval, generate and later exports of this directory read the template from it.
        if (!provenance_path.empty())
            write_file_atomic(stage.file(kProvenanceFile),
                              [&](std::ostream& os) { os << info.provenance.dump(2) << "\n"; });
        // A new weight set replaces the old one whole (shards never sit beside a single file).
        if (o.format == "hf")
            stage.publish(io::is_hf_weight_file);
        else
            stage.publish();
        progress << "wrote " << o.out << "\n";
        write_model_card(o, info, chat, m, tok.get(), result, progress);
        return result;
    }

    // gguf and ollama. ollama needs a chat template: without one of its own,
    // detect_chat_template says why and what to pass, before any file is written.
    std::optional<data::ChatTemplate> ollama_template;
    if (o.format == "ollama")
        ollama_template =
            chat.tmpl ? *chat.tmpl : data::detect_chat_template(tok->config(), tok->source());
    const bool single_file = o.format == "gguf" && o.out.ends_with(".gguf");
    if (!single_file)
        make_dir(o.out);
    for (const io::ExportType t : o.types) {
        const std::string path =
            single_file
                ? o.out
                : (fs::path(o.out) / (info.name + "-" + upper(io::export_type_name(t)) + ".gguf"))
                      .string();
        const GgufExportReport r = write_gguf_model(
            m, *tok, info, t, path, [&src](const NamedParam& p) { return src.read(p); });
        print_report(r, progress);
        result.gguf.push_back(r);
    }
    if (ollama_template) {
        const data::ChatTemplate& tmpl = *ollama_template;
        const std::string gguf_file = fs::path(result.gguf.front().path).filename().string();
        const std::string modelfile = (fs::path(o.out) / "Modelfile").string();
        write_file_atomic(
            modelfile, [&](std::ostream& os) { os << ollama_modelfile("./" + gguf_file, tmpl); });
        progress << "wrote " << modelfile << " (ollama create " << info.name << " -f Modelfile)\n";
    }
    if (!single_file) {
        if (!o.eval_data.empty())
            src.load_all(); // the float32 perplexity the table compares with
        write_model_card(o, info, chat, m, tok.get(), result, progress);
    }
    return result;
}

} // namespace slimtune::train
