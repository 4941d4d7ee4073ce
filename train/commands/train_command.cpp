// slimtune train RECIPE.ini [--section.key value ...] [--resume RUN_DIR] [--print-config]
#include "common/error.h"
#include "train/commands/commands.h"
#include "train/recipe.h"
#include "train/run.h"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace slimtune::train {

namespace fs = std::filesystem;

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

void on_sigint(int) {
    request_stop();
    std::signal(SIGINT, SIG_DFL); // a second Ctrl-C ends the process at once
}

RunConfig run_config_of(const Recipe& r) {
    RunConfig c;
    c.model_path = r.model.path;
    c.train_file = r.data.train;
    c.validation_file = r.data.validation;
    c.validation_split = r.data.validation_split;
    c.shuffle = r.data.shuffle;
    c.text_field = r.data.text_field;
    c.format = r.data.format;
    c.role_map = r.data.role_map;
    c.train_on_all = r.data.train_on == "all";
    c.skip_bad_lines = r.data.on_bad_line == "skip";
    c.drop_overlong = r.data.overlong == "drop";
    c.manifest = r.data.manifest;
    c.chat_template = r.data.chat_template;
    c.lora_init = r.lora.init;
    TrainerConfig& t = c.trainer;
    t.mode = r.train.mode;
    t.lora.rank = r.lora.rank;
    t.lora.alpha = r.lora.alpha;
    t.lora.dropout = r.lora.dropout;
    t.lora.rslora = r.lora.rslora;
    t.lora.targets = r.lora.targets;
    t.lora.target_regex = r.lora.target_regex;
    t.lora.layers = r.lora.layers;
    t.lora.rank_pattern = r.lora.rank_pattern;
    t.lora.alpha_pattern = r.lora.alpha_pattern;
    if (!t.lora.target_regex.empty())
        t.lora.targets.clear();
    t.trainable = r.train.trainable;
    t.optimizer.name = r.optim.name;
    t.optimizer.lr = r.optim.lr;
    t.optimizer.beta1 = r.optim.betas[0];
    t.optimizer.beta2 = r.optim.betas[1];
    t.optimizer.eps = r.optim.eps;
    t.optimizer.weight_decay = r.optim.weight_decay;
    t.optimizer.momentum = r.optim.momentum;
    t.schedule.name = r.sched.name;
    t.schedule.warmup_steps = r.sched.warmup_steps;
    t.schedule.min_lr_ratio = r.sched.min_lr_ratio;
    t.max_grad_norm = r.optim.max_grad_norm;
    t.seed = r.train.seed;
    c.warmup_ratio = r.sched.warmup_ratio;
    c.max_steps = r.train.max_steps;
    c.epochs = r.train.epochs;
    c.batch_size = r.train.batch_size;
    c.seq_len = r.train.seq_len;
    c.grad_accum = r.train.grad_accum;
    c.packing = r.train.packing;
    c.threads = r.train.threads;
    c.output_dir = r.train.output_dir;
    c.eval_every = r.eval.every;
    c.eval_max_batches = r.eval.max_batches;
    c.checkpoint_every = r.checkpoint.every;
    c.checkpoint_keep = r.checkpoint.keep;
    c.log_every = r.log.every;
    c.recipe_text = r.to_ini();
    return c;
}

} // namespace

int run_train(const std::vector<std::string>& args) {
    std::string recipe_path, resume_dir;
    bool print_config = false;
    int64_t stop_after = 0;
    std::vector<std::string> overrides;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kTrainUsage, stdout);
            for (const std::string& k : recipe_keys())
                std::printf("  %s\n", k.c_str());
            return 0;
        }
        if (a == "--print-config") {
            print_config = true;
        } else if (a == "--resume") {
            if (i + 1 >= args.size())
                throw ConfigError("--resume needs a run directory");
            resume_dir = args[++i];
        } else if (a == "--stop-after") {
            if (i + 1 >= args.size())
                throw ConfigError("--stop-after needs a number of steps");
            try {
                stop_after = std::stoll(args[++i]);
            } catch (const std::exception&) {
                stop_after = -1;
            }
            if (stop_after < 1)
                throw ConfigError("--stop-after must be a number of steps >= 1");
        } else if (a.rfind("--resume=", 0) == 0) {
            resume_dir = a.substr(9);
        } else if (a.rfind("--", 0) == 0) {
            overrides.push_back(a);
            if (a.find('=') == std::string::npos && i + 1 < args.size())
                overrides.push_back(args[++i]);
        } else if (recipe_path.empty()) {
            recipe_path = a;
        } else {
            throw ConfigError("unexpected argument '" + a + "' (one recipe file only)");
        }
    }
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
    std::signal(SIGINT, on_sigint);
    RunConfig config = run_config_of(recipe);
    config.stop_after = stop_after;
    const RunResult r = run_training(config, !resume_dir.empty(), std::cout);
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
