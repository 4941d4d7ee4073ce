// llama.cpp as an independent oracle: its libggml-base.so and libllama.so from the npm package
// @node-llama-cpp/linux-x64 (installed by scripts/npm-reference.sh into tests/reference/
// node_modules), opened with dlopen. Tests declare the few C prototypes they call themselves and
// look the functions up here; no llama.cpp source or header is part of slimtune.
#pragma once

#include <string>

namespace slimtune::test {

// The directory holding the prebuilt libraries ("" when the package is not installed).
std::string llama_cpp_lib_dir();

// The address of `symbol` in libggml-base.so (library "ggml-base") or libllama.so ("llama"),
// opened once; throws std::runtime_error naming the library or the symbol when missing.
void* llama_cpp_symbol(const std::string& library, const char* symbol);

// Typed lookup: auto f = llama_cpp_fn<size_t (*)(int, const float*, ...)>("ggml-base", "name").
template <class F> F llama_cpp_fn(const std::string& library, const char* symbol) {
    return reinterpret_cast<F>(llama_cpp_symbol(library, symbol));
}

} // namespace slimtune::test
