// Shared by the fuzz harnesses: the input as a file (for readers that take a path), and the one
// rule every harness checks: a bad input may only end in slimtune::Error (the CLI's one-line
// message); any other exception escaping a reader is a finding, as are crashes, hangs, leaks
// and out-of-memory (libFuzzer and the sanitizers report those).
#pragma once

#include "common/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <typeinfo>
#include <unistd.h>

namespace slimtune::fuzz {

// `bytes` written to `name` in a directory of this process's own (the same path each run, so a
// reader sees a fresh file every time).
inline std::string input_file(const uint8_t* data, size_t size, const std::string& name) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("slimtune-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Runs `read` on one input: slimtune::Error is the expected way to refuse it; anything else
// escaping aborts, so that libFuzzer keeps the input and the replay test fails on it.
template <class F> int guarded(F&& read) {
    try {
        read();
    } catch (const Error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz: a %s escaped (not a slimtune::Error): %s\n", typeid(e).name(),
                     e.what());
        std::abort();
    }
    return 0;
}

} // namespace slimtune::fuzz
