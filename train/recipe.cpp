#include "train/recipe.h"

#include "common/error.h"
#include "common/text.h"
#include "optim/schedule.h"
#include "train/curate_keys.h"
#include "train/provenance.h"
#include "train/recipe_keys.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

namespace slimtune::train {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

using namespace recipe_detail;

// The training sections' keys, in section order: each INI key bound to the field of the
// library struct it sets (Recipe: data::TrainingDataConfig, TrainerConfig with LoraConfig,
// optim::OptimizerConfig and optim::ScheduleConfig, and the run's own sections).
std::vector<Key> training_keys() {
    return {
        KEY(text, "model.path", model.path, "a directory", "the Hugging Face model directory"),
        KEY(text, "model.name", model.name, "a Hub model id (org/name) or empty",
            "the base model's Hub id for cards and adapter_config.json; empty: from config.json"),
        KEY(choice, "model.base_dtype", trainer.base_dtype, {"auto", "float32", "bfloat16"},
            "frozen weights while training; auto: bfloat16 on CPUs with AMX or AVX-512 BF16"),
        KEY(text, "data.train", data.train, "a file", "JSONL training examples"),
        KEY(text, "data.validation", data.validation, "a file or empty",
            "JSONL validation examples (empty: none)"),
        KEY(number, "data.validation_split", data.validation_split, kFraction,
            "fraction of data.train held out"),
        KEY(boolean, "data.shuffle", data.shuffle, "shuffle the examples every epoch (seeded)"),
        KEY(text, "data.text_field", data.examples.record.text_field, "a JSON field name",
            "JSONL field of plain-text examples"),
        KEY(text, "data.chat_template", data.chat_template,
            "auto, chatml, qwen3, llama3, gemma, llama2 or alpaca",
            "template of chat examples; auto: the tokenizer's own"),
        KEY(boolean, "data.allow_template_markers_as_text", data.allow_template_markers_as_text,
            "train a named template whose markers are not special tokens of the tokenizer"),
        KEY(mapped_choice, "data.format", data.examples.record.format, dataset_formats(),
            "record format; auto: detected per line from its keys"),
        KEY(string_map, "data.role_map", data.examples.record.role_map,
            "ShareGPT 'from' values mapped to roles (human=user)"),
        KEY(mapped_choice, "data.train_on", data.examples.train_on_all,
            {{"completion", false}, {"all", true}},
            "learn only completions and assistant turns, or every token"),
        KEY(mapped_choice, "data.on_bad_line", data.examples.skip_bad_lines,
            {{"error", false}, {"skip", true}}, "a malformed line fails, or is counted"),
        KEY(mapped_choice, "data.overlong", data.packing.drop_overlong,
            {{"truncate", false}, {"drop", true}}, "examples over train.seq_len tokens"),
        KEY(text, "data.manifest", data.manifest, "a file or empty",
            "curation manifest of data.train; empty: manifest.json beside it"),
        KEY(integer, "lora.rank", trainer.lora.rank, 1,
            "rank r of each adapter (A: r x in, B: out x r)", kMaxLoraRank),
        KEY(number, "lora.alpha", trainer.lora.alpha, kPositive,
            "scaling numerator: the update is (alpha / r) B A"),
        KEY(number, "lora.dropout", trainer.lora.dropout, kFraction,
            "dropout on the adapter input during training"),
        KEY(names, "lora.targets", trainer.lora.targets, "module names or all-linear",
            "modules that get adapters"),
        KEY(text, "lora.target_regex", trainer.lora.target_regex, "a regex or empty",
            "instead of targets: a full match"),
        KEY(indices, "lora.layers", trainer.lora.layers,
            "blocks with adapters (layers_to_transform); empty: all"),
        KEY(pattern, "lora.rank_pattern", trainer.lora.rank_pattern,
            "per-module ranks (PEFT rank_pattern)"),
        KEY(pattern, "lora.alpha_pattern", trainer.lora.alpha_pattern,
            "per-module alphas (PEFT alpha_pattern)"),
        KEY(boolean, "lora.rslora", trainer.lora.rslora, "rank-stabilized scaling alpha / sqrt(r)"),
        KEY(text, "lora.init", trainer.lora_init, "a PEFT adapter directory or empty",
            "start from this adapter"),
        KEY(choice, "train.mode", trainer.mode, {"lora", "full"},
            "adapters only, or all the weights"),
        KEY(names, "train.trainable", trainer.trainable, "name substrings",
            "full mode: what trains; empty: all"),
        KEY(integer, "train.max_steps", train.max_steps, 0,
            "optimizer steps; 0: from train.epochs"),
        KEY(number, "train.epochs", train.epochs, (Range{0, kMaxEpochs, true, false}),
            "passes over the training data"),
        KEY(integer, "train.batch_size", data.packing.batch_size, 1, "sequences per micro-batch",
            kMaxBatchSize),
        KEY(integer, "train.seq_len", data.packing.seq_len, 2, "tokens per sequence", kMaxSeqLen),
        KEY(integer, "train.grad_accum", train.grad_accum, 1, "micro-batches per optimizer step",
            kMaxGradAccum),
        KEY(integer, "train.seed", trainer.seed, 0, "seed of init, dropout, shuffle and split"),
        KEY(integer, "train.threads", train.threads, 0, "CPU threads; 0: all cores"),
        KEY(boolean, "train.checkpoint_activations", trainer.checkpoint_activations,
            "recompute each block in backward: less memory, ~1/3 (full) to ~1/2 (LoRA) more "
            "compute"),
        KEY(text, "train.output_dir", train.output_dir, "a directory",
            "where metrics, checkpoints and the result go"),
        KEY(boolean, "train.packing", data.packing.pack, "pack examples into each sequence"),
        KEY(choice, "optim.name", trainer.optimizer.name, {"adamw", "sgd"}, "the optimizer"),
        KEY(number, "optim.lr", trainer.optimizer.lr, kPositive, "peak learning rate"),
        betas(),
        KEY(number, "optim.eps", trainer.optimizer.eps, kPositive, "AdamW's denominator epsilon"),
        KEY(number, "optim.weight_decay", trainer.optimizer.weight_decay, kNonNegative,
            "decoupled (AdamW) or L2 (SGD)"),
        KEY(number, "optim.momentum", trainer.optimizer.momentum, kFraction, "SGD momentum"),
        KEY(number, "optim.dampening", trainer.optimizer.dampening, kUnit,
            "SGD: the gradient's weight in the momentum buffer is 1 - dampening"),
        KEY(boolean, "optim.nesterov", trainer.optimizer.nesterov,
            "SGD: Nesterov momentum (needs momentum > 0 and dampening 0)"),
        KEY(number, "optim.max_grad_norm", trainer.max_grad_norm, kNonNegative,
            "gradient-norm clip; 0: off"),
        KEY(choice, "sched.name", trainer.schedule.name, {"constant", "linear", "cosine"},
            "decay after warmup"),
        KEY(integer, "sched.warmup_steps", trainer.schedule.warmup_steps, 0,
            "steps of linear warmup from 0 to optim.lr"),
        KEY(number, "sched.warmup_ratio", trainer.schedule.warmup_ratio, kFraction,
            "warmup as a fraction of the steps"),
        KEY(number, "sched.min_lr_ratio", trainer.schedule.min_lr_ratio, kUnit,
            "the decay ends at this fraction of optim.lr"),
        KEY(integer, "eval.every", eval.every, 0, "evaluate every N steps; 0: only at the end"),
        KEY(integer, "eval.max_batches", eval.max_batches, 0,
            "validation batches per evaluation; 0: all"),
        KEY(integer, "eval.samples", eval.samples, 0,
            "held-out prompts continued (greedy) at each evaluation into samples.jsonl"),
        KEY(integer, "eval.sample_tokens", eval.sample_tokens, 1, "new tokens per sample, at most"),
        KEY(integer, "eval.early_stopping_patience", eval.early_stopping_patience, 0,
            "stop after N evaluations without a better validation loss; 0: never"),
        KEY(number, "eval.early_stopping_min_delta", eval.early_stopping_min_delta, kNonNegative,
            "an improvement must lower the validation loss by more than this"),
        KEY(integer, "checkpoint.every", checkpoint.every, 0,
            "save a checkpoint every N steps; 0: only at the end"),
        KEY(integer, "checkpoint.keep", checkpoint.keep, 1, "newest checkpoints kept on disk"),
        KEY(boolean, "checkpoint.keep_best", checkpoint.keep_best,
            "also keep the checkpoint of the best validation loss (never rotated out)"),
        KEY(integer, "log.every", log.every, 1,
            "write a metrics line (and a progress line) every N steps, and the last"),
    };
}

#undef KEY

// Every key, in section order (the order of to_ini and recipe_keys): training, then [curate].
const std::vector<Key>& keys() {
    static const std::vector<Key> table = [] {
        std::vector<Key> t = training_keys();
        t.insert(t.end(), curate_keys().begin(), curate_keys().end());
        return t;
    }();
    return table;
}

const Key* find_key(const std::string& name) {
    for (const auto& k : keys())
        if (k.name == name)
            return &k;
    return nullptr;
}

size_t levenshtein(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string after_dot(const std::string& s) {
    const auto dot = s.rfind('.');
    return dot == std::string::npos ? s : s.substr(dot + 1);
}

[[noreturn]] void unknown_key(const std::string& name, const std::string& where) {
    std::string best;
    size_t best_d = std::numeric_limits<size_t>::max();
    for (const auto& k : keys()) {
        // A misspelling, or the right key name in the wrong section ("train.lr": optim.lr).
        const size_t d = std::min(levenshtein(name, k.name),
                                  levenshtein(after_dot(name), after_dot(k.name)) + 1);
        if (d < best_d) {
            best_d = d;
            best = k.name;
        }
    }
    std::string msg = "unknown key '" + name + "' " + where;
    if (best_d <= std::max<size_t>(2, name.size() / 3))
        throw UsageError(msg + "; did you mean '" + best + "'?");
    std::string sections;
    for (const RecipeSection& sec : recipe_sections())
        sections += (sections.empty() ? "" : ", ") + sec.name;
    throw UsageError(msg + "; valid sections are " + sections + " (see recipes/README.md)");
}

// The 1-based line of the n-th (0-based) "key = value" line for `name` in an INI text, as
// parse_config_file reads it ('#' starts a comment, "[section]" sets a prefix); 0 if none.
int find_line(const std::vector<std::string>& lines, const std::string& name, int n) {
    std::string prefix;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string s = trim(lines[i].substr(0, lines[i].find('#')));
        if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
            prefix = trim(s.substr(1, s.size() - 2)) + ".";
        } else if (const auto eq = s.find('='); eq != std::string::npos) {
            if (prefix + trim(s.substr(0, eq)) == name && n-- == 0)
                return static_cast<int>(i + 1);
        }
    }
    return 0;
}

void apply(Recipe& r, const std::string& name, const std::string& value, const std::string& at) {
    const Key* k = find_key(name);
    if (!k)
        unknown_key(name, (at == "command line" ? "on the " : "in ") + at);
    try {
        k->set(r, value);
    } catch (const BadValue& e) {
        throw UsageError(at + ": " + name + ": " + e.what + "; expected " + k->expected +
                         ", got '" + value + "'");
    }
}

// `path` must be a directory (dir) or a regular file.
void require_path(const std::string& key, const std::string& path, bool dir) {
    std::error_code ec;
    if (dir ? !fs::is_directory(path, ec) : !fs::is_regular_file(path, ec))
        throw UsageError(key + ": no such " + (dir ? "directory: " : "file: ") + path);
}

// Cross-key rules and the existence of the paths, once the file and the overrides are in.
void resolve(Recipe& r, const std::set<std::string>& given, RecipeUse use) {
    const auto fail = [&](const std::string& msg) {
        throw UsageError(msg + " (recipe " + r.source + ")");
    };
    const auto exclusive = [&](const std::string& a, const std::string& b) {
        fail(a + ": set together with " + b + "; expected one of them");
    };
    if (use == RecipeUse::curate)
        return;
    // --print-config describes a run before its model or data are there.
    const auto require = [use](const std::string& key, const std::string& path, bool dir) {
        if (use != RecipeUse::describe)
            require_path(key, path, dir);
    };
    if (r.model.path.empty())
        fail("model.path: required; set it in [model] or pass --model.path DIR");
    require("model.path", r.model.path, true);
    if (r.data.train.empty())
        fail("data.train: required; set it in [data] or pass --data.train FILE");
    require("data.train", r.data.train, false);
    if (!r.model.name.empty() && !is_hub_model_id(r.model.name))
        fail("model.name: " + name_text(r.model.name) +
             " is not a Hugging Face Hub model id; expected org/name or empty");
    if (const std::vector<std::string> names = data::chat_template_names();
        !r.data.chat_template.empty() && r.data.chat_template != data::kAutoChatTemplate &&
        r.data.chat_template != data::kJinjaChatTemplate &&
        std::find(names.begin(), names.end(), r.data.chat_template) == names.end())
        fail("data.chat_template: unknown template " + name_text(r.data.chat_template) +
             "; expected auto, " + short_list(names));
    if (!r.data.validation.empty()) {
        require("data.validation", r.data.validation, false);
        if (r.data.validation_split > 0)
            exclusive("data.validation_split", "data.validation");
    }
    // What the validation data feeds: samples, early stopping and the best checkpoint.
    const bool validation = !r.data.validation.empty() || r.data.validation_split > 0;
    for (const auto& [key, on] :
         {std::pair{"eval.samples", r.eval.samples > 0},
          {"eval.early_stopping_patience", r.eval.early_stopping_patience > 0},
          {"checkpoint.keep_best", r.checkpoint.keep_best}})
        if (on && !validation)
            fail(std::string(key) +
                 ": needs validation data; set data.validation or data.validation_split");
    if (r.eval.early_stopping_patience > 0 && r.eval.every == 0)
        fail("eval.early_stopping_patience: needs evaluations during the run; set eval.every");
    LoraConfig& lora = r.trainer.lora;
    if (!lora.target_regex.empty()) {
        if (given.count("lora.targets") && !lora.targets.empty())
            exclusive("lora.target_regex", "lora.targets");
        lora.targets.clear(); // the regex replaces the default targets
    }
    if (r.trainer.mode == "lora") {
        const auto& t = lora.targets;
        if (t.empty() && lora.target_regex.empty())
            fail("lora.targets: empty; expected module names, all-linear or a lora.target_regex");
        if (t.size() > 1 && std::find(t.begin(), t.end(), "all-linear") != t.end())
            fail("lora.targets: all-linear combined with module names; expected one or the other");
        if (!r.trainer.trainable.empty())
            fail("train.trainable: only for train.mode = full; got train.mode = lora");
    }
    if (!r.trainer.lora_init.empty()) {
        require("lora.init", r.trainer.lora_init, true);
        require("lora.init", (fs::path(r.trainer.lora_init) / "adapter_config.json").string(),
                false);
    }
    // The optimizer's and the schedule's own rules, stated once in optim/.
    try {
        optim::check_optimizer(r.trainer.optimizer);
        optim::check_schedule(r.trainer.schedule);
    } catch (const ConfigError& e) {
        fail(e.what());
    }
    if (r.train.output_dir.empty())
        r.train.output_dir = "runs/" + fs::path(r.source).stem().string();
}

} // namespace

Recipe load_recipe(const std::string& path,
                   const std::vector<std::string>& overrides,
                   RecipeUse use,
                   const Recipe* defaults) {
    std::istringstream none;
    std::ifstream file;
    std::istream& in =
        path.empty() && use == RecipeUse::curate ? static_cast<std::istream&>(none) : file;
    std::error_code ec;
    if (&in == &file) {
        if (!fs::exists(path, ec) || fs::is_directory(path, ec))
            throw UsageError("no such recipe file: " + path);
        file = open_regular_file(path, "recipe", kMaxSettingsFileBytes);
    }
    std::vector<std::string> lines;
    int64_t line_no = 1;
    for (std::string line; read_line(in, line, path, line_no); ++line_no)
        lines.push_back(line);
    in.clear();
    in.seekg(0);

    po::options_description desc;
    for (const auto& k : keys())
        desc.add_options()(k.name.c_str(), po::value<std::string>());
    const po::parsed_options parsed = [&] {
        try {
            return po::parse_config_file(in, desc, /*allow_unregistered=*/true);
        } catch (const po::error& e) {
            throw UsageError(path + ": " + e.what());
        }
    }();

    Recipe r = defaults ? *defaults : Recipe();
    r.source = path;
    std::set<std::string> given;
    std::map<std::string, int> seen; // key -> occurrences so far in the file
    for (const auto& opt : parsed.options) {
        const std::string& name = opt.string_key;
        const int n = seen[name]++;
        const int line = find_line(lines, name, n);
        const std::string at = path + (line > 0 ? ":" + std::to_string(line) : "");
        if (n > 0)
            throw UsageError(at + ": " + name + " given twice (first at line " +
                             std::to_string(find_line(lines, name, 0)) + ")");
        apply(r, name, opt.value.empty() ? "" : opt.value.front(), at);
        given.insert(name);
    }

    for (size_t i = 0; i < overrides.size(); ++i) {
        const std::string& tok = overrides[i];
        if (tok.size() <= 2 || tok.compare(0, 2, "--") != 0)
            throw UsageError("command line: expected --section.key value, got '" + tok + "'");
        std::string name = tok.substr(2), value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (i + 1 < overrides.size()) {
            value = overrides[++i];
        } else {
            throw UsageError("command line: --" + name + " needs a value");
        }
        apply(r, name, value, "command line");
        given.insert(name);
    }
    resolve(r, given, use);
    return r;
}

std::string Recipe::to_ini(const std::string& only_section) const {
    std::string out = "# slimtune recipe, resolved from " + source + "\n";
    std::string section;
    for (const auto& k : keys()) {
        const auto dot = k.name.find('.');
        if (!only_section.empty() && k.name.substr(0, dot) != only_section)
            continue;
        if (k.name.substr(0, dot) != section) {
            section = k.name.substr(0, dot);
            out += "\n[" + section + "]\n";
        }
        const std::string v = k.get(*this);
        out += k.name.substr(dot + 1) + " =" + (v.empty() ? "" : " " + v) + "\n";
    }
    return out;
}

Recipe recipe_from_ini(const std::string& text, const std::string& source) {
    po::options_description desc;
    for (const auto& k : keys())
        desc.add_options()(k.name.c_str(), po::value<std::string>());
    std::istringstream in(text);
    Recipe r;
    r.source = source;
    try {
        for (const auto& opt : po::parse_config_file(in, desc, /*allow_unregistered=*/true).options)
            if (!opt.unregistered)
                apply(r, opt.string_key, opt.value.empty() ? "" : opt.value.front(), source);
    } catch (const po::error& e) {
        throw ConfigError(source + ": " + e.what());
    }
    return r;
}

std::vector<KeyChange> recipe_differences(const Recipe& before, const Recipe& after) {
    std::vector<KeyChange> out;
    for (const auto& k : keys())
        if (k.get(before) != k.get(after))
            out.push_back({k.name, k.get(before), k.get(after)});
    return out;
}

bool Recipe::operator==(const Recipe& o) const {
    return source == o.source && to_ini() == o.to_ini();
}

nlohmann::json curate_settings(const Recipe& r) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& k : curate_keys())
        out[k.name.substr(k.name.find('.') + 1)] = k.get(r); // as the [curate] section names it
    return out;
}

const std::vector<RecipeSection>& recipe_sections() {
    static const std::vector<RecipeSection> sections = {
        {"model", "the base model"},
        {"data", "training and validation data, record format, chat template, packing"},
        {"lora", "the LoRA adapters (train.mode = lora)"},
        {"train", "mode, length of the run, batches, threads, output directory"},
        {"optim", "the optimizer"},
        {"sched", "the learning-rate schedule"},
        {"eval", "evaluation on the validation data"},
        {"checkpoint", "checkpoints for resume"},
        {"log", "metrics and progress"},
        {"curate", "curation settings (slimtune curate --recipe)"},
    };
    return sections;
}

std::vector<RecipeKeyDoc> recipe_key_docs() {
    const Recipe defaults;
    std::vector<RecipeKeyDoc> out;
    for (const auto& k : keys()) {
        std::string v = k.get(defaults);
        if (k.name == "model.path" || k.name == "data.train")
            v = "(required)";
        else if (k.name == "train.output_dir")
            v = "runs/<recipe file stem>";
        out.push_back({k.name.substr(0, k.name.find('.')), k.name, v, k.expected, k.help});
    }
    return out;
}

} // namespace slimtune::train
