#include "tests/ggml_oracle.h"

#include <dlfcn.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

namespace slimtune::test {

namespace {

// lib<name>.so, or the versioned lib<name>.v<X>.so the package ships; "" when neither exists.
std::string library_file(const std::string& dir, const std::string& name) {
    std::error_code ec;
    const std::string plain = dir + "/lib" + name + ".so";
    if (std::filesystem::exists(plain, ec))
        return plain;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        const std::string f = e.path().filename().string();
        if (f.rfind("lib" + name + ".v", 0) == 0 && f.size() > 3 && f.ends_with(".so"))
            return e.path().string();
    }
    return "";
}

} // namespace

std::string llama_cpp_lib_dir() {
    const std::filesystem::path dir =
        std::filesystem::path(SLIMTUNE_NPM_DIR) / "@node-llama-cpp" / "linux-x64" / "bins" /
        "linux-x64";
    std::error_code ec;
    return std::filesystem::exists(dir / "libggml-base.so", ec) ? dir.string() : std::string();
}

void* llama_cpp_symbol(const std::string& library, const char* symbol) {
    static std::mutex mutex;
    static std::map<std::string, void*> handles;
    const std::lock_guard<std::mutex> lock(mutex);
    void*& handle = handles[library];
    if (!handle) {
        const std::string dir = llama_cpp_lib_dir();
        if (dir.empty())
            throw std::runtime_error("llama.cpp oracle: @node-llama-cpp/linux-x64 is not installed "
                                     "in " SLIMTUNE_NPM_DIR " (run scripts/npm-reference.sh)");
        // libllama needs libggml and libggml-base from the same directory: load those first,
        // globally, so that its own dependencies resolve to them.
        for (const char* dep : {"ggml-base", "ggml"}) {
            const std::string path = library_file(dir, dep);
            if (!path.empty())
                dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
        }
        std::string path = library_file(dir, library);
        if (path.empty())
            path = dir + "/lib" + library + ".so";
        handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
        if (!handle)
            throw std::runtime_error("llama.cpp oracle: cannot load " + path + ": " + dlerror());
    }
    void* f = dlsym(handle, symbol);
    if (!f)
        throw std::runtime_error("llama.cpp oracle: lib" + library + ".so has no symbol " + symbol);
    return f;
}

} // namespace slimtune::test
