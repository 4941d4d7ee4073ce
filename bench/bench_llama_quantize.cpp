// The peer of the export benchmark (bench/run_export.sh): llama.cpp's own llama_model_quantize,
// what `llama-quantize IN.gguf OUT.gguf TYPE NTHREAD` runs, from libllama of the npm package
// @node-llama-cpp/linux-x64 (opened with dlopen through tests/ggml_oracle.cpp; no llama.cpp
// header or source is part of slimtune). And the check of the benchmark: whether two GGUF files
// hold the same tensors (names, ggml types, shapes, data bytes), metadata aside.
//
//   bench_llama_quantize IN.gguf OUT.gguf TYPE NTHREAD
//       TYPE is a slimtune export type name (f16, q8_0, q4_0, q4_k_m, q6_k, ...), mapped to
//       llama_ftype by io::llama_file_type; q4_k runs with --pure, as slimtune's q4_k is
//       llama-quantize's Q4_K_S --pure. Prints {"seconds": ..., "ftype": ...} (the time of the
//       llama_model_quantize call); llama.cpp's info lines are dropped, warnings and errors kept.
//   bench_llama_quantize --compare A.gguf B.gguf
//       Prints {"tensors", "identical", "type_differs", "data_differs", "missing", "first", ...}
//       and exits 0 when every tensor of A is in B with the same type, shape and bytes.
#include "model/io/ggml_quants.h"
#include "model/io/gguf.h"
#include "model/io/gguf_quant_policy.h"
#include "tests/ggml_oracle.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace {

using namespace slimtune;

int quantize(const std::string& in,
             const std::string& out,
             const std::string& type_name,
             int nthread) {
    const io::ExportType type = io::parse_export_type(type_name);
    const auto ftype = static_cast<int32_t>(io::llama_file_type(type));
    const bool pure = type == io::ExportType::Q4_K; // --pure
    const double s = test::llama_model_quantize_file(in, out, ftype, pure, nthread, true);
    std::cout << nlohmann::json{{"seconds", s},
                                {"ftype", ftype},
                                {"pure", pure},
                                {"nthread", nthread},
                                {"llama_cpp_lib", test::llama_cpp_lib_dir()}}
                     .dump()
              << "\n";
    return 0;
}

int compare(const std::string& a_path, const std::string& b_path) {
    const io::GgufFile a = io::GgufFile::open(a_path), b = io::GgufFile::open(b_path);
    int64_t identical = 0, type_differs = 0, data_differs = 0, missing = 0;
    uint64_t data_bytes = 0;
    std::string first;
    for (const io::GgufTensorInfo& ta : a.tensors()) {
        const io::GgufTensorInfo* tb = b.find_tensor(ta.name);
        if (!tb) {
            ++missing;
            if (first.empty())
                first = ta.name + ": not in B";
            continue;
        }
        if (ta.type != tb->type || ta.ne != tb->ne) {
            ++type_differs;
            if (first.empty())
                first = ta.name + ": type or shape differs";
            continue;
        }
        const auto da = a.tensor_data(ta), db = b.tensor_data(*tb);
        if (da.size() != db.size() || std::memcmp(da.data(), db.data(), da.size()) != 0) {
            ++data_differs;
            if (first.empty())
                first = ta.name + ": data differs";
            continue;
        }
        ++identical;
        data_bytes += da.size();
    }
    const bool same = identical == static_cast<int64_t>(a.tensors().size()) &&
                      a.tensors().size() == b.tensors().size();
    std::cout << nlohmann::json{{"tensors", a.tensors().size()},
                                {"tensors_b", b.tensors().size()},
                                {"identical", identical},
                                {"identical_data_bytes", data_bytes},
                                {"type_differs", type_differs},
                                {"data_differs", data_differs},
                                {"missing", missing},
                                {"first", first},
                                {"file_bytes_a", a.file_size()},
                                {"file_bytes_b", b.file_size()},
                                {"same_tensors", same}}
                     .dump()
              << "\n";
    return same ? 0 : 3;
}

} // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 4 && std::string(argv[1]) == "--compare")
            return compare(argv[2], argv[3]);
        if (argc == 5)
            return quantize(argv[1], argv[2], argv[3], std::stoi(argv[4]));
        std::cerr << "usage: bench_llama_quantize IN.gguf OUT.gguf TYPE NTHREAD\n"
                     "       bench_llama_quantize --compare A.gguf B.gguf\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "bench_llama_quantize: " << e.what() << "\n";
        return 1;
    }
}
