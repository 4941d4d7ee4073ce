#include "train/commands/cli_util.h"

#include "common/error.h"

#include <iostream>
#include <omp.h>

namespace slimtune::train {

namespace po = boost::program_options;

bool parse_options(const std::vector<std::string>& args,
                   po::options_description& opts,
                   po::variables_map& vm,
                   const po::positional_options_description* positional,
                   std::vector<std::string>* recipe_overrides,
                   const std::string& override_prefix) {
    opts.add_options()("help,h", "show this help");
    auto parser = po::command_line_parser(args).options(opts);
    if (positional)
        parser.positional(*positional);
    if (recipe_overrides) {
        // A style parser that consumes the tokens it takes and returns no option: Boost then
        // moves on to the next token.
        parser.extra_style_parser([&](std::vector<std::string>& tokens) {
            const std::string& t = tokens.front();
            const std::string key =
                t.size() > 2 && t.starts_with("--") ? t.substr(2, t.find('=') - 2) : std::string();
            const bool is_override =
                !key.empty() && key.starts_with(override_prefix) && !opts.find_nothrow(key, false);
            if (is_override) {
                const bool inline_value = t.find('=') != std::string::npos;
                recipe_overrides->push_back(t);
                size_t used = 1;
                if (!inline_value && tokens.size() > 1) {
                    recipe_overrides->push_back(tokens[1]);
                    used = 2;
                }
                tokens.erase(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(used));
            }
            return std::vector<po::option>{};
        });
    }
    try {
        po::store(parser.run(), vm);
    } catch (const po::unknown_option& e) {
        if (!recipe_overrides)
            throw;
        throw ConfigError("unknown option '" + e.get_option_name() + "' (settings are --" +
                          override_prefix + "KEY VALUE; see --help)");
    }
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
