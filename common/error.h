// Errors thrown by the slimtune library. The CLI catches them once, prints the message on one
// line and exits non-zero; library code never calls exit().
// Message format: "<where>: <what>; expected <X>, got <Y>".
#pragma once

#include <stdexcept>
#include <string>

namespace slimtune {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// A bad or corrupt file: safetensors, GGUF, JSONL, tokenizer.json, checkpoint.
struct FormatError : Error {
    using Error::Error;
};
// A recipe, CLI option, config.json or manifest that does not make sense.
struct ConfigError : Error {
    using Error::Error;
};
// A command line or recipe that does not make sense: an unknown option or key, a value out of
// range, settings that contradict each other. The CLI exits 2 for these and 1 for other errors.
struct UsageError : ConfigError {
    using ConfigError::ConfigError;
};
// API misuse at an op's entry: shapes or dtypes that do not fit together.
struct ShapeError : Error {
    using Error::Error;
};
// A non-finite loss or gradient.
struct NumericsError : Error {
    using Error::Error;
};

// Invariants that are bugs, not user errors: stays on in release builds, reports file:line.
[[noreturn]] void assert_fail(const char* cond, const char* file, int line, const std::string& msg);

} // namespace slimtune

#define SLIMTUNE_ASSERT(cond, msg)                                                                 \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::slimtune::assert_fail(#cond, __FILE__, __LINE__, (msg));                             \
    } while (0)
