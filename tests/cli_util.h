// Runs a `slimtune` subcommand in-process (train/commands/commands.h) and returns what it wrote
// to std::cout: its result. What it writes to std::cerr (progress, messages) goes to
// `messages_out` when given (also when the command throws), else stays out of the test log
// (shown when the command returns non-zero).
#pragma once

#include <catch2/catch.hpp>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace slimtune::test {

inline std::string run_cli(int (*command)(const std::vector<std::string>&),
                           const std::vector<std::string>& args,
                           std::string* messages_out = nullptr) {
    std::ostringstream out, messages;
    std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
    std::streambuf* old_err = std::cerr.rdbuf(messages.rdbuf());
    auto restore = [&] {
        std::cout.rdbuf(old_out);
        std::cerr.rdbuf(old_err);
        if (messages_out)
            *messages_out = messages.str();
    };
    int rc = -1;
    try {
        rc = command(args);
    } catch (...) {
        restore();
        throw;
    }
    restore();
    INFO(messages.str());
    REQUIRE(rc == 0);
    return out.str();
}

} // namespace slimtune::test
