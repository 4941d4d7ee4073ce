// A tokenizer as llama.cpp's GGUF metadata describes it (tokenizer.ggml.*): the token strings by
// id, their types, the merges, the special ids, and the pre-tokenizer name llama.cpp selects its
// split regex by. The name comes from the pre-tokenizer's structure and split pattern (the
// patterns slimtune recognises exactly, known_splits.h), not from a hash of encoded test text;
// a pre-tokenizer llama.cpp would not reproduce is refused rather than written as "default"
// (llama.cpp then degrades silently).
#pragma once

#include "data/tokenizer/tokenizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slimtune::data {

// llama.cpp's token types.
enum class GgufTokenType : std::int32_t {
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6
};

// llama.cpp's tokenizer models (tokenizer.ggml.model).
inline constexpr const char* kGgufByteLevelBpe = "gpt2";   // GPT-2, Llama-3, Qwen, SmolLM
inline constexpr const char* kGgufSentencePiece = "llama"; // Llama-2, TinyLlama, Mistral, Gemma

struct GgufVocab {
    std::string model;                     // kGgufByteLevelBpe or kGgufSentencePiece
    std::string pre;                       // byte-level: "gpt-2", "llama-bpe", "qwen2", "smollm"
    std::vector<std::string> tokens;       // by id, padded to the model's vocabulary
    std::vector<std::int32_t> token_types; // GgufTokenType values
    std::vector<std::string> merges;       // byte-level: "left right", in rank order
    // SentencePiece: llama.cpp merges the adjacent pair whose joined text is the token of
    // highest score, so a merged token's score is minus the rank of its first merge (the
    // merges of a SentencePiece model converted to tokenizer.json are ranked by piece score).
    std::vector<float> scores;
    bool add_space_prefix = false; // SentencePiece: "▁" before the text (Llama-2 yes, Gemma no)
    std::optional<std::int32_t> bos, eos, unk, pad, eot;
    bool add_bos = false, add_eos = false;
    std::string chat_template;
};

// `vocab_size`: the model's embedding rows (>= the tokenizer's ids; extra ids become
// "[PAD<id>]" tokens of type Unused). `pre_override` names the pre-tokenizer of a byte-level
// BPE when the automatic recognition cannot. ConfigError for a tokenizer llama.cpp cannot
// reproduce (neither byte-level BPE nor SentencePiece-style BPE with byte fallback, an
// unrecognised split pattern), or ids beyond vocab_size.
GgufVocab gguf_vocab(const Tokenizer& tokenizer,
                     std::int64_t vocab_size,
                     const std::string& pre_override = "");

} // namespace slimtune::data
