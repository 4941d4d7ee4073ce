#include "model/io/save_model.h"

#include "common/error.h"
#include "model/io/safetensors.h"

#include <filesystem>

namespace slimtune::io {

namespace fs = std::filesystem;

void save_hf_model(Model& m,
                   const std::string& source_dir,
                   const std::string& out_dir,
                   const std::map<std::string, std::string>& metadata) {
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec)
        throw Error(out_dir + ": cannot create directory: " + ec.message());
    // Conv1D weights go back to (in, out); those copies must outlive the write.
    std::vector<std::vector<float>> transposed;
    std::vector<SafetensorsTensor> tensors;
    for (const NamedParam& p : model_params(m)) {
        const Tensor& t = *p.tensor;
        if (t.storage() != Storage::F32)
            throw ConfigError("save_hf_model: " + p.name +
                              " is held in 16 bits; load the model with float32 weights");
        std::vector<int64_t> shape = t.shape();
        const float* data = t.data();
        if (p.transposed) {
            const int64_t rows = shape[0], cols = shape[1];
            std::vector<float> tr(static_cast<size_t>(rows * cols));
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t c = 0; c < cols; ++c)
                    tr[static_cast<size_t>(c * rows + r)] = data[r * cols + c];
            transposed.push_back(std::move(tr));
            data = transposed.back().data();
            shape = {cols, rows};
        }
        tensors.push_back({p.name,
                           DType::F32,
                           shape,
                           {reinterpret_cast<const uint8_t*>(data),
                            static_cast<size_t>(t.numel()) * sizeof(float)}});
    }
    write_safetensors((fs::path(out_dir) / "model.safetensors").string(), tensors, metadata);
    for (const char* name :
         {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt"}) {
        const fs::path src = fs::path(source_dir) / name;
        if (!fs::exists(src, ec))
            continue;
        const fs::path dst = fs::path(out_dir) / name;
        const fs::path tmp = dst.string() + ".tmp";
        fs::copy_file(src, tmp, fs::copy_options::overwrite_existing, ec);
        if (!ec)
            fs::rename(tmp, dst, ec);
        if (ec)
            throw Error(dst.string() + ": cannot write: " + ec.message());
    }
}

} // namespace slimtune::io
