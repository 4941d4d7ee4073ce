// slimtune curate INPUT.jsonl [MORE.jsonl ...] --out DIR [--recipe RECIPE.ini]
//                 [--profile sft|pretrain] [--curate.KEY VALUE ...] [--on-bad-line skip]
//                 [--threads N] [--print-config]
#include "common/error.h"
#include "data/curate/pipeline.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/curate_keys.h"
#include "train/recipe.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

namespace slimtune::train {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

constexpr const char* kCurateUsage =
    "usage: slimtune curate INPUT.jsonl [MORE.jsonl ...] --out DIR [--recipe RECIPE.ini]\n"
    "                       [--profile sft|pretrain] [--curate.KEY VALUE ...]\n"
    "                       [--on-bad-line error|skip] [--threads N] [--print-config]\n"
    "\n"
    "Runs the curation stages (normalize, length, quality, repetition, fineweb, exact and near\n"
    "dedup, PII, toxicity, bias) over JSONL datasets and writes DIR/curated.jsonl,\n"
    "rejected.jsonl, decisions.jsonl, report.json, report.md and manifest.json, PII redacted in\n"
    "every one. Settings start from a profile (sft for instruction and chat data, pretrain for\n"
    "web text; by default chosen from the record format), then the recipe's [curate] section,\n"
    "then --curate.KEY options. --print-config shows the profile and every stage's settings\n"
    "and exits. `slimtune train` accepts only data that a manifest vouches for.\n";

} // namespace

int run_curate(const std::vector<std::string>& args) {
    std::vector<std::string> inputs, overrides;
    std::string out_dir, recipe_path, on_bad_line, profile;
    int threads = -1;
    bool print_config = false;
    po::options_description opts(std::string(kCurateUsage) + "\noptions");
    opts.add_options()("input", po::value(&inputs), "JSONL input files")("out", po::value(&out_dir),
                                                                         "the output directory")(
        "recipe", po::value(&recipe_path), "a recipe whose [curate] section applies")(
        "profile", po::value(&profile),
        "sft or pretrain (curate.profile; default: from the record format)")(
        "threads", po::value(&threads), "CPU threads (curate.threads); 0: all cores")(
        "on-bad-line", po::value(&on_bad_line), "error or skip (curate.on_bad_line)")(
        "print-config", po::bool_switch(&print_config), "show every stage's settings and exit");
    po::positional_options_description positional;
    positional.add("input", -1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &positional, &overrides, "curate."))
        return 0;
    if (vm.count("threads"))
        overrides.insert(overrides.end(), {"--curate.threads", std::to_string(threads)});
    if (vm.count("on-bad-line"))
        overrides.insert(overrides.end(), {"--curate.on_bad_line", on_bad_line});
    if (vm.count("profile"))
        overrides.insert(overrides.end(), {"--curate.profile", profile});
    const CurateRecipe chosen = load_curate_recipe(recipe_path, overrides, inputs);
    const Recipe& recipe = chosen.recipe;
    const std::string profile_line =
        "profile " + chosen.profile.profile + " (" + chosen.profile.reason + ")";
    if (print_config) {
        std::cout << "# " << profile_line << "\n" << recipe.to_ini("curate");
        return 0;
    }
    if (inputs.empty() || out_dir.empty()) {
        std::fputs(kCurateUsage, stderr);
        return 2;
    }
    std::cerr << "curate: " << profile_line << "\n";
    set_threads(recipe.curate.threads);
    data::curate::CurateRunOptions run{.version = SLIMTUNE_VERSION_STRING,
                                       .settings = curate_settings(recipe),
                                       .progress = &std::cerr};
    const data::curate::CurateSummary s =
        data::curate::curate_files(inputs, out_dir, recipe.curate, run);
    const fs::path out(out_dir);
    std::printf("curated %lld of %lld documents into %s (%.1f MB/s); report: %s\n",
                static_cast<long long>(s.documents_out), static_cast<long long>(s.documents_in),
                (out / "curated.jsonl").lexically_normal().c_str(),
                s.seconds > 0 ? static_cast<double>(s.bytes_in) / 1e6 / s.seconds : 0.0,
                (out / "report.md").lexically_normal().c_str());
    return 0;
}

} // namespace slimtune::train
