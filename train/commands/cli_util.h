// Helpers shared by the CLI commands: option parsing with --help, thread count.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace slimtune::train {

// Parses `args` into `vm` (adding -h/--help); returns false when help was printed.
bool parse_options(
    const std::vector<std::string>& args,
    boost::program_options::options_description& opts,
    boost::program_options::variables_map& vm,
    const boost::program_options::positional_options_description* positional = nullptr);

// --threads N: 0 keeps OMP_NUM_THREADS / the default; negative is a ConfigError.
void set_threads(int threads);

} // namespace slimtune::train
