// What the tests of whole training runs share: data through the curation gate and a tiny LoRA
// recipe on the reference Llama checkpoint (vocabulary 160).
#pragma once

#include "common/rng.h"
#include "data/curate/pipeline.h"
#include "tests/test_util.h"
#include "train/recipe.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace slimtune::test {

inline const std::string kModelFixtures =
    std::string(SLIMTUNE_SOURCE_DIR) + "/tests/fixtures/models/";

// `n` pre-tokenized records of 5..24 random ids below 160, one JSON line each.
inline std::vector<std::string> random_id_records(int n, uint64_t seed) {
    std::vector<std::string> lines;
    Rng rng(seed);
    for (int e = 0; e < n; ++e) {
        nlohmann::json ids = nlohmann::json::array();
        const int len = 5 + static_cast<int>(rng.next_u64() % 20);
        for (int i = 0; i < len; ++i)
            ids.push_back(rng.next_u64() % 160);
        lines.push_back(nlohmann::json{{"input_ids", ids}}.dump());
    }
    return lines;
}

// Writes `lines` to dir/NAME.jsonl and curates them into dir/NAME/ (quality and repetition
// rules and near-duplicate removal off: short, similar test records); returns the curated file,
// which must hold every line.
inline std::string
curated(const TempDir& dir, const std::string& name, const std::vector<std::string>& lines) {
    const std::string raw = dir.file(name + ".jsonl");
    {
        std::ofstream out(raw);
        for (const std::string& l : lines)
            out << l << "\n";
    }
    data::curate::CurateConfig config;
    config.threads = 1;
    config.quality.enabled = false;
    config.repetition.enabled = false;
    config.dedup.near = false;
    const auto summary = data::curate::curate_files({raw}, dir.file(name), config);
    REQUIRE(summary.documents_out == static_cast<int64_t>(lines.size()));
    return dir.file(name) + "/curated.jsonl";
}

// A small LoRA run on the llama_gqa fixture: 8 steps of 2 x 2 micro-batches of 32 tokens.
inline train::Recipe tiny_recipe(const std::string& data_train, const std::string& out) {
    train::Recipe r;
    r.model.path = kModelFixtures + "llama_gqa";
    r.data.train = data_train;
    r.trainer.mode = "lora";
    r.trainer.lora.targets = {"q_proj", "v_proj", "down_proj"};
    r.trainer.lora.rank = 4;
    r.trainer.lora.alpha = 8;
    r.trainer.optimizer.lr = 5e-3;
    r.trainer.schedule.name = "constant";
    r.trainer.seed = 5;
    r.train.max_steps = 8;
    r.data.packing.batch_size = 2;
    r.data.packing.seq_len = 32;
    r.train.grad_accum = 2;
    r.train.output_dir = out;
    return r;
}

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The JSON lines of a file.
inline std::vector<nlohmann::json> read_json_lines(const std::string& path) {
    std::vector<nlohmann::json> out;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        out.push_back(nlohmann::json::parse(line));
    return out;
}

} // namespace slimtune::test
