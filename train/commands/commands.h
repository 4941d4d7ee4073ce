// The subcommands of the `slimtune` CLI. Each takes the arguments after its name, returns the
// process exit code, and lets library exceptions propagate to main(), which prints them.
#pragma once

#include <string>
#include <vector>

namespace slimtune::train {

int run_quickstart_command(const std::vector<std::string>& args);
int run_report(const std::vector<std::string>& args);
int run_logits(const std::vector<std::string>& args);
int run_eval(const std::vector<std::string>& args);
int run_generate(const std::vector<std::string>& args);
int run_inspect(const std::vector<std::string>& args);
int run_tokenize(const std::vector<std::string>& args);
int run_tokenizer_train(const std::vector<std::string>& args);
int run_chat_template(const std::vector<std::string>& args);
int run_train(const std::vector<std::string>& args);
int run_curate(const std::vector<std::string>& args);
int run_export(const std::vector<std::string>& args);
int run_init(const std::vector<std::string>& args);
int run_corpus(const std::vector<std::string>& args);
int run_help(const std::vector<std::string>& args);

// One subcommand: its name, what it does in a line, and its entry point.
struct Command {
    const char* name;
    const char* summary;
    int (*run)(const std::vector<std::string>& args);
};

// Every subcommand, in the order `slimtune --help` and the man page list them: the one table
// that dispatch, usage, the man page and the shell completion are made from.
const std::vector<Command>& commands();

// The command called `name`, or nullptr.
const Command* find_command(const std::string& name);

// `slimtune --help`: the commands and their one-line summaries.
std::string usage_text();

} // namespace slimtune::train
