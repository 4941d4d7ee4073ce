#include "model/llama_cpp/library.h"

#include <dlfcn.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

namespace slimtune::llama_cpp {

namespace {

// lib<name>.so, or the versioned lib<name>.v<X>.so the npm package ships; "" when neither is
// in `dir`.
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

struct Libraries {
    std::mutex mutex;
    bool open = false;
    std::string dir;
    std::map<std::string, void*> handles; // "llama", "ggml", "ggml-base"
};

Libraries& libraries() {
    static Libraries l;
    return l;
}

} // namespace

void open(const std::string& dir) {
    Libraries& l = libraries();
    const std::lock_guard<std::mutex> lock(l.mutex);
    if (l.open) {
        if (dir != l.dir)
            throw std::runtime_error("llama.cpp: already opened from " +
                                     (l.dir.empty() ? std::string("the loader's path") : l.dir) +
                                     ", cannot open it again from " + dir);
        return;
    }
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
        throw std::runtime_error("llama.cpp: " + dir + " is not a directory");
    // libllama needs libggml and libggml-base: load those first, globally, so that its own
    // dependencies resolve to the same files.
    std::map<std::string, void*> handles;
    for (const char* name : {"ggml-base", "ggml", "llama"}) {
        const std::string path =
            dir.empty() ? "lib" + std::string(name) + ".so" : library_file(dir, name);
        if (path.empty())
            throw std::runtime_error("llama.cpp: no lib" + std::string(name) + ".so in " + dir);
        void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
        if (!h) // dlerror() names the file
            throw std::runtime_error(std::string("llama.cpp: ") + dlerror());
        handles[name] = h;
    }
    l.handles = std::move(handles);
    l.dir = dir;
    l.open = true;
}

std::string directory() {
    Libraries& l = libraries();
    const std::lock_guard<std::mutex> lock(l.mutex);
    return l.dir;
}

void* symbol(const std::string& library, const char* name) {
    Libraries& l = libraries();
    const std::lock_guard<std::mutex> lock(l.mutex);
    if (!l.open)
        throw std::runtime_error("llama.cpp: the libraries are not open (llama_cpp::open)");
    const auto it = l.handles.find(library);
    if (it == l.handles.end())
        throw std::runtime_error("llama.cpp: no library lib" + library + ".so");
    void* f = dlsym(it->second, name);
    if (!f)
        throw std::runtime_error("llama.cpp: lib" + library + ".so has no symbol " + name);
    return f;
}

} // namespace slimtune::llama_cpp
