// Helpers shared by the CLI commands: option parsing with --help (Boost.Program_options, the
// one way every command parses), recipe overrides, and the process-wide thread count.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace slimtune::train {

// Parses `args` into `vm` (adding -h/--help); returns false when help was printed.
// With `recipe_overrides`, every "--KEY VALUE" or "--KEY=VALUE" whose KEY starts with
// `override_prefix` ("" : any KEY) and is not one of `opts` is collected there in order, as
// load_recipe takes them ("--lora.rank 16"), and any other unknown option is a ConfigError.
bool parse_options(
    const std::vector<std::string>& args,
    boost::program_options::options_description& opts,
    boost::program_options::variables_map& vm,
    const boost::program_options::positional_options_description* positional = nullptr,
    std::vector<std::string>* recipe_overrides = nullptr,
    const std::string& override_prefix = "");

// --threads N: 0 keeps OMP_NUM_THREADS / the default; negative is a ConfigError. The one place
// the process's OpenMP thread count is set: library code never changes it.
void set_threads(int threads);

} // namespace slimtune::train
