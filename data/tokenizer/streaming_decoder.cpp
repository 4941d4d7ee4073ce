#include "data/tokenizer/streaming_decoder.h"

#include <string_view>

namespace slimtune::data {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD in UTF-8

// The length of `text`'s first `end` bytes without a last character whose bytes are not all
// there yet (a decoder that passes raw bytes through).
std::size_t without_partial_char(std::string_view text, std::size_t end) {
    std::size_t start = end;
    while (start > 0 && end - start < 4 &&
           (static_cast<unsigned char>(text[start - 1]) & 0xC0) == 0x80)
        --start;
    if (start == 0)
        return end;
    const auto lead = static_cast<unsigned char>(text[start - 1]);
    const std::size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return end - (start - 1) < want ? start - 1 : end;
}

} // namespace

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(tokenizer), options_(options),
      cleans_up_(options.clean_up_tokenization_spaces.value_or(
          tokenizer.config().clean_up_tokenization_spaces)) {}

std::size_t StreamingDecoder::settled(const std::string& text) const {
    std::size_t end = text.size();
    // A character split across tokens decodes as U+FFFD until its last byte arrives.
    while (end >= kReplacement.size() &&
           std::string_view(text).substr(end - kReplacement.size()) == kReplacement)
        end -= kReplacement.size();
    end = without_partial_char(text, end);
    // Clean-up removes the space before punctuation and contractions ("a ." -> "a."): a space
    // and what follows it may still change.
    if (cleans_up_ && end > 0) {
        const std::size_t space = text.rfind(' ', end - 1);
        if (space != std::string::npos)
            end = space;
    }
    return end;
}

std::string StreamingDecoder::push(std::int32_t id) {
    ids_.push_back(id);
    const std::string text = tokenizer_.decode(ids_, options_);
    const std::size_t end = settled(text);
    if (end <= emitted_)
        return {};
    std::string piece = text.substr(emitted_, end - emitted_);
    emitted_ = end;
    return piece;
}

std::string StreamingDecoder::finish() {
    const std::string text = tokenizer_.decode(ids_, options_);
    std::string rest = emitted_ < text.size() ? text.substr(emitted_) : std::string();
    emitted_ = text.size();
    return rest;
}

} // namespace slimtune::data
