#include "train/adapter.h"

#include "common/error.h"
#include "train/provenance.h"

#include <filesystem>
#include <ostream>

namespace slimtune::train {

namespace fs = std::filesystem;

namespace {

bool has_file(const fs::path& dir, const char* name) {
    std::error_code ec;
    return fs::is_regular_file(dir / name, ec);
}

bool is_peft_adapter(const fs::path& dir) {
    return has_file(dir, "adapter_config.json");
}

bool is_hf_model(const fs::path& dir) {
    return has_file(dir, "config.json");
}

// What a directory given on the command line holds.
enum class DirKind { PeftAdapter, LoraRun, FullRun, Model, Other };

DirKind dir_kind(const std::string& dir) {
    const fs::path p(dir);
    if (is_peft_adapter(p))
        return DirKind::PeftAdapter;
    if (is_hf_model(p))
        return DirKind::Model;
    if (is_peft_adapter(p / "adapter"))
        return DirKind::LoraRun;
    if (is_hf_model(p / "model"))
        return DirKind::FullRun;
    return DirKind::Other;
}

std::string sub(const std::string& dir, const char* name) {
    return (fs::path(dir) / name).string();
}

// --adapter: the adapter, or the fully fine-tuned model that takes --model's place.
void resolve_adapter(const std::string& adapter, FineTuneSource& src, std::ostream& progress) {
    switch (dir_kind(adapter)) {
    case DirKind::PeftAdapter:
        src.adapter = src.provenance_dir = adapter;
        return;
    case DirKind::LoraRun:
        src.adapter = src.provenance_dir = sub(adapter, "adapter"); // apply_adapter names it
        return;
    case DirKind::FullRun:
        src.full_model = src.provenance_dir = sub(adapter, "model");
        progress << adapter << " is a full fine-tuning run: using its whole model "
                 << src.full_model << " in place of --model " << src.base << "\n";
        return;
    case DirKind::Model:
        src.full_model = src.provenance_dir = adapter;
        progress << adapter << " is a whole model, not an adapter: using it in place of --model "
                 << src.base << "\n";
        return;
    case DirKind::Other:
        break;
    }
    std::error_code ec;
    if (!fs::exists(adapter, ec))
        throw UsageError("--adapter " + adapter +
                         ": no such directory (expected a PEFT adapter directory with "
                         "adapter_config.json, or a training run directory)");
    throw UsageError("--adapter " + adapter +
                     ": not a PEFT adapter (no adapter_config.json), nor a training run "
                     "directory (no adapter/ or model/ inside)");
}

} // namespace

FineTuneSource
resolve_fine_tune(const std::string& model, const std::string& adapter, std::ostream& progress) {
    FineTuneSource src;
    src.base = model;
    switch (dir_kind(model)) {
    case DirKind::PeftAdapter:
        throw UsageError("--model " + model + " is a PEFT adapter: pass it as --adapter " + model +
                         " with the base model as --model");
    case DirKind::LoraRun:
        throw UsageError("--model " + model + " is a LoRA training run: pass the base model as " +
                         "--model and the run as --adapter " + model);
    case DirKind::FullRun:
        src.base.clear();
        src.full_model = src.provenance_dir = sub(model, "model");
        progress << model << " is a full fine-tuning run: using its model " << src.full_model
                 << "\n";
        break;
    case DirKind::Model:
        // A full fine-tune's model/ carries its provenance: the chat template it trained with.
        if (has_file(model, kProvenanceFile) && adapter.empty())
            src.provenance_dir = model;
        break;
    case DirKind::Other: // a .gguf file, or a missing path that loading reports
        break;
    }
    if (adapter.empty())
        return src;
    if (!src.full_model.empty())
        throw UsageError("--model " + model + " is already fine-tuned; --adapter " + adapter +
                         " would apply a second fine-tuning");
    resolve_adapter(adapter, src, progress);
    return src;
}

LoraConfig apply_adapter(Model& m, const std::string& dir, std::ostream& progress) {
    const LoraConfig c = load_peft_adapter(m, dir);
    progress << "adapter " << dir << ": LoRA rank " << c.rank << ", alpha " << c.alpha << ", "
             << lora_modules(m).size() << " modules\n";
    return c;
}

std::string
chat_template_for(const FineTuneSource& src, const std::string& requested, std::ostream& progress) {
    if (!requested.empty() || src.provenance_dir.empty())
        return requested;
    const nlohmann::json provenance = read_provenance(src.provenance_dir);
    const std::string recorded = trained_chat_template(provenance);
    const std::string where = sub(src.provenance_dir, kProvenanceFile);
    if (provenance.is_null())
        progress << src.provenance_dir << " has no " << kProvenanceFile
                 << ": chat uses the tokenizer's own template\n";
    else if (recorded.empty())
        progress << where << " records no chat template: chat uses the tokenizer's own\n";
    else
        progress << "chat template " << recorded << ", as recorded at training in " << where
                 << "\n";
    return recorded;
}

} // namespace slimtune::train
