// Pre-tokenizers of tokenizer.json ("pre_tokenizer" key): ByteLevel, Split (String or Regex
// pattern, every behavior, invert), Digits, Metaspace, Whitespace, WhitespaceSplit and Sequence.
// A pre-tokenizer cuts normalized text into pieces that BPE then encodes one at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data {

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Splits every piece of `pieces` further, in place and in order. `first_section` is true
    // when the text these pieces came from starts the input (Metaspace's prepend_scheme "first").
    virtual void split(std::vector<std::string>& pieces, bool first_section) const = 0;
};

// nullptr for JSON null; FormatError naming `where` for unknown types or malformed fields.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& config,
                                                 const std::string& where);

// How Split keeps the delimiters it finds (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Cuts `text` at the spans where `is_delimiter` matched (pairs of byte offsets, sorted, non
// overlapping) according to `behavior`; shared by Split, Digits, Metaspace's split and
// Whitespace. Empty pieces are never produced.
struct Span {
    std::size_t begin, end;
    bool delimiter;
};
std::vector<std::string>
split_spans(std::string_view text, const std::vector<Span>& spans, SplitBehavior behavior);

// GPT-2's reversible byte -> printable character map (byte-level BPE): the printable bytes
// '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF map to themselves, the other 68 bytes to U+0100+n
// in byte order.
char32_t byte_to_unicode(std::uint8_t byte);
// Inverse of byte_to_unicode; -1 for a character outside the map.
int unicode_to_byte(char32_t cp);
// Every byte of `text` as its byte-level character, UTF-8 encoded.
std::string byte_level_encode(std::string_view text);

// The pattern ByteLevel uses when use_regex is true (GPT-2's), as written in tokenizers.
extern const char* const kGpt2SplitPattern;

} // namespace slimtune::data
