// slimtune: the command-line entry point. Thin on purpose: it picks the subcommand and turns
// every error into one line on stderr and a non-zero exit code.
#include "common/error.h"
#include "common/process.h"
#include "train/commands/commands.h"

#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
    using namespace slimtune;
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::fputs(train::usage_text().c_str(), argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    keep_freed_memory_resident();
    const std::string name = argv[1];
    if (name == "version" || name == "--version") {
        std::printf("slimtune %s\n", SLIMTUNE_VERSION);
        return 0;
    }
    const train::Command* command = train::find_command(name);
    if (!command) {
        std::fprintf(stderr, "slimtune: unknown command '%s' (run 'slimtune --help')\n",
                     name.c_str());
        return 2;
    }
    try {
        return command->run(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const boost::program_options::error& e) {
        std::fprintf(stderr, "slimtune %s: %s\n", name.c_str(), e.what());
        return 2;
    } catch (const UsageError& e) {
        std::fprintf(stderr, "slimtune %s: %s\n", name.c_str(), e.what());
        return 2;
    } catch (const Error& e) {
        std::fprintf(stderr, "slimtune %s: %s\n", name.c_str(), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "slimtune %s: unexpected error: %s\n", name.c_str(), e.what());
        return 1;
    }
}
