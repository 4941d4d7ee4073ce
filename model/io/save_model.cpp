#include "model/io/save_model.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unistd.h>

namespace slimtune::io {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// What makes the directory loadable and usable beside the weights: the model config, the
// generation defaults, and every tokenizer file transformers or slimtune may read.
constexpr const char* kCopiedFiles[] = {
    "config.json",           "generation_config.json",  "tokenizer.json", "tokenizer.model",
    "tokenizer_config.json", "special_tokens_map.json", "vocab.json",     "merges.txt",
    "added_tokens.json",     "chat_template.jinja"};
constexpr const char* kGenerationConfig = "generation_config.json";

struct OutTensor {
    std::string name;
    Tensor* tensor;
    bool transposed; // GPT-2 Conv1D: held (out, in), stored (in, out)
    uint64_t bytes;
};

// huggingface_hub's split_torch_state_dict_into_shards (what save_pretrained uses): in order, a
// tensor that would take the shard being filled past the limit closes it; a tensor bigger than
// the limit on its own gets a shard of its own, listed before the shard being filled.
// A limit of 0 is one shard.
std::vector<std::vector<size_t>> plan_shards(const std::vector<OutTensor>& ts, uint64_t limit) {
    std::vector<std::vector<size_t>> shards;
    std::vector<size_t> current;
    uint64_t current_bytes = 0;
    for (size_t i = 0; i < ts.size(); ++i) {
        if (limit > 0 && ts[i].bytes > limit) {
            shards.push_back({i});
            continue;
        }
        if (limit > 0 && !current.empty() && current_bytes + ts[i].bytes > limit) {
            shards.push_back(std::move(current));
            current.clear();
            current_bytes = 0;
        }
        current.push_back(i);
        current_bytes += ts[i].bytes;
    }
    if (!current.empty() || shards.empty())
        shards.push_back(std::move(current));
    return shards;
}

// transformers' shard names (5 digits, 1-based).
std::string shard_name(size_t index, size_t count) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", index + 1, count);
    return buf;
}

bool is_shard_name(const std::string& name) {
    // "model-DDDDD-of-DDDDD.safetensors", written out by hand: std::regex trips a false
    // -Wmaybe-uninitialized in g++ 12's <regex> under ASan.
    const std::string_view pattern = "model-#####-of-#####.safetensors";
    if (name.size() != pattern.size())
        return false;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (pattern[i] == '#' ? (c < '0' || c > '9') : c != pattern[i])
            return false;
    }
    return true;
}

// Holds GPT-2's Conv1D weights in the file's (in, out) layout for the length of the write. A
// transposed copy of each would double the memory of a GPT-2's block weights; permuting them in
// place through one tensor-sized buffer costs that one buffer. The destructor puts every weight
// back (a permutation: exact), also when the write throws.
class FileLayout {
public:
    FileLayout() = default;
    FileLayout(const FileLayout&) = delete;
    FileLayout& operator=(const FileLayout&) = delete;
    ~FileLayout() {
        // scratch_ already has the capacity of the largest tensor here: no allocation, no throw.
        for (Tensor* t : done_)
            transpose(t->data(), t->dim(1), t->dim(0));
    }
    void to_file_layout(Tensor& t) {
        transpose(t.data(), t.dim(0), t.dim(1));
        done_.push_back(&t);
    }

private:
    // The (rows, cols) matrix `a` becomes its (cols, rows) transpose.
    void transpose(float* a, int64_t rows, int64_t cols) {
        scratch_.assign(a, a + rows * cols);
        for (int64_t c = 0; c < cols; ++c)
            for (int64_t r = 0; r < rows; ++r)
                a[c * rows + r] = scratch_[static_cast<size_t>(r * cols + c)];
    }
    std::vector<Tensor*> done_;
    std::vector<float> scratch_;
};

// A fresh directory for the files before they are moved into place; removed with whatever is
// left in it when the save ends, successfully or not. It lives inside out_dir so that the moves
// are renames within one file system even when out_dir is a mount point.
class StageDir {
public:
    explicit StageDir(const fs::path& out_dir) {
        static std::atomic<unsigned> counter{0};
        path_ = out_dir / (".slimtune-save." + std::to_string(::getpid()) + "." +
                           std::to_string(counter++) + ".tmp");
        std::error_code ec;
        fs::remove_all(path_, ec); // left by a crashed process that had the same pid
        fs::create_directory(path_, ec);
        if (ec)
            throw Error(path_.string() + ": cannot create directory: " + ec.message());
    }
    StageDir(const StageDir&) = delete;
    StageDir& operator=(const StageDir&) = delete;
    ~StageDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

void move_file(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    fs::rename(from, to, ec);
    if (ec)
        throw Error(to.string() + ": cannot move into place: " + ec.message());
}

void remove_file(const fs::path& p) {
    std::error_code ec;
    fs::remove(p, ec);
    if (ec)
        throw Error(p.string() + ": cannot remove: " + ec.message());
}

bool file_exists(const fs::path& p) {
    std::error_code ec;
    return fs::exists(p, ec);
}

// transformers' GenerationConfig.from_model_config as save_pretrained writes it, down to the ids
// generation needs: sorted keys, indent 2.
std::string generation_config_text(const ModelConfig& cfg) {
    json g = json::object();
    g["_from_model_config"] = true;
    if (cfg.bos_token_id >= 0)
        g["bos_token_id"] = cfg.bos_token_id;
    if (cfg.eos_token_ids.size() == 1)
        g["eos_token_id"] = cfg.eos_token_ids.front();
    else if (!cfg.eos_token_ids.empty())
        g["eos_token_id"] = cfg.eos_token_ids;
    return g.dump(2) + "\n";
}

// The safetensors files (and the index, for shards) into `stage`, from the model's own buffers.
void write_weights(const StageDir& stage,
                   const std::vector<OutTensor>& tensors,
                   const std::vector<std::vector<size_t>>& shards,
                   const std::vector<std::string>& files,
                   const std::map<std::string, std::string>& metadata) {
    {
        FileLayout layout;
        for (const OutTensor& t : tensors)
            if (t.transposed)
                layout.to_file_layout(*t.tensor);
        for (size_t s = 0; s < shards.size(); ++s) {
            std::vector<SafetensorsTensor> views;
            for (const size_t i : shards[s]) {
                const OutTensor& t = tensors[i];
                std::vector<int64_t> shape = t.tensor->shape();
                if (t.transposed)
                    shape = {shape[1], shape[0]};
                views.push_back({t.name,
                                 DType::F32,
                                 shape,
                                 {reinterpret_cast<const uint8_t*>(t.tensor->data()),
                                  static_cast<size_t>(t.bytes)}});
            }
            write_safetensors((stage / files[s]).string(), views, metadata);
        }
    }
    if (shards.size() == 1)
        return;
    // As save_pretrained writes it; total_size counts tensor bytes, not file sizes.
    std::map<std::string, std::string> weight_map;
    uint64_t total = 0;
    for (size_t s = 0; s < shards.size(); ++s)
        for (const size_t i : shards[s]) {
            weight_map.emplace(tensors[i].name, files[s]);
            total += tensors[i].bytes;
        }
    const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
    write_file_atomic((stage / kSafetensorsIndexFileName).string(),
                      [&](std::ostream& os) { os << index.dump(2) << "\n"; });
}

// The configuration and tokenizer files into `stage`; returns their names.
std::vector<std::string>
write_side_files(const StageDir& stage, const std::string& source_dir, const ModelConfig& cfg) {
    std::vector<std::string> names;
    for (const char* name : kCopiedFiles) {
        const fs::path src = fs::path(source_dir) / name;
        if (!file_exists(src))
            continue;
        std::error_code ec;
        fs::copy_file(src, stage / name, ec);
        if (ec)
            throw Error(src.string() + ": cannot copy: " + ec.message());
        names.push_back(name);
    }
    if (!file_exists(stage / kGenerationConfig)) {
        write_file_atomic((stage / kGenerationConfig).string(),
                          [&](std::ostream& os) { os << generation_config_text(cfg); });
        names.push_back(kGenerationConfig);
    }
    return names;
}

// Moves the staged files into `out`. A reader opens the index when there is one, else
// model.safetensors: each step leaves it one complete set of weights, old or new (or, while an
// old index's shards are replaced under the same names, none at all rather than a mix). Then
// the shards of an earlier save that the new weights do not use go.
void move_into_place(const StageDir& stage,
                     const fs::path& out,
                     const std::vector<std::string>& side_files,
                     const std::vector<std::string>& weight_files) {
    for (const std::string& name : side_files)
        move_file(stage / name, out / name);
    const fs::path index_path = out / kSafetensorsIndexFileName;
    if (weight_files.size() == 1) {
        move_file(stage / kSafetensorsFileName, out / kSafetensorsFileName);
        remove_file(index_path);
    } else {
        bool reuses_names = false;
        for (const std::string& f : weight_files)
            reuses_names |= file_exists(out / f);
        if (reuses_names)
            remove_file(index_path);
        for (const std::string& f : weight_files)
            move_file(stage / f, out / f);
        move_file(stage / kSafetensorsIndexFileName, index_path);
        remove_file(out / kSafetensorsFileName);
    }
    const std::set<std::string> current(weight_files.begin(), weight_files.end());
    std::vector<fs::path> stale;
    std::error_code ec;
    for (fs::directory_iterator it(out, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (is_shard_name(name) && !current.count(name))
            stale.push_back(it->path());
    }
    if (ec)
        throw Error(out.string() + ": cannot list: " + ec.message());
    for (const fs::path& p : stale)
        remove_file(p);
}

} // namespace

bool is_hf_weight_file(const std::string& name) {
    return name == kSafetensorsFileName || name == kSafetensorsIndexFileName || is_shard_name(name);
}

void save_hf_model(Model& m,
                   const std::string& source_dir,
                   const std::string& out_dir,
                   const std::map<std::string, std::string>& metadata,
                   uint64_t max_shard_bytes) {
    std::vector<OutTensor> tensors;
    for (const NamedParam& p : model_params(m)) {
        if (p.tensor->storage() != Storage::F32)
            throw ConfigError("save_hf_model: " + p.name +
                              " is held in 16 bits; load the model with float32 weights");
        tensors.push_back({p.name, p.tensor, p.transposed,
                           static_cast<uint64_t>(p.tensor->numel()) * sizeof(float)});
    }
    const std::vector<std::vector<size_t>> shards = plan_shards(tensors, max_shard_bytes);
    std::vector<std::string> weight_files;
    if (shards.size() == 1)
        weight_files.push_back(kSafetensorsFileName);
    else
        for (size_t s = 0; s < shards.size(); ++s)
            weight_files.push_back(shard_name(s, shards.size()));

    const fs::path out(out_dir);
    const bool existed = file_exists(out);
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec)
        throw Error(out_dir + ": cannot create directory: " + ec.message());
    try {
        const StageDir stage(out);
        write_weights(stage, tensors, shards, weight_files, metadata);
        move_into_place(stage, out, write_side_files(stage, source_dir, m.cfg), weight_files);
    } catch (...) {
        if (!existed)
            fs::remove(out, ec); // made here, and empty again now that the stage is gone
        throw;
    }
}

} // namespace slimtune::io
