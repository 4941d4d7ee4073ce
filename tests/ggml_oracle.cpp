#include "tests/ggml_oracle.h"

#include "model/llama_cpp/library.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace slimtune::test {

namespace {

// llama.h's struct llama_model_quantize_params, which llama.cpp passes by pointer and returns
// by value. Only its leading fields are touched, whose layout has been stable for many
// releases:
//   int32 nthread @0, int32 ftype @4, int32 output_tensor_type @8,
//   int32 token_embedding_type @12, bool allow_requantize @16, quantize_output_tensor @17,
//   only_copy @18, pure @19.
// The blob is larger than the real struct: the callee writes the real size into it (SysV
// returns structs over 16 bytes through a caller-provided buffer). The defaults are checked
// before use, so a layout change fails loudly instead of quantizing wrongly.
struct QuantizeParams {
    alignas(8) unsigned char bytes[512];
};

int32_t i32_at(const QuantizeParams& p, size_t off) {
    int32_t v;
    std::memcpy(&v, p.bytes + off, 4);
    return v;
}

void set_i32(QuantizeParams& p, size_t off, int32_t v) {
    std::memcpy(p.bytes + off, &v, 4);
}

void require_default(bool ok, const char* what) {
    if (!ok)
        throw std::runtime_error(std::string("llama_model_quantize_default_params: unexpected ") +
                                 what + " (struct layout changed?)");
}

std::atomic<bool> g_show_warnings{false};

} // namespace

std::string llama_cpp_lib_dir() {
    const std::filesystem::path dir = std::filesystem::path(SLIMTUNE_NPM_DIR) / "@node-llama-cpp" /
                                      "linux-x64" / "bins" / "linux-x64";
    std::error_code ec;
    return std::filesystem::exists(dir / "libggml-base.so", ec) ? dir.string() : std::string();
}

void open_llama_cpp() {
    const std::string dir = llama_cpp_lib_dir();
    if (dir.empty())
        throw std::runtime_error("llama.cpp oracle: @node-llama-cpp/linux-x64 is not installed "
                                 "in " SLIMTUNE_NPM_DIR " (run scripts/npm-reference.sh)");
    llama_cpp::open(dir);
}

void* llama_cpp_symbol(const std::string& library, const char* symbol) {
    open_llama_cpp();
    return llama_cpp::symbol(library, symbol);
}

double llama_model_quantize_file(const std::string& in,
                                 const std::string& out,
                                 int32_t ftype,
                                 bool pure,
                                 int nthread,
                                 bool show_warnings) {
    using LogCallback = void (*)(int, const char*, void*);
    g_show_warnings = show_warnings;
    // ggml_log_level: 3 = WARN, 4 = ERROR.
    llama_cpp_fn<void (*)(LogCallback, void*)>("llama", "llama_log_set")(
        [](int level, const char* text, void*) {
            if (g_show_warnings && (level == 3 || level == 4))
                std::fputs(text, stderr);
        },
        nullptr);
    const auto defaults =
        llama_cpp_fn<QuantizeParams (*)()>("llama", "llama_model_quantize_default_params");
    const auto quantize =
        llama_cpp_fn<uint32_t (*)(const char*, const char*, const QuantizeParams*)>(
            "llama", "llama_model_quantize");
    QuantizeParams p = defaults();
    // 0 threads (all), ftype Q8_0 in this release (Q5_1 in older ones), output and embedding
    // types unset (equal, GGML_TYPE_COUNT), no requantize, quantize output, no only_copy, not
    // pure.
    require_default(i32_at(p, 0) == 0, "nthread");
    require_default(i32_at(p, 4) == 7, "ftype");
    require_default(i32_at(p, 8) == i32_at(p, 12) && i32_at(p, 8) > 30, "output/embedding types");
    require_default(p.bytes[16] == 0 && p.bytes[17] == 1 && p.bytes[18] == 0 && p.bytes[19] == 0,
                    "flags");
    set_i32(p, 0, nthread);
    set_i32(p, 4, ftype);
    p.bytes[19] = pure ? 1 : 0;
    const auto t0 = std::chrono::steady_clock::now();
    const uint32_t rc = quantize(in.c_str(), out.c_str(), &p);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0)
        throw std::runtime_error("llama_model_quantize " + in + " -> " + out + " failed (" +
                                 std::to_string(rc) + ")");
    return seconds;
}

} // namespace slimtune::test
