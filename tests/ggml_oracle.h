// llama.cpp as an independent oracle: its libggml-base.so and libllama.so from the npm package
// @node-llama-cpp/linux-x64 (installed by scripts/npm-reference.sh into tests/reference/
// node_modules), opened with dlopen. Tests declare the few C prototypes they call themselves and
// look the functions up here; no llama.cpp source or header is part of slimtune.
#pragma once

#include <cstdint>
#include <string>

namespace slimtune::test {

// The directory holding the prebuilt libraries ("" when the package is not installed).
std::string llama_cpp_lib_dir();

// Opens the package's libraries (llama_cpp::open); throws std::runtime_error with the install
// command when the package is missing.
void open_llama_cpp();

// The address of `symbol` in libggml-base.so (library "ggml-base"), libggml.so ("ggml") or
// libllama.so ("llama"), opened once; throws std::runtime_error naming the library or the
// symbol when missing.
void* llama_cpp_symbol(const std::string& library, const char* symbol);

// Typed lookup: auto f = llama_cpp_fn<size_t (*)(int, const float*, ...)>("ggml-base", "name").
template <class F> F llama_cpp_fn(const std::string& library, const char* symbol) {
    return reinterpret_cast<F>(llama_cpp_symbol(library, symbol));
}

// llama.cpp's llama_model_quantize of `in` into `out`, as `llama-quantize [--pure] IN OUT FTYPE
// NTHREAD` runs it (ftype: a llama_ftype, io::llama_file_type). Returns the seconds the call
// took. llama.cpp's log lines go to stderr at warning level and above when `show_warnings`,
// else nowhere. Throws std::runtime_error when llama_model_quantize_default_params does not
// hold the expected defaults (its struct layout changed) or quantization fails.
double llama_model_quantize_file(const std::string& in,
                                 const std::string& out,
                                 int32_t ftype,
                                 bool pure,
                                 int nthread,
                                 bool show_warnings);

} // namespace slimtune::test
