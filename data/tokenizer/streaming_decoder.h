// Text of a token sequence that grows one token at a time (generation printed as it comes),
// handed out in pieces that joined give exactly Tokenizer::decode of the whole sequence.
// A piece holds only text no later token can change: never the U+FFFD of a character whose
// bytes are split across byte-level or byte-fallback (<0xNN>) tokens, nor, with a tokenizer that
// cleans up tokenization spaces (" ." -> "."), the text from the last space on.
#pragma once

#include "data/tokenizer/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace slimtune::data {

class StreamingDecoder {
public:
    StreamingDecoder(const Tokenizer& tokenizer, DecodeOptions options);

    // Adds a token; returns the text that became final with it ("" when none did).
    std::string push(std::int32_t id);
    // Everything not yet returned (call once, after the last token).
    std::string finish();

private:
    // How much of `text` (the decode of every token so far) is final.
    std::size_t settled(const std::string& text) const;

    const Tokenizer& tokenizer_;
    DecodeOptions options_;
    bool cleans_up_;
    std::vector<std::int32_t> ids_;
    std::size_t emitted_ = 0; // bytes of the decoded text already returned
};

} // namespace slimtune::data
