// The subcommands of the `slimtune` CLI. Each takes the arguments after its name, returns the
// process exit code, and lets library exceptions propagate to main(), which prints them.
#pragma once

#include <string>
#include <vector>

namespace slimtune::train {

int run_demo(const std::vector<std::string>& args);
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

} // namespace slimtune::train
