// Models to export in the GGUF tests: the reference checkpoints (tests/fixtures/models, made by
// tests/reference/gen_models.py) have vocabularies of 96-160 ids, too few for a byte-level BPE
// tokenizer (256 byte tokens), which llama.cpp needs to load a model. exportable_fixture()
// widens a checkpoint's embedding (and untied head) with seeded random rows to a trained
// tokenizer's size and saves it with that tokenizer; every other tensor, and so every
// architecture-specific path (Q/K permutation, Llama-3 rope factors, Granite scales, GPT-2
// Conv1D), is the reference checkpoint's.
#pragma once

#include "common/rng.h"
#include "data/tokenizer/bpe_trainer.h"
#include "data/tokenizer/tokenizer.h"
#include "model/hf_config.h"
#include "model/io/save_model.h"
#include "model/transformer.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace slimtune::export_test {

namespace fs = std::filesystem;

inline fs::path fixture_dir(const std::string& name) {
    return fs::path(SLIMTUNE_SOURCE_DIR) / "tests" / "fixtures" / "models" / name;
}

// Trains a byte-level BPE tokenizer of `vocab` ids with pre-tokenizer `pre` on the tokenizer
// corpus and prose.md (a frozen copy of an earlier README: the tests that compare these
// tokenizers with llama.cpp list the lines where the two differ, which a changing text would
// move), and writes tokenizer.json + tokenizer_config.json into `dir`.
inline void train_tokenizer(const fs::path& dir, std::size_t vocab, const std::string& pre) {
    data::BpeTrainer t(
        {.vocab_size = vocab, .min_frequency = 2, .max_token_chars = 0, .pre_tokenizer = pre});
    for (const char* f :
         {"tests/fixtures/tokenizer/corpus.jsonl", "tests/fixtures/tokenizer/prose.md"}) {
        std::ifstream in(fs::path(SLIMTUNE_SOURCE_DIR) / f);
        for (std::string line; std::getline(in, line);)
            t.add_text(line);
    }
    const nlohmann::json tj = t.train();
    fs::create_directories(dir);
    std::ofstream(dir / "tokenizer.json") << tj.dump();
    nlohmann::json cfg = t.tokenizer_config();
    cfg["chat_template"] =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
        "%}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    std::ofstream(dir / "tokenizer_config.json") << cfg.dump(2);
}

// Rows [old, vocab) of a (old, C) matrix filled with seeded N(0, 0.02) values.
inline Tensor widen_rows(const Tensor& t, int64_t vocab, Rng& rng) {
    std::vector<float> v(t.values().begin(), t.values().end());
    v.resize(static_cast<size_t>(vocab * t.dim(1)));
    for (size_t i = static_cast<size_t>(t.numel()); i < v.size(); ++i)
        v[i] = rng.next_normal() * 0.02f;
    return Tensor::from({vocab, t.dim(1)}, std::move(v));
}

// Saves fixture `name` widened to `vocab` ids with a tokenizer trained for it (pre-tokenizer
// `pre`) into `out`; returns the loaded result.
inline Model exportable_fixture(const std::string& name,
                                const fs::path& out,
                                std::size_t vocab = 300,
                                const std::string& pre = "gpt2") {
    const fs::path tok_dir = out / "tok";
    train_tokenizer(tok_dir, vocab, pre);
    Model m = load_model(fixture_dir(name).string());
    Rng rng(1234);
    const auto v = static_cast<int64_t>(vocab);
    m.embed = widen_rows(m.embed, v, rng);
    if (m.lm_head.defined())
        m.lm_head = widen_rows(m.lm_head, v, rng);
    io::save_hf_model(m, fixture_dir(name).string(), out.string());
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
        fs::copy_file(tok_dir / f, out / f, fs::copy_options::overwrite_existing);
    // config.json was copied from the fixture: give it the new vocabulary size, and the trained
    // tokenizer's EOS as the only stop id (in config.json and generation_config.json), as a
    // real model directory has, so that generation stops at the same ids from the directory
    // and from a GGUF (which carries the tokenizer's EOS and EOT).
    const std::optional<int32_t> eos = data::Tokenizer::load(out.string()).eos_id();
    for (const char* f : {"config.json", "generation_config.json"}) {
        if (!fs::exists(out / f))
            continue;
        nlohmann::json cfg;
        std::ifstream(out / f) >> cfg;
        if (std::string(f) == "config.json")
            cfg["vocab_size"] = v;
        if (eos && cfg.contains("eos_token_id"))
            cfg["eos_token_id"] = *eos;
        std::ofstream(out / f) << cfg.dump(2);
    }
    return load_model(out.string());
}

// A model of `config_json` (config.json text) with seeded random weights (norms near 1, the
// rest N(0, 0.05)), saved to `out` with a tokenizer of config's vocab_size trained with `pre`:
// for shapes the reference checkpoints do not have (rows of 256 that K-quants take whole).
inline Model random_exportable(const std::string& config_json,
                               const fs::path& out,
                               const std::string& pre = "gpt2",
                               uint64_t seed = 7) {
    const fs::path src = out / "src";
    fs::create_directories(src);
    std::ofstream(src / "config.json") << config_json;
    Model m = model_skeleton(parse_hf_config(config_json, "config.json"));
    Rng rng(seed);
    for (NamedParam& p : model_params(m)) {
        const Shape shape = p.tensor->shape();
        const bool norm = shape.size() == 1 && (p.name.find("norm") != std::string::npos ||
                                                p.name.find("ln_") != std::string::npos);
        std::vector<float> v(static_cast<size_t>(p.tensor->numel()));
        for (float& x : v)
            x = (norm ? 1.0f : 0.0f) + rng.next_normal() * (norm ? 0.1f : 0.05f);
        *p.tensor = Tensor::from(shape, std::move(v));
    }
    io::save_hf_model(m, src.string(), out.string());
    if (!pre.empty()) // "" : no tokenizer (the caller brings one)
        train_tokenizer(out, static_cast<std::size_t>(m.cfg.vocab_size), pre);
    return load_model(out.string());
}

} // namespace slimtune::export_test
