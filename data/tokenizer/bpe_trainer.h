// Learns a byte-level BPE vocabulary from text and writes it as a tokenizer.json that
// transformers and transformers.js load (and slimtune's Tokenizer, of course).
//
// Algorithm (as tokenizers' BpeTrainer): text is normalized and pre-tokenized exactly as the
// resulting tokenizer will do it; identical pieces are counted once with a weight; starting
// from the 256 byte characters, the most frequent adjacent pair is merged until the vocabulary
// reaches the requested size or no pair occurs `min_frequency` times. Ties go to the pair of
// smaller ids, so a run is deterministic.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slimtune::data {

struct BpeTrainerOptions {
    std::size_t vocab_size = 8192;   // special tokens + 256 bytes + merges
    std::uint64_t min_frequency = 2; // a pair seen fewer times is never merged
    std::size_t max_token_chars = 0; // longest token in characters (0: no limit)
    // How text is cut before counting: "qwen2" (NFC, Qwen2's split regex: single digits),
    // "llama3" (Llama-3's regex: digits in groups of up to 3), "gpt2" (GPT-2's ByteLevel
    // regex), "smollm" (single digits, then GPT-2's regex).
    std::string pre_tokenizer = "qwen2";
    // Added as special tokens with ids 0..n-1, in this order, and never learned from text.
    std::vector<std::string> special_tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
};

std::vector<std::string> bpe_pre_tokenizer_names();

struct BpeTrainingStats {
    std::uint64_t bytes = 0, pieces = 0, unique_pieces = 0;
    std::size_t merges = 0, vocab_size = 0;
    bool stopped_by_frequency = false; // ran out of pairs seen min_frequency times
};

class BpeTrainer {
public:
    // Throws ConfigError for an unknown pre-tokenizer or a vocabulary too small to hold the
    // special tokens and the 256 byte tokens.
    explicit BpeTrainer(BpeTrainerOptions options);
    ~BpeTrainer();

    // Counts the pieces of one document (special-token strings in it are skipped, not learned).
    // Memory grows with the number of distinct pieces, not with the text.
    void add_text(std::string_view text);

    // Learns the merges and returns the tokenizer.json document.
    nlohmann::json train();
    const BpeTrainingStats& stats() const { return stats_; }

    // The tokenizer_config.json that goes next to it: the special tokens as bos/eos/pad
    // (<|endoftext|> when present), ChatML markers as additional special tokens.
    nlohmann::json tokenizer_config() const;

private:
    nlohmann::json skeleton() const; // tokenizer.json without model and added tokens
    BpeTrainerOptions options_;
    BpeTrainingStats stats_;
    std::unordered_map<std::string, std::uint64_t> counts_;
    struct Parts;
    std::unique_ptr<Parts> parts_; // normalizer + pre-tokenizer built from skeleton()
};

} // namespace slimtune::data
