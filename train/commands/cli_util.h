// Helpers shared by the CLI commands: option parsing with --help (Boost.Program_options, the
// one way every command parses), recipe overrides, the process-wide thread count, and the
// description of a command's options that the man page and the shell completion are made from.
#pragma once

#include "common/error.h"

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace slimtune::train {

// Parses `args` into `vm` (adding -h/--help); returns false when help was printed.
// With `recipe_overrides`, every "--KEY VALUE" or "--KEY=VALUE" whose KEY starts with
// `override_prefix` ("" : any KEY) and is not one of `opts` is collected there in order, as
// load_recipe takes them ("--lora.rank 16"), and any other unknown option is a UsageError;
// --help then also lists the recipe keys by group (key names only) and --help-all every key
// with its default, its values and what it does.
bool parse_options(
    const std::vector<std::string>& args,
    boost::program_options::options_description& opts,
    boost::program_options::variables_map& vm,
    const boost::program_options::positional_options_description* positional = nullptr,
    std::vector<std::string>* recipe_overrides = nullptr,
    const std::string& override_prefix = "");

// The value of --`option` read by a library parser (`parse`): its ConfigError becomes a
// UsageError, since the bad value came from the command line (exit 2).
template <class Parse>
auto option_value(const std::string& option, Parse&& parse) -> decltype(parse()) {
    try {
        return parse();
    } catch (const UsageError&) {
        throw;
    } catch (const ConfigError& e) {
        throw UsageError("--" + option + ": " + e.what());
    }
}

// The most --threads accepted: above any machine slimtune runs on (a 2-socket server has 256
// hardware threads), far below what crashes the OpenMP runtime.
inline constexpr int kMaxThreads = 1024;
// --threads N: 0 keeps OMP_NUM_THREADS / the default; outside 0..kMaxThreads is a UsageError.
// The one place the process's OpenMP thread count is set: library code never changes it.
void set_threads(int threads);

// What a command accepts, as its parse_options call declares it.
struct OptionDoc {
    std::string name;      // long name, without "--"
    std::string parameter; // "arg (=300)" as --help shows it; "" for a switch
    std::string description;
};
struct CommandSyntax {
    std::string caption;            // the usage text the command gives its options
    std::vector<OptionDoc> options; // in declaration order, --help last
    std::string positional;         // the option that positional arguments fill, or ""
    bool takes_recipe_keys = false; // also --section.key VALUE ...
    std::string recipe_prefix;      // ... of keys starting with this ("" : every key)
};

// Runs `command` in describe mode: its parse_options call records the options and ends the
// command before it does anything.
CommandSyntax describe_command(int (*command)(const std::vector<std::string>&));

// The recipe keys whose names start with `prefix`, grouped by the part before their last dot
// ("lora", "curate.quality"): with `all`, one entry per key (default, values, help), else the
// key names of each group on wrapped lines.
std::string recipe_keys_help(const std::string& prefix, bool all);

} // namespace slimtune::train
