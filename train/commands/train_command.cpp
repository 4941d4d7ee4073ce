// slimtune train RECIPE.ini [--section.key value ...] [--resume RUN_DIR] [--overwrite]
//                [--print-config] [--stop-after N]
#include "common/error.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/recipe.h"
#include "train/run.h"
#include "train/run_dir.h"

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
    "usage: slimtune train RECIPE.ini [--section.key value ...] [--resume RUN_DIR | --overwrite] "
    "[--print-config] [--stop-after N]\n"
    "       slimtune train --resume RUN_DIR      (continues with the run's own recipe.ini)\n"
    "\n"
    "Fine-tunes a Hugging Face model (LoRA or full) as the recipe says; every recipe key can be\n"
    "overridden on the command line (--lora.rank 16). --print-config shows the resolved recipe\n"
    "and the files the run writes, and exits. Ctrl-C or SIGTERM finishes the step, saves a\n"
    "checkpoint and exits with 130 or 143; --resume continues bit-exactly from the newest\n"
    "checkpoint of RUN_DIR (refusing a recipe change that alters the run). A new run needs an\n"
    "empty train.output_dir; --overwrite removes the files of the run that is there first.\n"
    "--stop-after N stops (with a checkpoint, exit 130) after N steps of this invocation, for\n"
    "time-boxed runs. Progress goes to standard error.\n";

// Set by SIGINT (Ctrl-C) or SIGTERM (Slurm, systemd, Kubernetes, kill); the run checks it after
// every step, writes a checkpoint and stops. The exit status is 128 + the signal's number.
std::atomic<bool> g_stop_requested{false};
volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
    g_stop_signal = sig;
    g_stop_requested = true;
    std::signal(sig, SIG_DFL); // the same signal again ends the process at once
}

// Routes SIGINT and SIGTERM to on_stop_signal while alive; restores the defaults after.
struct StopSignals {
    StopSignals() {
        g_stop_requested = false;
        g_stop_signal = 0;
        std::signal(SIGINT, on_stop_signal);
        std::signal(SIGTERM, on_stop_signal);
    }
    ~StopSignals() {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
};

} // namespace

int run_train(const std::vector<std::string>& args) {
    std::string recipe_path, resume_dir;
    bool print_config = false, overwrite = false;
    int64_t stop_after = 0;
    std::vector<std::string> overrides;
    po::options_description opts(std::string(kTrainUsage) + "\noptions");
    opts.add_options()("recipe", po::value(&recipe_path), "the recipe file (INI)")(
        "resume", po::value(&resume_dir), "continue the run in this directory")(
        "overwrite", po::bool_switch(&overwrite),
        "replace the run in train.output_dir (its own files only)")(
        "print-config", po::bool_switch(&print_config), "show the resolved recipe and exit")(
        "stop-after", po::value(&stop_after), "stop with a checkpoint after N steps")(
        "threads", po::value<std::string>(), "OpenMP threads (train.threads); 0: OMP_NUM_THREADS");
    po::positional_options_description positional;
    positional.add("recipe", 1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &positional, &overrides))
        return 0;
    if (overwrite && !resume_dir.empty())
        throw UsageError("--overwrite starts a new run and --resume continues one; give one");
    if (vm.count("stop-after") && stop_after < 1)
        throw UsageError("--stop-after must be a number of steps >= 1");
    if (recipe_path.empty()) {
        if (resume_dir.empty()) {
            std::fputs(kTrainUsage, stderr);
            return 2;
        }
        recipe_path = (fs::path(resume_dir) / "recipe.ini").string();
    }
    if (vm.count("threads"))
        overrides.insert(overrides.end(), {"--train.threads", vm["threads"].as<std::string>()});
    if (!resume_dir.empty()) {
        overrides.push_back("--train.output_dir");
        overrides.push_back(resume_dir);
    }
    const Recipe recipe =
        load_recipe(recipe_path, overrides, print_config ? RecipeUse::describe : RecipeUse::train);
    if (print_config) {
        std::cout << recipe.to_ini() << "\n# files this run writes:\n" << describe_outputs(recipe);
        return 0;
    }
    set_threads(recipe.train.threads);
    RunResult r;
    {
        const StopSignals signals;
        const RunControl control{.resume = !resume_dir.empty(),
                                 .overwrite = overwrite,
                                 .stop_after = stop_after,
                                 .stop = &g_stop_requested};
        r = run_training(recipe, control, std::cerr);
    }
    if (!r.nothing_to_do.empty()) {
        std::printf("%s\n", r.nothing_to_do.c_str());
        return 0;
    }
    if (r.interrupted) {
        const int sig = g_stop_signal;
        std::printf("stopped at step %lld%s; continue with: slimtune train --resume %s\n",
                    static_cast<long long>(r.steps),
                    sig == SIGTERM  ? " (SIGTERM)"
                    : sig == SIGINT ? " (Ctrl-C)"
                                    : "",
                    recipe.train.output_dir.c_str());
        return sig != 0 ? 128 + sig : 130;
    }
    std::printf("trained %lld steps; last loss %.4f%s\n", static_cast<long long>(r.steps),
                r.last_loss,
                r.eval_loss ? (", validation loss " + std::to_string(*r.eval_loss)).c_str() : "");
    return 0;
}

} // namespace slimtune::train
