#include "train/run_dir.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "train/early_stopping.h"
#include "train/provenance.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

namespace slimtune::train {

namespace fs = std::filesystem;

namespace {

// `name` is a run's own entry (of the right kind), or a temporary an atomic write of one left
// behind when the process died ("metrics.jsonl.tmp.4242", a staged "adapter.tmp.4242/").
bool is_run_entry(const std::string& name, bool directory) {
    for (const RunEntry& e : run_entries()) {
        if (name == e.name && directory == e.directory)
            return true;
        const std::string tmp = std::string(e.name) + ".tmp.";
        if (e.directory == directory && name.starts_with(tmp) && name.size() > tmp.size() &&
            std::all_of(name.begin() + static_cast<std::ptrdiff_t>(tmp.size()), name.end(),
                        [](char c) { return c >= '0' && c <= '9'; }))
            return true;
    }
    return false;
}

// "checkpoints/ (2 files)" for a directory, the name for a file.
std::string entry_text(const fs::directory_entry& e) {
    const std::string name = e.path().filename().string();
    std::error_code ec;
    if (!e.is_directory(ec))
        return name;
    size_t n = 0;
    for (fs::directory_iterator it(e.path(), ec), end; !ec && it != end; it.increment(ec))
        ++n;
    return name + "/ (" + std::to_string(n) + (n == 1 ? " entry)" : " entries)");
}

std::string shown(const std::string& value) {
    return value.empty() ? "(empty)" : value;
}

bool may_change(const std::string& key) {
    for (const std::string& k : resume_may_change())
        if (k == key || (k.ends_with(".*") && key.starts_with(k.substr(0, k.size() - 1))))
            return true;
    return false;
}

} // namespace

const std::vector<RunEntry>& run_entries() {
    static const std::vector<RunEntry> entries = {
        {kMetricsFile, false}, {kRecipeFile, false}, {kSamplesFile, false}, {kCheckpointsDir, true},
        {kTokensDir, true},    {kDataDir, true},     {kAdapterDir, true},   {kModelDir, true}};
    return entries;
}

std::string run_path(const Recipe& r, const std::string& name) {
    return (fs::path(r.train.output_dir) / name).string();
}

std::string describe_outputs(const Recipe& r) {
    const std::string every = r.checkpoint.every > 0
                                  ? "every " + std::to_string(r.checkpoint.every) + " steps"
                                  : "at the end";
    const auto line = [&](const std::string& name, const std::string& what) {
        return run_path(r, name) + "  " + what + "\n";
    };
    std::string s = line(kRecipeFile, "the resolved recipe");
    s += line(kMetricsFile, "one JSON line per logged step (log.every) and per evaluation");
    s += line(std::string(kTokensDir) + "/train.bin",
              "the tokenized training data, memory-mapped (rebuilt on resume)");
    if (!r.data.validation.empty() || r.data.validation_split > 0)
        s += line(kValidationRecords,
                  "the validation records, as read (for export --eval-data, eval --data)");
    if (r.eval.samples > 0)
        s += line(kSamplesFile, std::to_string(r.eval.samples) +
                                    " greedy continuations of held-out prompts per evaluation");
    s += line(std::string(kCheckpointsDir) + "/step-N.h5",
              every + ", the newest " + std::to_string(r.checkpoint.keep) + " kept" +
                  (r.checkpoint.keep_best ? " and the best" : "") +
                  " (resume continues from the newest)");
    const bool lora = r.trainer.mode == "lora";
    if (lora) {
        s += line(std::string(kAdapterDir) + "/adapter_config.json", "the PEFT adapter config");
        s += line(std::string(kAdapterDir) + "/adapter_model.safetensors", "the adapter weights");
        s += line(std::string(kAdapterDir) + "/README.md", "its model card (PEFT, Hub metadata)");
    } else {
        s += line(std::string(kModelDir) + "/",
                  "the fine-tuned model (config.json, model.safetensors)");
    }
    s += line(std::string(lora ? kAdapterDir : kModelDir) + "/" + kProvenanceFile,
              "data, base model, chat template and recipe of the run (what exports use)");
    return s;
}

NewRunDir check_new_run_dir(const std::string& dir, bool overwrite) {
    NewRunDir checked{.dir = dir};
    std::error_code ec;
    if (!fs::exists(dir, ec))
        return checked;
    if (!fs::is_directory(dir, ec))
        throw UsageError(dir + ": train.output_dir is not a directory");
    std::vector<std::string> all, unknown;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const bool directory = it->is_directory(ec);
        if (is_run_entry(it->path().filename().string(), directory))
            checked.previous_run.push_back(entry_text(*it));
        else
            unknown.push_back(entry_text(*it));
        all.push_back(entry_text(*it));
    }
    if (ec)
        throw Error(dir + ": cannot list directory: " + ec.message());
    if (all.empty())
        return checked;
    std::sort(all.begin(), all.end());
    std::sort(unknown.begin(), unknown.end());
    std::sort(checked.previous_run.begin(), checked.previous_run.end());
    if (!overwrite)
        throw UsageError(dir + ": not empty (" + short_list(all) +
                         "); continue that run with --resume " + dir +
                         ", replace it with --overwrite, or set another train.output_dir");
    if (!unknown.empty())
        throw UsageError(dir +
                         ": --overwrite removes only a run's own files, and this "
                         "directory also holds " +
                         short_list(unknown) + "; move them away or set another train.output_dir");
    return checked;
}

void prepare_new_run(const NewRunDir& checked, std::ostream& progress) {
    std::error_code ec;
    fs::create_directories(checked.dir, ec);
    if (ec)
        throw Error(checked.dir + ": cannot create directory: " + ec.message());
    if (checked.previous_run.empty())
        return;
    for (const RunEntry& e : run_entries()) {
        const fs::path path = fs::path(checked.dir) / e.name;
        if (fs::exists(path, ec))
            fs::remove_all(path, ec);
        if (ec)
            throw Error(path.string() + ": cannot remove: " + ec.message());
    }
    // Temporaries of an interrupted write ("metrics.jsonl.tmp.4242"), also a run's own.
    std::vector<fs::path> temporaries;
    for (fs::directory_iterator it(checked.dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename().string().find(".tmp.") != std::string::npos &&
            is_run_entry(it->path().filename().string(), it->is_directory(ec)))
            temporaries.push_back(it->path());
    for (const fs::path& p : temporaries)
        fs::remove_all(p, ec);
    progress << "overwrite: removed "
             << short_list(checked.previous_run, checked.previous_run.size()) << " from "
             << checked.dir << "\n";
}

const std::vector<std::string>& resume_may_change() {
    static const std::vector<std::string> keys = {
        "train.max_steps",  "train.epochs", "train.threads",
        "train.output_dir", "data.train",   "data.manifest",
        "model.name", // the Hub id the adapter's card names, not the weights
        "eval.*",           "checkpoint.*", "log.*",
        "curate.*", // training does not read [curate]
    };
    return keys;
}

ResumePoint open_resume_point(const Recipe& now, const std::string& manifest_sha256) {
    const std::string& dir = now.train.output_dir;
    std::vector<std::string> skipped;
    const auto latest = latest_checkpoint(dir, &skipped);
    if (!latest)
        throw ConfigError(dir + ": no checkpoint to resume from" +
                          (skipped.empty() ? "" : " (unreadable: " + short_list(skipped, 2) + ")") +
                          "; start it again with --overwrite");
    ResumePoint p{.path = *latest, .checkpoint = read_train_checkpoint(*latest)};
    p.recipe = recipe_from_ini(p.checkpoint.recipe, *latest);
    const std::string& stored = p.checkpoint.dataset_manifest_sha256;
    if (stored != manifest_sha256) {
        const auto short_hash = [](const std::string& h) {
            return h.empty() ? std::string("(none)") : h.substr(0, 12) + "...";
        };
        throw ConfigError(*latest + ": was trained on the dataset of manifest " +
                          short_hash(stored) + ", but " + now.data.train + " now comes with " +
                          short_hash(manifest_sha256) + "; resume needs the same curated data");
    }
    std::vector<std::string> changed;
    for (const KeyChange& c : recipe_differences(p.recipe, now))
        if (!may_change(c.key))
            changed.push_back(c.key + " " + shown(c.before) + " -> " + shown(c.after));
    if (!changed.empty())
        throw UsageError(*latest +
                         ": the recipe differs from the one this run was trained "
                         "with: " +
                         short_list(changed) + "; a resume may change only " +
                         short_list(resume_may_change(), 20) +
                         " (start a new run in another train.output_dir)");
    p.skipped = std::move(skipped);
    return p;
}

std::string resume_has_ended(const ResumePoint& from, const Recipe& now, int64_t total_steps) {
    const TrainCheckpoint& ck = from.checkpoint;
    const std::string& dir = now.train.output_dir;
    const bool lora = now.trainer.mode == "lora";
    if (std::error_code ec; !fs::exists(run_path(now, lora ? kAdapterDir : kModelDir), ec))
        return "";
    if (ck.step >= total_steps)
        return dir + ": the run is finished (step " + std::to_string(ck.step) + " of " +
               std::to_string(total_steps) + "); to train longer, resume with a higher " +
               "train.max_steps (slimtune train --resume " + dir + " --train.max_steps " +
               std::to_string(2 * ck.step) + ") or train.epochs";
    const BestValidation best = BestValidation::load(ck.metrics);
    if (ck.metrics.count("early_stopped") && best.exhausted(now.eval.early_stopping_patience))
        return dir + ": the run stopped early at step " + std::to_string(ck.step) +
               " (no better validation loss for " + std::to_string(best.evals_since()) +
               " evaluations); to go on, resume with a higher eval.early_stopping_patience (0: "
               "off)";
    return "";
}

void drop_logs_after(const Recipe& r, int64_t step) {
    for (const char* log : {kMetricsFile, kSamplesFile}) {
        const std::string path = run_path(r, log);
        std::ifstream old(path);
        if (!old)
            continue;
        std::string kept, line;
        while (std::getline(old, line)) {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (!j.is_discarded() && j.value("step", int64_t{0}) <= step)
                kept += line + "\n";
        }
        write_file_atomic(path, [&](std::ostream& os) { os << kept; });
    }
}

} // namespace slimtune::train
