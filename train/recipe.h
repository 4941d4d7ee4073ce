// Recipes: the INI files that drive `slimtune train RECIPE.ini [--section.key value ...]`.
//
// A recipe is read with Boost.Program_options (parse_config_file: "[lora]\nrank = 8" is the key
// "lora.rank"), then command-line overrides are applied on top. Every key lands in a typed field
// of Recipe; an unknown key, a value of the wrong type or out of range, a key given twice in the
// file, or a missing model directory / data file is a ConfigError naming the key, the value and
// what was expected (with the closest valid key for a misspelling). Relative paths are taken
// relative to the working directory, as given.
#pragma once

#include "data/curate/config.h"

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace slimtune::train {

struct Recipe {
    std::string source; // the recipe file it was read from

    struct ModelSection {
        std::string path; // a Hugging Face model directory (config.json + *.safetensors)
        bool operator==(const ModelSection&) const = default;
    } model;

    struct DataSection {
        std::string train;             // JSONL training examples (required)
        std::string validation;        // JSONL; "" : none (or the split below)
        double validation_split = 0.0; // fraction of train held out when no validation file
        bool shuffle = true;
        std::string text_field = "text";
        std::string chat_template;                   // "" : from the tokenizer config when needed
        std::string format = "auto";                 // a data::dataset_format_names() name
        std::map<std::string, std::string> role_map; // ShareGPT "from" -> role
        std::string train_on = "completion";         // completion | all
        std::string on_bad_line = "error";           // error | skip (counted)
        std::string overlong = "truncate";           // truncate | drop (counted)
        std::string manifest;                        // "" : manifest.json beside data.train
        bool operator==(const DataSection&) const = default;
    } data;

    struct LoraSection {
        int64_t rank = 8;
        double alpha = 16.0;
        double dropout = 0.05;
        std::vector<std::string> targets{"q_proj", "v_proj"}; // or {"all-linear"}
        std::string target_regex;                             // instead of targets
        std::vector<int64_t> layers;                          // layers_to_transform; empty: all
        std::map<std::string, int64_t> rank_pattern;
        std::map<std::string, double> alpha_pattern;
        bool rslora = false;
        std::string init; // a PEFT adapter directory to start from; "" : fresh adapters
        bool operator==(const LoraSection&) const = default;
    } lora;

    struct TrainSection {
        std::string mode = "lora";          // lora | full
        std::vector<std::string> trainable; // full mode: name substrings; empty: all
        int64_t max_steps = 0;              // 0: from epochs
        double epochs = 1.0;
        int64_t batch_size = 4;
        int64_t seq_len = 512;
        int64_t grad_accum = 1;
        uint64_t seed = 42;
        int threads = 0;        // 0: all cores
        std::string output_dir; // resolved: "runs/<recipe file stem>" when not given
        bool packing = true;
        bool operator==(const TrainSection&) const = default;
    } train;

    struct OptimSection {
        std::string name = "adamw"; // adamw | sgd
        double lr = 2e-4;
        std::array<double, 2> betas{0.9, 0.999};
        double eps = 1e-8;
        double weight_decay = 0.0;
        double momentum = 0.0;      // sgd
        double max_grad_norm = 1.0; // 0: no clipping
        bool operator==(const OptimSection&) const = default;
    } optim;

    struct SchedSection {
        std::string name = "cosine"; // constant | linear | cosine
        int64_t warmup_steps = 0;
        double warmup_ratio = 0.0; // of the total steps; exclusive with warmup_steps > 0
        double min_lr_ratio = 0.0; // the floor of the decay, as a fraction of optim.lr
        bool operator==(const SchedSection&) const = default;
    } sched;

    struct EvalSection {
        int64_t every = 0;       // 0: only at the end
        int64_t max_batches = 0; // 0: every validation batch
        bool operator==(const EvalSection&) const = default;
    } eval;

    struct CheckpointSection {
        int64_t every = 0; // 0: only at the end
        int keep = 2;      // newest checkpoints kept on disk
        bool operator==(const CheckpointSection&) const = default;
    } checkpoint;

    struct LogSection {
        int64_t every = 1;
        bool operator==(const LogSection&) const = default;
    } log;

    // [curate]: the settings of `slimtune curate` (train/curate_keys.cpp); training ignores
    // them.
    data::curate::CurateConfig curate;

    // The resolved recipe as INI text (every key, one section each): what `--print-config`
    // shows and what checkpoints and output_dir/recipe.ini store. Parsing it back gives an
    // equal Recipe (but for `source`).
    // `only_section` (e.g. "curate") limits it to one section.
    std::string to_ini(const std::string& only_section = "") const;

    // Equal source and equal values of every key.
    bool operator==(const Recipe&) const;
};

// What a recipe is loaded for: training needs model.path and data.train; curation reads the
// [curate] section and ignores the training keys' requirements.
enum class RecipeUse { train, curate };

// Reads `path` and applies `overrides` ("--section.key value" or "--section.key=value" tokens,
// which win over the file), then checks ranges, exclusive keys and that model.path,
// data.train, data.validation and lora.init exist.
// For RecipeUse::curate, `path` may be "" (the defaults plus the overrides).
Recipe load_recipe(const std::string& path,
                   const std::vector<std::string>& overrides = {},
                   RecipeUse use = RecipeUse::train);

// Every curate.* key with its value as text: what the curation report and manifest record.
nlohmann::json curate_settings(const Recipe& r);

// One line per key: "section.key = default  # type range: what it does".
std::vector<std::string> recipe_keys();

// The files a run of `r` writes, one per line.
std::string describe_outputs(const Recipe& r);

} // namespace slimtune::train
