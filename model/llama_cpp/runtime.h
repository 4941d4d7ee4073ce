// llama.cpp's own inference on a GGUF file (libllama, opened with model/llama_cpp/library.h):
// load a model, tokenize with its vocabulary, take the logits llama.cpp computes (with or
// without a LoRA adapter), and generate. `slimtune quickstart` generates with it beside
// slimtune's own GGUF reader where the library is installed; the tests use it as an oracle.
// Runs on the CPU only. No llama.cpp header is used: runtime.cpp declares the few prototypes
// and struct layouts of the release it was written against and checks them against the
// library at run time, so that another release is refused with a message instead of being
// called wrongly. Every failure is a std::runtime_error naming the step, with llama.cpp's own
// warnings and errors appended (its logs are otherwise silent; SLIMTUNE_LLAMA_LOG=1 shows them
// all).
#pragma once

#include "model/generate.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slimtune::llama_cpp {

// Binds the API of the open libraries (llama_cpp::open) and checks it against the release
// declared here: every function present, enum values and default parameters as expected.
// std::runtime_error naming the first difference.
void check_api();

class Model {
public:
    // Loads a GGUF model file on the CPU with a context of n_ctx tokens (the most one sequence
    // holds) and `threads` threads. The libraries must be open (llama_cpp::open).
    static Model load(const std::string& gguf_path, int n_ctx = 512, int threads = 2);

    ~Model();
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    int32_t n_vocab() const { return n_vocab_; }
    // The context size asked for at load(): the longest sequence it takes.
    int n_ctx() const { return n_ctx_; }

    // llama_tokenize on the model's vocabulary.
    std::vector<int32_t>
    tokenize(const std::string& text, bool add_special, bool parse_special) const;

    // Logits of every position of `ids`, decoded as one fresh sequence from position 0 (the KV
    // cache is cleared first): ids.size() rows of n_vocab() floats, row-major. At most n_ctx()
    // ids; every id must be below n_vocab(). No ids: no rows.
    std::vector<float> logits(const std::vector<int32_t>& ids);

    // Incremental decoding: extend() decodes `ids` after the n_past() positions already in the
    // KV cache and returns the logits of the last one (n_vocab() floats); reset() empties the
    // cache. logits() starts over too.
    std::vector<float> extend(std::span<const int32_t> ids);
    void reset();
    int n_past() const;

    // Applies a GGUF LoRA adapter file with `scale` to the context: later logits use it.
    // Adapters accumulate (each call adds one to those already applied).
    void apply_lora(const std::string& adapter_gguf, float scale = 1.0f);

    // The model's metadata value for `key` as a string ("" when absent).
    std::string meta(const std::string& key) const;

private:
    struct State;
    Model(std::unique_ptr<State> state, int32_t n_vocab, int n_ctx);
    std::vector<float> decode(std::span<const int32_t> ids, bool all_rows);
    std::unique_ptr<State> state_; // llama.cpp's model, context and adapters
    int32_t n_vocab_;
    int n_ctx_;
};

// The tokens llama.cpp's logits continue `prompt` with, each picked by slimtune's own sampler
// (sample_next, the rule `slimtune generate` uses): the same generation as slimtune's, with
// llama.cpp computing the model. Stops at a stop id, after opts.max_new_tokens, or when the
// context is full.
std::vector<int32_t>
generate(Model& m, std::span<const int32_t> prompt, const SamplingOptions& opts);

// Mean next-token negative log-likelihood (natural log) of ids[1..] given the ids before each,
// from llama.cpp's logits; exp() of it is the perplexity. Sequences longer than the context are
// scored in windows of at most n_ctx() ids that overlap by one, so that every id after the
// first is predicted exactly once; each window starts from an empty cache. Needs 2 ids or more.
double mean_nll(Model& m, const std::vector<int32_t>& ids);

} // namespace slimtune::llama_cpp
