// llama.cpp's shared libraries (libllama, libggml, libggml-base), opened at run time with
// dlopen. slimtune neither links against llama.cpp nor ships any of it: where a user has the
// libraries (a llama.cpp build, or the prebuilt ones of the npm package
// @node-llama-cpp/linux-x64 that the tests use), `slimtune quickstart` also generates with
// llama.cpp itself, and the tests use it as an independent oracle. Callers declare the few C
// prototypes they call and look the functions up here; no llama.cpp header is used.
#pragma once

#include <string>

namespace slimtune::llama_cpp {

// Opens the libraries from `dir` (the directory holding libllama.so, or the versioned
// libllama.v<N>.so of the npm package, beside its ggml libraries), or through the dynamic
// loader's search path when `dir` is empty. Once per process: a later call with the same `dir`
// does nothing, one with another throws. std::runtime_error naming the file that cannot be
// loaded and why.
void open(const std::string& dir);

// The directory open() was given ("" for the loader's path, or before open()).
std::string directory();

// The address of `symbol` in library "llama", "ggml" or "ggml-base"; throws std::runtime_error
// when the libraries are not open or the symbol is missing.
void* symbol(const std::string& library, const char* symbol);

// Typed lookup: auto f = fn<size_t (*)(int, const float*, ...)>("ggml-base", "name").
template <class F> F fn(const std::string& library, const char* name) {
    return reinterpret_cast<F>(symbol(library, name));
}

} // namespace slimtune::llama_cpp
