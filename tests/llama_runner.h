// llama.cpp's inference as a test oracle: model/llama_cpp/runtime.h on the libraries of the npm
// package @node-llama-cpp/linux-x64 (tests/ggml_oracle.h opens them).
#pragma once

#include "model/llama_cpp/runtime.h"
#include "tests/ggml_oracle.h"

#include <string>
#include <utility>

namespace slimtune::test {

struct LlamaCppModel : llama_cpp::Model {
    // Opens the package's libraries, then loads `gguf_path` with 2 threads.
    static LlamaCppModel load(const std::string& gguf_path, int n_ctx = 512) {
        open_llama_cpp();
        return LlamaCppModel(llama_cpp::Model::load(gguf_path, n_ctx, 2));
    }
    explicit LlamaCppModel(llama_cpp::Model&& m) : llama_cpp::Model(std::move(m)) {}
};

} // namespace slimtune::test
