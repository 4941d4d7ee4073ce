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
#include "data/training_data.h"
#include "train/trainer.h"

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace slimtune::train {

// A recipe is the configuration of a run, made of the library's own config structs: the key
// table (train/recipe.cpp) binds each INI key straight to a field of them, so a setting exists
// once, from the file to the code that uses it.
struct Recipe {
    std::string source; // the recipe file it was read from

    struct ModelSection {
        std::string path; // a Hugging Face model directory (config.json + *.safetensors)
        // Its Hugging Face Hub id, for the model card and adapter_config.json; "" : config.json's
        // _name_or_path when that is one (train/provenance.h describe_base_model).
        std::string name;
    } model;

    // [data], and the packing keys of [train] (batch_size, seq_len, packing).
    data::TrainingDataConfig data;

    // [lora], [optim], [sched], and train.mode, train.trainable, train.seed. The recipe's
    // defaults where they differ from the library's: a little adapter dropout, and adapters on
    // the query and value projections (PEFT's classic choice).
    TrainerConfig trainer{.lora = {.dropout = 0.05, .targets = {"q_proj", "v_proj"}}};

    // How long the run goes and where it writes.
    struct TrainSection {
        int64_t max_steps = 0; // 0: from epochs
        double epochs = 1.0;
        int64_t grad_accum = 1; // micro-batches per optimizer step
        int threads = 0;        // 0: all cores (a process setting: the CLI applies it)
        std::string output_dir; // resolved: "runs/<recipe file stem>" when not given
    } train;

    struct EvalSection {
        int64_t every = 0;          // 0: only at the end
        int64_t max_batches = 0;    // 0: every validation batch
        int64_t samples = 0;        // held-out prompts continued at each evaluation (samples.jsonl)
        int64_t sample_tokens = 48; // new tokens per sample, at most
        // Stop when the validation loss has not improved (by more than min_delta) for this
        // many evaluations; 0: never.
        int64_t early_stopping_patience = 0;
        double early_stopping_min_delta = 0.0;
    } eval;

    struct CheckpointSection {
        int64_t every = 0;      // 0: only at the end
        int keep = 2;           // newest checkpoints kept on disk
        bool keep_best = false; // also keep the checkpoint of the best validation loss
    } checkpoint;

    struct LogSection {
        int64_t every = 1;
    } log;

    // [curate]: the settings of `slimtune curate` (train/curate_keys.cpp); training ignores
    // them. The profile is chosen from the records unless a recipe names it.
    data::curate::CurateConfig curate{.profile = "auto"};

    // The resolved recipe as INI text (every key, one section each): what `--print-config`
    // shows and what checkpoints and output_dir/recipe.ini store. Parsing it back gives an
    // equal Recipe (but for `source`).
    // `only_section` (e.g. "curate") limits it to one section.
    std::string to_ini(const std::string& only_section = "") const;

    // Equal source and equal values of every key.
    bool operator==(const Recipe&) const;
};

// What a recipe is loaded for: training needs model.path and data.train; describing a run
// (train --print-config) checks every rule but the existence of its files; curation reads the
// [curate] section and ignores the training keys' requirements.
enum class RecipeUse { train, describe, curate };

// Reads `path` and applies `overrides` ("--section.key value" or "--section.key=value" tokens,
// which win over the file), then checks ranges, the cross-key rules of the libraries the keys
// belong to (optim::check_optimizer, optim::check_schedule) and that model.path, data.train,
// data.validation and lora.init exist.
// For RecipeUse::curate, `path` may be "" (the defaults plus the overrides). The keys apply on
// top of `*defaults` (curate: the chosen profile's values), or of Recipe{} when null. (A
// pointer, not a `= {}` default argument: GCC 12 under -fsanitize warns about that temporary's
// std::map members as maybe-uninitialized.)
Recipe load_recipe(const std::string& path,
                   const std::vector<std::string>& overrides = {},
                   RecipeUse use = RecipeUse::train,
                   const Recipe* defaults = nullptr);

// A recipe from INI text as to_ini writes it (what a checkpoint stores): each known key set as
// written, a key this version does not know ignored (one from another version), and no check
// of paths or of the rules between keys. ConfigError naming `source` for a bad value.
Recipe recipe_from_ini(const std::string& text, const std::string& source);

// A key whose value differs between two recipes, as to_ini prints the values.
struct KeyChange {
    std::string key, before, after;
};
// Every key whose value differs from `before` to `after`, in key order.
std::vector<KeyChange> recipe_differences(const Recipe& before, const Recipe& after);

// Every curate.* key with its value as text, named as in the [curate] section
// ("quality.min_words"): what the curation report and manifest record.
nlohmann::json curate_settings(const Recipe& r);

// A recipe section ("lora") and what its keys configure, in the order of to_ini.
struct RecipeSection {
    std::string name, what;
};
const std::vector<RecipeSection>& recipe_sections();

// One key as --help, the man page and the shell completion show it: "lora.rank", its section,
// its default as text, the values it takes ("an integer > 0") and what it does.
struct RecipeKeyDoc {
    std::string section, name, default_value, expected, help;
};
// Every key, in section order.
std::vector<RecipeKeyDoc> recipe_key_docs();

} // namespace slimtune::train
