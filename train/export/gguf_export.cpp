#include "train/export/gguf_export.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/tokenizer/gguf_vocab.h"
#include "model/io/gguf_metadata.h"
#include "model/io/gguf_tensors.h"
#include "model/lora.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace slimtune::train {

namespace fs = std::filesystem;
using io::GgufKv;
using io::GgufValue;
using nlohmann::json;

namespace {

// The dims of a row-major PyTorch shape in ggml order (ne[0] = row length).
std::vector<int64_t> ggml_dims(const std::vector<int64_t>& shape) {
    return {shape.rbegin(), shape.rend()};
}

// Streams tensors into a writer: declare all, then convert and write each in turn, so that
// at most one tensor's float values and bytes are alive at a time.
struct PendingTensor {
    std::string name;
    std::vector<int64_t> shape;
    io::GgmlType type;
    std::function<std::vector<float>()> values;
    const Tensor* unchanged = nullptr; // read in place instead of through values()
};

GgufExportReport write_tensors(io::GgufWriter& w,
                               const std::vector<PendingTensor>& tensors,
                               std::chrono::steady_clock::time_point start,
                               std::string type_name) {
    GgufExportReport r;
    r.path = w.path();
    r.type = std::move(type_name);
    for (const PendingTensor& t : tensors) {
        w.add_tensor(t.name, ggml_dims(t.shape), static_cast<uint32_t>(t.type));
        ++r.tensors_per_type[std::string(io::ggml_type_name(t.type))];
    }
    // Peak memory is the model (nothing, when streamed from the checkpoint) plus the largest
    // tensor's values and bytes: a tensor held unchanged is read in place, and F32 is written
    // straight from the floats.
    std::vector<uint8_t> bytes;
    for (const PendingTensor& t : tensors) {
        std::vector<float> copy;
        std::span<const float> v;
        if (t.unchanged) {
            v = t.unchanged->values();
        } else {
            copy = t.values();
            v = copy;
        }
        const int64_t row = t.shape.empty() ? 1 : t.shape.back();
        const int64_t rows = static_cast<int64_t>(v.size()) / std::max<int64_t>(row, 1);
        if (rows * row != static_cast<int64_t>(v.size()))
            throw ConfigError("GGUF export: tensor " + t.name + " has " + std::to_string(v.size()) +
                              " values for its shape");
        for (float x : v)
            if (!std::isfinite(x))
                throw ConfigError("GGUF export: tensor " + t.name +
                                  " holds a NaN or infinite value; the checkpoint is damaged");
        if (t.type == io::GgmlType::F32) {
            w.write_tensor_data(t.name, v.data(), v.size() * sizeof(float));
            continue;
        }
        bytes.resize(static_cast<size_t>(rows) * io::ggml_row_size(t.type, row));
        io::quantize_rows(t.type, v.data(), bytes.data(), rows, row);
        w.write_tensor_data(t.name, bytes.data(), bytes.size());
    }
    w.finish();
    r.tensors = static_cast<int64_t>(tensors.size());
    r.file_bytes = fs::file_size(r.path);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

void add_all(io::GgufWriter& w, std::vector<GgufKv> kvs) {
    for (GgufKv& kv : kvs)
        w.set(std::move(kv.key), std::move(kv.value));
}

// tokenizer_config.json's text with `chat_template` in it ("" : as it is), so that a list of
// named templates there does not win over tokenizer.chat_template when slimtune reads it back.
std::string with_chat_template(const std::string& config_text,
                               const std::string& chat_template,
                               const fs::path& path) {
    if (chat_template.empty())
        return config_text;
    check_json_depth(config_text, path.string());
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(config_text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw FormatError(path.string() + ": not a JSON object");
    j["chat_template"] = chat_template;
    return j.dump(2);
}

// The tokenizer.* keys of `tok` for a model of `vocab_size` embedding rows, with
// `chat_template` ("" : the tokenizer's own).
std::vector<GgufKv> tokenizer_metadata(const data::Tokenizer& tok,
                                       int64_t vocab_size,
                                       const std::string& chat_template) {
    data::GgufVocab v = data::gguf_vocab(tok, vocab_size);
    if (!chat_template.empty())
        v.chat_template = chat_template;
    std::vector<GgufKv> kv;
    auto add = [&](std::string k, GgufValue val) { kv.push_back({std::move(k), std::move(val)}); };
    add("tokenizer.ggml.model", GgufValue::str(v.model));
    if (v.model == data::kGgufByteLevelBpe)
        add("tokenizer.ggml.pre", GgufValue::str(v.pre));
    add("tokenizer.ggml.tokens", GgufValue::array_str(v.tokens));
    add("tokenizer.ggml.token_type", GgufValue::array_i32(v.token_types));
    if (v.model == data::kGgufByteLevelBpe) {
        add("tokenizer.ggml.merges", GgufValue::array_str(v.merges));
    } else {
        add("tokenizer.ggml.scores", GgufValue::array_f32(v.scores));
        add("tokenizer.ggml.add_space_prefix", GgufValue::boolean(v.add_space_prefix));
    }
    const std::pair<const char*, std::optional<int32_t>> ids[] = {
        {"tokenizer.ggml.bos_token_id", v.bos},     {"tokenizer.ggml.eos_token_id", v.eos},
        {"tokenizer.ggml.unknown_token_id", v.unk}, {"tokenizer.ggml.padding_token_id", v.pad},
        {"tokenizer.ggml.eot_token_id", v.eot},
    };
    for (const auto& [key, id] : ids)
        if (id)
            add(key, GgufValue::u32(static_cast<uint32_t>(*id)));
    add("tokenizer.ggml.add_bos_token", GgufValue::boolean(v.add_bos));
    add("tokenizer.ggml.add_eos_token", GgufValue::boolean(v.add_eos));
    if (!v.chat_template.empty())
        add("tokenizer.chat_template", GgufValue::str(v.chat_template));
    // The exact tokenizer.json (and tokenizer_config.json) slimtune trained with, so that
    // `slimtune eval/generate` on this file tokenize exactly as training did.
    const std::string& src = tok.source();
    if (src.ends_with("tokenizer.json")) {
        add("tokenizer.huggingface.json", GgufValue::str(read_file(src)));
        const fs::path cfg = fs::path(src).parent_path() / "tokenizer_config.json";
        std::error_code ec;
        if (fs::exists(cfg, ec))
            add("slimtune.tokenizer_config",
                GgufValue::str(with_chat_template(read_file(cfg), chat_template, cfg)));
    }
    return kv;
}

// Hugging Face module name ("transformer.h.0.attn.c_attn") -> the GGUF source of its weight.
const io::GgufTensorSource* source_of_module(const std::vector<io::GgufTensorSource>& sources,
                                             std::string module) {
    if (module.starts_with("transformer."))
        module = module.substr(12);
    const std::string weight = module + ".weight";
    for (const io::GgufTensorSource& s : sources)
        if (s.hf_name == weight)
            return &s;
    return nullptr;
}

} // namespace

std::vector<GgufKv> gguf_provenance_metadata(const GgufExportInfo& info) {
    std::vector<GgufKv> kv;
    auto add = [&](std::string k, GgufValue v) { kv.push_back({std::move(k), std::move(v)}); };
    if (!info.name.empty())
        add("general.name", GgufValue::str(info.name));
    if (!info.base_model.empty()) {
        add("general.base_model.count", GgufValue::u32(1));
        add("general.base_model.0.name", GgufValue::str(info.base_model));
        if (!info.base_model_path.empty())
            add("general.base_model.0.url", GgufValue::str(info.base_model_path));
        if (!info.base_model_id.empty())
            add("general.base_model.0.repo_url",
                GgufValue::str("https://huggingface.co/" + info.base_model_id));
    }
    const json& p = info.provenance;
    if (p.is_object() && p.contains("dataset") && p["dataset"].is_object()) {
        const json& d = p["dataset"];
        const std::string file = d.value("train_file", std::string());
        std::string stages;
        for (const json& st : d.value("stages", json::array()))
            if (st.is_object() && st.value("enabled", false)) {
                stages += (stages.empty() ? "" : ", ") + st.value("name", std::string("?"));
                const int64_t dropped = st.value("dropped", int64_t{0});
                const int64_t modified = st.value("modified", int64_t{0});
                const int64_t added = st.value("added", int64_t{0});
                if (dropped || modified || added)
                    stages += " (-" + std::to_string(dropped) + " ~" + std::to_string(modified) +
                              " +" + std::to_string(added) + ")";
            }
        const int64_t in = d.value("documents_in", int64_t{0});
        const int64_t out = d.value("documents_out", int64_t{0});
        add("general.dataset.count", GgufValue::u32(1));
        add("general.dataset.0.name", GgufValue::str(fs::path(file).filename().string()));
        add("general.dataset.0.description",
            GgufValue::str("curated by slimtune " + d.value("curated_by", std::string()) + ": " +
                           std::to_string(in) + " documents in, " + std::to_string(out) +
                           " out; stages: " + stages));
        add("general.dataset.0.manifest_sha256",
            GgufValue::str(d.value("manifest_sha256", std::string())));
        add("general.dataset.0.curated_sha256",
            GgufValue::str(d.value("curated_sha256", std::string())));
        add("general.dataset.0.documents_in", GgufValue::u64(static_cast<uint64_t>(in)));
        add("general.dataset.0.documents_out", GgufValue::u64(static_cast<uint64_t>(out)));
    }
    if (p.is_object() && p.contains("train") && p["train"].is_object())
        add("general.finetune", GgufValue::str(p["train"].value("mode", std::string("lora"))));
    return kv;
}

GgufExportReport write_gguf_model(Model& m,
                                  const data::Tokenizer& tokenizer,
                                  const GgufExportInfo& info,
                                  io::ExportType type,
                                  const std::string& path,
                                  const io::ParamReader& read) {
    const auto start = std::chrono::steady_clock::now();
    for (const LoraModule& l : lora_modules(m))
        if (!l.linear->lora.merged)
            throw ConfigError("GGUF export: adapter on " + l.module +
                              " is not merged; merge it (or export it with --format gguf-lora)");
    const std::vector<io::GgufTensorSource> sources = io::gguf_tensor_sources(m, read);
    const std::vector<io::GgmlType> types = io::gguf_tensor_types(type, sources);
    std::vector<GgufKv> tok_kv =
        tokenizer_metadata(tokenizer, m.cfg.vocab_size, info.chat_template_jinja);

    io::GgufWriter w(path);
    w.set("general.architecture", GgufValue::str(io::gguf_architecture(m.cfg)));
    w.set("general.type", GgufValue::str("model"));
    add_all(w, gguf_provenance_metadata(info));
    w.set("general.file_type", GgufValue::u32(io::llama_file_type(type)));
    w.set("general.quantization_version", GgufValue::u32(2));
    w.set("general.quantized_by", GgufValue::str("slimtune"));
    add_all(w, io::gguf_architecture_metadata(m.cfg));
    add_all(w, std::move(tok_kv));

    std::vector<PendingTensor> pending;
    for (size_t i = 0; i < sources.size(); ++i)
        pending.push_back(
            {sources[i].name, sources[i].shape, types[i], sources[i].values, sources[i].unchanged});
    return write_tensors(w, pending, start, std::string(io::export_type_name(type)));
}

GgufExportReport write_gguf_lora(Model& m,
                                 const GgufExportInfo& info,
                                 io::ExportType type,
                                 const std::string& path) {
    const auto start = std::chrono::steady_clock::now();
    const io::ExportTypeTraits& traits = io::export_type_traits(type);
    if (traits.quantized)
        throw ConfigError("GGUF LoRA export: type must be f32, f16 or bf16, got " +
                          std::string(io::export_type_name(type)));
    const std::vector<LoraModule> mods = lora_modules(m);
    if (mods.empty())
        throw ConfigError("GGUF LoRA export: the model has no LoRA adapters (pass --adapter)");
    const std::vector<io::GgufTensorSource> sources = io::gguf_tensor_sources(m);
    // One alpha for the file: llama.cpp scales every module by alpha / rank.
    const double alpha = static_cast<double>(mods.front().linear->lora.scaling) *
                         static_cast<double>(mods.front().rank);
    const io::GgmlType gt = traits.base;
    std::vector<PendingTensor> pending;
    for (const LoraModule& l : mods) {
        if (l.linear->lora.merged)
            throw ConfigError("GGUF LoRA export: adapter on " + l.module + " is merged");
        const io::GgufTensorSource* s = source_of_module(sources, l.module);
        if (!s)
            throw ConfigError("GGUF LoRA export: no GGUF tensor for module " + l.module);
        const Tensor* a = &l.linear->lora.a;
        const Tensor* b = &l.linear->lora.b;
        // Fold this module's scaling where it differs from alpha / r (rsLoRA, patterns), and the
        // base tensor's own factor (Gemma 2's query scale), which its update must share.
        const float fold = static_cast<float>(static_cast<double>(l.linear->lora.scaling) *
                                              static_cast<double>(l.rank) / alpha) *
                           s->factor;
        const int64_t heads = s->permuted_heads;
        pending.push_back({s->name + ".lora_a", {a->dim(0), a->dim(1)}, gt, nullptr, a});
        pending.push_back({s->name + ".lora_b",
                           {b->dim(0), b->dim(1)},
                           gt,
                           [b, fold, heads] {
                               std::vector<float> v =
                                   heads
                                       ? io::permute_qk_rows(b->data(), b->dim(0), b->dim(1), heads)
                                       : std::vector<float>(b->values().begin(), b->values().end());
                               if (fold != 1.0f)
                                   for (float& x : v)
                                       x *= fold;
                               return v;
                           },
                           nullptr});
    }
    io::GgufWriter w(path);
    w.set("general.architecture", GgufValue::str(io::gguf_architecture(m.cfg)));
    w.set("general.type", GgufValue::str("adapter"));
    add_all(w, gguf_provenance_metadata(info));
    w.set("adapter.type", GgufValue::str("lora"));
    w.set("adapter.lora.alpha", GgufValue::f32(static_cast<float>(alpha)));
    w.set("general.file_type", GgufValue::u32(io::llama_file_type(type)));
    w.set("general.quantization_version", GgufValue::u32(2));
    return write_tensors(w, pending, start, "lora " + std::string(io::export_type_name(type)));
}

} // namespace slimtune::train
