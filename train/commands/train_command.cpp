// slimtune train RECIPE.ini [--section.key value ...] [--resume RUN_DIR] [--print-config]
//                [--stop-after N]
#include "common/error.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/recipe.h"
#include "train/run.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace slimtune::train {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

constexpr const char* kTrainUsage =
    "usage: slimtune train RECIPE.ini [--section.key value ...] [--resume RUN_DIR] "
    "[--print-config] [--stop-after N]\n"
    "       slimtune train --resume RUN_DIR      (continues with the run's own recipe.ini)\n"
    "\n"
    "Fine-tunes a Hugging Face model (LoRA or full) as the recipe says; every recipe key can be\n"
    "overridden on the command line (--lora.rank 16). --print-config shows the resolved recipe\n"
    "and the files the run writes, and exits. Ctrl-C saves a checkpoint and stops; --resume\n"
    "continues bit-exactly from the newest checkpoint of RUN_DIR. --stop-after N stops (with a\n"
    "checkpoint) after N steps of this invocation, for time-boxed runs.\n";

// Set by Ctrl-C; the run checks it after every step.
std::atomic<bool> g_stop_requested{false};

void on_sigint(int) {
    g_stop_requested = true;
    std::signal(SIGINT, SIG_DFL); // a second Ctrl-C ends the process at once
}

} // namespace

int run_train(const std::vector<std::string>& args) {
    std::string recipe_path, resume_dir;
    bool print_config = false;
    int64_t stop_after = 0;
    std::vector<std::string> overrides;
    po::options_description opts(std::string(kTrainUsage) + "\noptions");
    opts.add_options()("recipe", po::value(&recipe_path), "the recipe file (INI)")(
        "resume", po::value(&resume_dir), "continue the run in this directory")(
        "print-config", po::bool_switch(&print_config), "show the resolved recipe and exit")(
        "stop-after", po::value(&stop_after), "stop with a checkpoint after N steps");
    po::positional_options_description positional;
    positional.add("recipe", 1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &positional, &overrides)) {
        std::puts("\nrecipe keys (--section.key value):");
        for (const std::string& k : recipe_keys())
            std::printf("  %s\n", k.c_str());
        return 0;
    }
    if (vm.count("stop-after") && stop_after < 1)
        throw ConfigError("--stop-after must be a number of steps >= 1");
    if (recipe_path.empty()) {
        if (resume_dir.empty()) {
            std::fputs(kTrainUsage, stderr);
            return 2;
        }
        recipe_path = (fs::path(resume_dir) / "recipe.ini").string();
    }
    if (!resume_dir.empty()) {
        overrides.push_back("--train.output_dir");
        overrides.push_back(resume_dir);
    }
    const Recipe recipe = load_recipe(recipe_path, overrides);
    if (print_config) {
        std::cout << recipe.to_ini() << "\n# files this run writes:\n" << describe_outputs(recipe);
        return 0;
    }
    set_threads(recipe.train.threads);
    g_stop_requested = false;
    std::signal(SIGINT, on_sigint);
    const RunControl control{
        .resume = !resume_dir.empty(), .stop_after = stop_after, .stop = &g_stop_requested};
    const RunResult r = run_training(recipe, control, std::cout);
    std::signal(SIGINT, SIG_DFL);
    if (r.interrupted) {
        std::printf("stopped at step %lld; continue with: slimtune train --resume %s\n",
                    static_cast<long long>(r.steps), recipe.train.output_dir.c_str());
        return 130;
    }
    std::printf("trained %lld steps; last loss %.4f%s\n", static_cast<long long>(r.steps),
                r.last_loss,
                r.eval_loss ? (", validation loss " + std::to_string(*r.eval_loss)).c_str() : "");
    return 0;
}

} // namespace slimtune::train
