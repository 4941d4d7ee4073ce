#include "train/commands/cli_util.h"

#include "common/error.h"

#include <iostream>
#include <omp.h>

namespace slimtune::train {

namespace po = boost::program_options;

bool parse_options(const std::vector<std::string>& args,
                   po::options_description& opts,
                   po::variables_map& vm,
                   const po::positional_options_description* positional) {
    opts.add_options()("help,h", "show this help");
    auto parser = po::command_line_parser(args).options(opts);
    if (positional)
        parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
        std::cout << opts;
        return false;
    }
    po::notify(vm);
    return true;
}

void set_threads(int threads) {
    if (threads < 0)
        throw ConfigError("--threads must be >= 0");
    if (threads > 0)
        omp_set_num_threads(threads);
}

} // namespace slimtune::train
