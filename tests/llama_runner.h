// llama.cpp's inference (libllama from @node-llama-cpp/linux-x64, opened with dlopen through
// tests/ggml_oracle.h) as a test oracle: load a GGUF that slimtune exported, tokenize with its
// vocabulary, and take the logits llama.cpp computes, with or without a LoRA adapter. Runs on
// the CPU only. No llama.cpp header is used: llama_runner.cpp declares the few prototypes and
// struct layouts of the package's release itself and checks them against the library at run
// time. Every failure is a std::runtime_error naming the step, with llama.cpp's own warnings
// and errors appended (its logs are otherwise silent; SLIMTUNE_LLAMA_LOG=1 shows them all).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace slimtune::test {

class LlamaCppModel {
public:
    // Loads a GGUF model file in llama.cpp on the CPU with a context of n_ctx tokens (the most
    // one logits() call takes) and 2 threads.
    static LlamaCppModel load(const std::string& gguf_path, int n_ctx = 512);

    ~LlamaCppModel();
    LlamaCppModel(LlamaCppModel&&) noexcept;
    LlamaCppModel& operator=(LlamaCppModel&&) noexcept;
    LlamaCppModel(const LlamaCppModel&) = delete;
    LlamaCppModel& operator=(const LlamaCppModel&) = delete;

    int32_t n_vocab() const { return n_vocab_; }
    // The context size asked for at load(): the longest sequence logits() takes.
    int n_ctx() const { return n_ctx_; }

    // llama_tokenize on the model's vocabulary.
    std::vector<int32_t>
    tokenize(const std::string& text, bool add_special, bool parse_special) const;

    // Logits of every position of `ids`, decoded as one fresh sequence from position 0 (the KV
    // cache is cleared first): ids.size() rows of n_vocab() floats, row-major. At most n_ctx()
    // ids; every id must be below n_vocab(). No ids: no rows.
    std::vector<float> logits(const std::vector<int32_t>& ids);

    // Applies a GGUF LoRA adapter file with `scale` to the context: later logits() use it.
    // Adapters accumulate (each call adds one to those already applied).
    void apply_lora(const std::string& adapter_gguf, float scale = 1.0f);

    // The model's metadata value for `key` as a string ("" when absent).
    std::string meta(const std::string& key) const;

private:
    struct State;
    LlamaCppModel(std::unique_ptr<State> state, int32_t n_vocab, int n_ctx);
    std::unique_ptr<State> state_; // llama.cpp's model, context and adapters
    int32_t n_vocab_;
    int n_ctx_;
};

// Mean next-token negative log-likelihood (natural log) of ids[1..] given the ids before each,
// from llama.cpp's logits; exp() of it is the perplexity. Sequences longer than the context are
// scored in windows of at most n_ctx() ids that overlap by one, so that every id after the
// first is predicted exactly once; each window starts from an empty cache. Needs 2 ids or more.
double llama_cpp_mean_nll(LlamaCppModel& m, const std::vector<int32_t>& ids);

} // namespace slimtune::test
