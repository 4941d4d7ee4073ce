// slimtune curate INPUT.jsonl [MORE.jsonl ...] --out DIR [--recipe RECIPE.ini]
//                 [--curate.KEY VALUE ...] [--on-bad-line skip] [--threads N] [--print-config]
#include "common/error.h"
#include "data/curate/pipeline.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
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
    "                       [--curate.KEY VALUE ...] [--on-bad-line error|skip] [--threads N]\n"
    "                       [--print-config]\n"
    "\n"
    "Runs the curation stages (normalize, length, quality, repetition, fineweb, exact and near\n"
    "dedup, PII, toxicity, bias) over JSONL datasets and writes DIR/curated.jsonl,\n"
    "rejected.jsonl, decisions.jsonl, report.json, report.md and manifest.json. Settings come\n"
    "from the recipe's [curate] section, then from --curate.KEY options; without a recipe the\n"
    "documented defaults apply. --print-config shows every stage's settings and exits.\n"
    "`slimtune train` accepts only data that a manifest vouches for.\n";

} // namespace

int run_curate(const std::vector<std::string>& args) {
    std::vector<std::string> inputs, overrides;
    std::string out_dir, recipe_path, on_bad_line;
    int threads = -1;
    bool print_config = false;
    po::options_description opts(std::string(kCurateUsage) + "\noptions");
    opts.add_options()("input", po::value(&inputs), "JSONL input files")("out", po::value(&out_dir),
                                                                         "the output directory")(
        "recipe", po::value(&recipe_path), "a recipe whose [curate] section applies")(
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
    const Recipe recipe = load_recipe(recipe_path, overrides, RecipeUse::curate);
    if (print_config) {
        std::cout << recipe.to_ini("curate");
        return 0;
    }
    if (inputs.empty() || out_dir.empty()) {
        std::fputs(kCurateUsage, stderr);
        return 2;
    }
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
