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

struct GgufVocab {
    std::string model;                     // "gpt2": byte-level BPE (the only kind written so far)
    std::string pre;                       // "gpt-2", "llama-bpe", "qwen2", "smollm"
    std::vector<std::string> tokens;       // by id, padded to the model's vocabulary
    std::vector<std::int32_t> token_types; // GgufTokenType values
    std::vector<std::string> merges;       // "left right", in rank order
    std::optional<std::int32_t> bos, eos, unk, pad, eot;
    bool add_bos = false, add_eos = false;
    std::string chat_template;
};

// `vocab_size`: the model's embedding rows (>= the tokenizer's ids; extra ids become
// "[PAD<id>]" tokens of type Unused). `pre_override` names the pre-tokenizer when the
// automatic recognition cannot. ConfigError for a tokenizer llama.cpp cannot reproduce (not
// byte-level BPE, an unrecognised split pattern), or ids beyond vocab_size.
GgufVocab gguf_vocab(const Tokenizer& tokenizer,
                     std::int64_t vocab_size,
                     const std::string& pre_override = "");

} // namespace slimtune::data
