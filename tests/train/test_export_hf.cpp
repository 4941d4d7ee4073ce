// `slimtune export --format hf`: a PEFT adapter merged into its base and written as a Hugging Face
// directory, checked against the PyTorch merge of tests/reference/gen_export.py (goldens in
// tests/golden/export, adapters in tests/fixtures/adapters): logits, merged weights, the other
// weights untouched, the files beside the weights, provenance, sharding with an index our reader
// accepts, re-exports that leave nothing stale, and refusals that write nothing.
#include "common/error.h"
#include "model/autograd.h"
#include "model/io/checkpoint.h"
#include "model/io/safetensors.h"
#include "model/io/save_model.h"
#include "model/lora.h"
#include "model/transformer.h"
#include "tests/model/logits_util.h"
#include "tests/test_util.h"
#include "train/export/export.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>
#include <sstream>

using namespace slimtune;
using Catch::Matchers::Contains;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = fs::path(SLIMTUNE_SOURCE_DIR) / "tests" / "fixtures" / "models";
const fs::path kAdapters = fs::path(SLIMTUNE_SOURCE_DIR) / "tests" / "fixtures" / "adapters";
const fs::path kGoldens = fs::path(SLIMTUNE_GOLDEN_DIR) / "export";

struct Case {
    const char* adapter; // tests/fixtures/adapters/<adapter>, tests/golden/export/<adapter>
    const char* model;   // tests/fixtures/models/<model>
};
// GPT-2 is the case where the adapter's (out, in) delta meets a Conv1D weight stored (in, out).
constexpr Case kCases[] = {{"llama_gqa_lora", "llama_gqa"}, {"gpt2_lora", "gpt2"}};

io::SafetensorsFile golden(const Case& c) {
    return io::SafetensorsFile::open(
        (kGoldens / (std::string(c.adapter) + ".safetensors")).string());
}

std::vector<int32_t> golden_tokens(const io::SafetensorsFile& g) {
    const std::vector<int64_t> t = g.read_i64("tokens");
    return {t.begin(), t.end()};
}

// Logits against the PyTorch reference, within 1e-5 of the largest reference logit.
void check_logits(const std::vector<float>& actual,
                  const std::vector<double>& expected,
                  const std::string& label) {
    double scale = 0;
    for (const double e : expected)
        scale = std::max(scale, std::abs(e));
    test::require_close(actual, expected, 1e-5 * scale, 0, label);
}

train::ExportResult run_export(const train::ExportOptions& o) {
    std::ostringstream progress;
    return train::export_model(o, progress);
}

std::set<std::string> files_in(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
        names.insert(e.path().filename().string());
    return names;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string shard_file(int i, int n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i, n);
    return buf;
}

// The shard files in `dir`, and a check that they are exactly 1..n of one set.
int shard_count(const fs::path& dir) {
    int n = 0;
    for (const std::string& f : files_in(dir))
        if (f.starts_with("model-") && f.ends_with(".safetensors"))
            ++n;
    for (int i = 1; i <= n; ++i)
        CHECK(fs::exists(dir / shard_file(i, n)));
    return n;
}

bool has_staging_leftovers(const fs::path& dir) {
    for (const std::string& f : files_in(dir))
        if (f.find(".tmp") != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_CASE("export hf: a merged PEFT adapter matches the PyTorch merge", "[export_hf]") {
    for (const Case& c : kCases) {
        DYNAMIC_SECTION(c.adapter) {
            test::TempDir tmp("export_hf");
            const io::SafetensorsFile g = golden(c);
            const fs::path model_dir = kModels / c.model;
            // Provenance beside the adapter (as `slimtune train` leaves it) for GPT-2 only: the
            // Llama export shows that no provenance means no provenance key.
            const bool provenance = std::string(c.model) == "gpt2";
            fs::path adapter_dir = kAdapters / c.adapter;
            const std::string manifest(64, 'a');
            if (provenance) {
                const fs::path copy = tmp.path / "adapter";
                fs::copy(adapter_dir, copy);
                std::ofstream(copy / "slimtune_provenance.json")
                    << json{{"dataset", {{"manifest_sha256", manifest}}}}.dump();
                adapter_dir = copy;
            }
            const fs::path out = tmp.path / "merged";
            run_export({.model_dir = model_dir.string(),
                        .adapter_dir = adapter_dir.string(),
                        .format = "hf",
                        .out = out.string()});

            const Model merged = load_model(out.string());
            check_logits(test::logits_of(merged, golden_tokens(g)), g.read_f64("logits"),
                         std::string(c.adapter) + " logits");

            // The adapted weights as PyTorch merged them (float64, so within float32 rounding:
            // the merge's result and the float32 scaling), every other one bit for bit the base's.
            const io::CheckpointReader exported = io::CheckpointReader::open(out.string());
            const io::CheckpointReader base = io::CheckpointReader::open(model_dir.string());
            CHECK(exported.names() == base.names());
            int adapted = 0;
            for (const std::string& name : exported.names()) {
                INFO(name);
                CHECK(exported.entry(name).shape == base.entry(name).shape);
                const std::vector<float> w = exported.read_f32(name);
                if (const io::SafetensorsEntry* e = g.find("merged." + name)) {
                    CHECK(e->shape == exported.entry(name).shape);
                    const std::vector<double> want = g.read_f64("merged." + name);
                    double scale = 0;
                    for (const double v : want)
                        scale = std::max(scale, std::abs(v));
                    test::require_close(w, want, 1e-7 * scale, 2.4e-7, "merged " + name);
                    ++adapted;
                } else {
                    CHECK(w == base.read_f32(name));
                }
            }
            size_t golden_merged = 0;
            for (const io::SafetensorsEntry& e : g.entries())
                golden_merged += e.name.starts_with("merged.");
            CHECK(adapted == static_cast<int>(golden_merged));
            CHECK(adapted >= 4);

            CHECK(read_text(out / "config.json") == read_text(model_dir / "config.json"));
            CHECK(read_text(out / "generation_config.json") ==
                  read_text(model_dir / "generation_config.json"));
            const io::SafetensorsFile st =
                io::SafetensorsFile::open((out / "model.safetensors").string());
            const auto& meta = st.metadata();
            CHECK(meta.at("format") == "pt");
            if (provenance) {
                CHECK(meta.at("slimtune.dataset_manifest_sha256") == manifest);
                CHECK(fs::exists(out / "slimtune_provenance.json"));
            } else {
                CHECK(meta.count("slimtune.dataset_manifest_sha256") == 0);
            }
            CHECK_FALSE(fs::exists(out / "model.safetensors.index.json"));
            CHECK_FALSE(has_staging_leftovers(out));

            // Again into the same directory, sharded: the single file gives way to shards that
            // each carry the provenance, with the same logits.
            run_export({.model_dir = model_dir.string(),
                        .adapter_dir = adapter_dir.string(),
                        .format = "hf",
                        .out = out.string(),
                        .max_shard_bytes = 20000});
            const int n = shard_count(out);
            CHECK(n >= 6);
            CHECK_FALSE(fs::exists(out / "model.safetensors"));
            for (int i = 1; i <= n; ++i) {
                const auto shard = io::SafetensorsFile::open((out / shard_file(i, n)).string());
                CHECK(shard.metadata().count("slimtune.dataset_manifest_sha256") ==
                      (provenance ? 1 : 0));
            }
            CHECK(test::logits_of(load_model(out.string()), golden_tokens(g)) ==
                  test::logits_of(merged, golden_tokens(g)));
        }
    }
}

TEST_CASE("export hf: shards with an index, and re-exports leave nothing stale", "[export_hf]") {
    for (const Case& c : kCases) {
        DYNAMIC_SECTION(c.adapter) {
            test::TempDir tmp("export_hf_shards");
            const std::string model_dir = (kModels / c.model).string();
            Model m = load_model(model_dir);
            load_peft_adapter(m, (kAdapters / c.adapter).string());
            lora_merge(m);
            const io::SafetensorsFile g = golden(c);
            const std::vector<int32_t> tokens = golden_tokens(g);
            const std::vector<float> logits = test::logits_of(m, tokens);

            // An earlier export's leftovers (a single file, a shard of a bigger set) and a file
            // that is not ours.
            const fs::path out = tmp.path / "out";
            fs::create_directories(out);
            std::ofstream(out / "model.safetensors") << "stale";
            std::ofstream(out / "model-00007-of-00009.safetensors") << "stale";
            std::ofstream(out / "notes.txt") << "mine";

            // Smaller than the embeddings (a shard of their own) and than two block matrices.
            const uint64_t limit = 20000;
            io::save_hf_model(m, model_dir, out.string(), {{"slimtune.test", "1"}}, limit);
            CHECK(test::logits_of(m, tokens) == logits); // the Conv1D weights are back in place

            const int n = shard_count(out);
            CHECK(n >= 6);
            const std::set<std::string> files = files_in(out);
            CHECK(files.count("model.safetensors.index.json") == 1);
            CHECK(files.count("model.safetensors") == 0);
            CHECK(files.count("model-00007-of-00009.safetensors") == 0);
            CHECK(files.count("notes.txt") == 1);
            CHECK_FALSE(has_staging_leftovers(out));

            const io::CheckpointReader r = io::CheckpointReader::open(out.string());
            std::vector<std::string> names;
            for (const NamedParam& p : model_params(m))
                names.push_back(p.name);
            std::sort(names.begin(), names.end());
            CHECK(r.names() == names);
            uint64_t total = 0;
            for (int i = 1; i <= n; ++i) {
                const io::SafetensorsFile shard =
                    io::SafetensorsFile::open((out / shard_file(i, n)).string());
                uint64_t bytes = 0;
                for (const io::SafetensorsEntry& e : shard.entries())
                    bytes += e.end - e.begin;
                INFO(shard_file(i, n) << ": " << bytes << " bytes");
                CHECK((bytes <= limit || shard.entries().size() == 1));
                CHECK(shard.metadata().at("slimtune.test") == "1");
                total += bytes;
            }
            const json index = json::parse(read_text(out / "model.safetensors.index.json"));
            CHECK(index["metadata"]["total_size"] == total);
            CHECK(index["weight_map"].size() == names.size());

            CHECK(test::logits_of(load_model(out.string()), tokens) == logits);
            check_logits(logits, g.read_f64("logits"), "sharded");

            // Fewer shards over more: the old set's extra shards go.
            io::save_hf_model(m, model_dir, out.string(), {}, 4 * limit);
            const int fewer = shard_count(out);
            CHECK(fewer >= 2);
            CHECK(fewer < n);
            CHECK(files_in(out).size() == static_cast<size_t>(fewer) + 4); // + index, config,
                                                                           // generation, notes
            CHECK(test::logits_of(load_model(out.string()), tokens) == logits);
            // The same set of names again (an index in place while its shards are replaced).
            io::save_hf_model(m, model_dir, out.string(), {}, 4 * limit);
            CHECK(shard_count(out) == fewer);
            CHECK(test::logits_of(load_model(out.string()), tokens) == logits);

            // One file over shards: no index, no shard left.
            io::save_hf_model(m, model_dir, out.string());
            CHECK(shard_count(out) == 0);
            CHECK(files_in(out) == std::set<std::string>{"config.json", "generation_config.json",
                                                         "model.safetensors", "notes.txt"});
            CHECK(test::logits_of(load_model(out.string()), tokens) == logits);

            // A limit above the model's size is one file too, as transformers writes it.
            io::save_hf_model(m, model_dir, out.string(), {}, uint64_t{1} << 40);
            CHECK(shard_count(out) == 0);
            CHECK(fs::exists(out / "model.safetensors"));
        }
    }
}

TEST_CASE("save_hf_model: generation_config.json written from the config when the source has none",
          "[export_hf]") {
    test::TempDir tmp("export_hf_genconfig");
    // llama3_scaled has no generation_config.json; llama_gqa's config has an eos list, so its
    // config and weights alone make a source whose ids are a list.
    const fs::path src = tmp.path / "src";
    fs::create_directories(src);
    for (const char* f : {"config.json", "model.safetensors"})
        fs::copy_file(kModels / "llama_gqa" / f, src / f);
    const struct {
        fs::path source;
        json want;
    } cases[] = {
        {kModels / "llama3_scaled",
         {{"_from_model_config", true}, {"bos_token_id", 1}, {"eos_token_id", 2}}},
        {src, {{"_from_model_config", true}, {"bos_token_id", 1}, {"eos_token_id", {2, 3}}}},
    };
    for (const auto& c : cases) {
        INFO(c.source);
        Model m = load_model(c.source.string());
        const fs::path out = tmp.path / "out";
        io::save_hf_model(m, c.source.string(), out.string());
        const std::string text = read_text(out / "generation_config.json");
        CHECK(json::parse(text) == c.want);
        CHECK(text == c.want.dump(2) + "\n"); // save_pretrained's layout: sorted, indent 2
        const Model back = load_model(out.string());
        CHECK(back.cfg.eos_token_ids == m.cfg.eos_token_ids);
    }
}

TEST_CASE("export hf: bad input is refused in one line and writes nothing", "[export_hf]") {
    test::TempDir tmp("export_hf_bad");
    const fs::path out = tmp.path / "out";
    const auto refused = [&](const char* model, const fs::path& adapter, const std::string& what) {
        INFO(model << " + " << adapter);
        try {
            run_export({.model_dir = (kModels / model).string(),
                        .adapter_dir = adapter.string(),
                        .format = "hf",
                        .out = out.string()});
            FAIL("exported");
        } catch (const Error& e) {
            const std::string msg = e.what();
            CHECK_THAT(msg, Contains(what));
            CHECK(msg.find('\n') == std::string::npos);
        }
        CHECK_FALSE(fs::exists(out));
    };
    refused("llama_gqa", tmp.path / "no_adapter", "adapter_config.json");
    // Same family, other width: the adapter's matrices do not fit.
    refused("llama3_scaled", kAdapters / "llama_gqa_lora", "has shape [4, 64], expected [4, 32]");
    // Other family: its target modules name no layer of this model.
    refused("llama_gqa", kAdapters / "gpt2_lora", "match no linear layer");

    // A weight kept in 16 bits cannot be written as float32: refused before any file exists.
    Model half =
        load_model((kModels / "llama_gqa_bf16").string(), {.keep_16bit_projections = true});
    CHECK_THROWS_AS(io::save_hf_model(half, (kModels / "llama_gqa_bf16").string(), out.string()),
                    ConfigError);
    CHECK_FALSE(fs::exists(out));

    // A save that fails part way (here: metadata that is not UTF-8, found when the first shard is
    // written) leaves no directory it made, and an earlier export exactly as it was.
    Model m = load_model((kModels / "gpt2").string());
    const std::vector<int32_t> ids = {150, 7, 3, 11, 5};
    const std::vector<float> logits = test::logits_of(m, ids);
    const std::map<std::string, std::string> bad_meta = {{"bad", "\xff"}};
    CHECK_THROWS_AS(io::save_hf_model(m, (kModels / "gpt2").string(), out.string(), bad_meta),
                    Error);
    CHECK_FALSE(fs::exists(out));
    io::save_hf_model(m, (kModels / "gpt2").string(), out.string(), {}, 20000);
    std::map<std::string, std::string> before;
    for (const std::string& f : files_in(out))
        before[f] = read_text(out / f);
    CHECK_THROWS_AS(
        io::save_hf_model(m, (kModels / "gpt2").string(), out.string(), bad_meta, 20000), Error);
    std::map<std::string, std::string> after;
    for (const std::string& f : files_in(out))
        after[f] = read_text(out / f);
    CHECK(after == before);
    CHECK(test::logits_of(m, ids) ==
          logits); // the Conv1D weights were put back on the error path too
}
