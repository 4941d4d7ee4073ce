// slimtune curate INPUT.jsonl [MORE.jsonl ...] --out DIR [--recipe RECIPE.ini]
//                 [--curate.KEY VALUE ...] [--on-bad-line skip] [--threads N] [--print-config]
#include "common/error.h"
#include "data/curate/pipeline.h"
#include "train/commands/commands.h"
#include "train/recipe.h"

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

namespace slimtune::train {

namespace {

constexpr const char* kCurateUsage =
    "usage: slimtune curate INPUT.jsonl [MORE.jsonl ...] --out DIR [--recipe RECIPE.ini]\n"
    "                       [--curate.KEY VALUE ...] [--on-bad-line error|skip] [--threads N]\n"
    "                       [--print-config]\n"
    "\n"
    "Runs the curation stages (normalize, length, quality, repetition, fineweb, exact and near\n"
    "dedup, PII, toxicity, bias) over JSONL datasets and writes DIR/curated.jsonl,\n"
    "rejected.jsonl, decisions.jsonl, report.json, report.md and manifest.json. Settings come\n"
    "from the recipe's [curate] section, then from --curate.KEY options; without a recipe the\n"
    "documented defaults apply. --print-config shows every stage's settings and exits.\n"
    "`slimtune train` accepts only data that a manifest vouches for.\n\nkeys:\n";

std::string
value_after(const std::vector<std::string>& args, std::size_t& i, const std::string& flag) {
    if (i + 1 >= args.size())
        throw ConfigError(flag + " needs a value");
    return args[++i];
}

} // namespace

int run_curate(const std::vector<std::string>& args) {
    std::vector<std::string> inputs, overrides;
    std::string out_dir, recipe_path;
    bool print_config = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kCurateUsage, stdout);
            for (const std::string& k : recipe_keys())
                if (k.rfind("curate.", 0) == 0)
                    std::printf("  %s\n", k.c_str());
            return 0;
        }
        if (a == "--print-config") {
            print_config = true;
        } else if (a == "--out" || a.rfind("--out=", 0) == 0) {
            out_dir = a == "--out" ? value_after(args, i, a) : a.substr(6);
        } else if (a == "--recipe" || a.rfind("--recipe=", 0) == 0) {
            recipe_path = a == "--recipe" ? value_after(args, i, a) : a.substr(9);
        } else if (a == "--threads" || a == "--on-bad-line") {
            overrides.push_back(a == "--threads" ? "--curate.threads" : "--curate.on_bad_line");
            overrides.push_back(value_after(args, i, a));
        } else if (a.rfind("--curate.", 0) == 0) {
            overrides.push_back(a);
            if (a.find('=') == std::string::npos)
                overrides.push_back(value_after(args, i, a));
        } else if (a.rfind("--", 0) == 0) {
            throw ConfigError("curate: unknown option '" + a +
                              "' (settings are --curate.KEY VALUE; see slimtune curate --help)");
        } else {
            inputs.push_back(a);
        }
    }
    const Recipe recipe = load_recipe(recipe_path, overrides, RecipeUse::curate);
    if (print_config) {
        std::cout << recipe.to_ini("curate");
        return 0;
    }
    if (inputs.empty() || out_dir.empty()) {
        std::fputs(kCurateUsage, stderr);
        return 2;
    }
    data::curate::CurateRunOptions run{.version = SLIMTUNE_VERSION_STRING,
                                       .settings = curate_settings(recipe),
                                       .progress = &std::cerr};
    const data::curate::CurateSummary s =
        data::curate::curate_files(inputs, out_dir, recipe.curate, run);
    std::printf("curated %lld of %lld documents into %s/curated.jsonl (%.1f MB/s); report: "
                "%s/report.md\n",
                static_cast<long long>(s.documents_out), static_cast<long long>(s.documents_in),
                out_dir.c_str(),
                s.seconds > 0 ? static_cast<double>(s.bytes_in) / 1e6 / s.seconds : 0.0,
                out_dir.c_str());
    return 0;
}

} // namespace slimtune::train
