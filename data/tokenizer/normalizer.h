// Normalizers of tokenizer.json ("normalizer" key): NFC, NFD, NFKC, NFKD, Lowercase, Strip,
// StripAccents, Prepend, Replace and Sequence. Unicode normalization comes from utf8proc.
// Semantics follow transformers.js (the reference encoder); see docs/tokenizers.md.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace slimtune::data {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual std::string normalize(std::string_view text) const = 0;
    // How many times longer normalize() can make a text through Replace steps (1: none).
    virtual double replace_growth() const { return 1; }
};

// Builds the normalizer described by `config` (a tokenizer.json "normalizer" object); returns
// nullptr for JSON null. Unknown types throw FormatError naming `where`.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& config, const std::string& where);

// Unicode helpers used by normalizers and elsewhere in data/.
enum class UnicodeForm { NFC, NFD, NFKC, NFKD };
std::string unicode_normalize(std::string_view text, UnicodeForm form);
// Full lowercase mapping as JavaScript's toLowerCase (U+0130 and the final-sigma rule included).
std::string to_lower(std::string_view text);
// Unicode's Final_Sigma condition for the capital sigma at bytes [begin, end) of valid UTF-8
// `text`: a cased letter before it and none after it, case-ignorable characters skipped.
bool is_final_sigma(std::string_view text, std::size_t begin, std::size_t end);
// Removes combining marks (general category M*), as StripAccents does after NFD.
std::string strip_marks(std::string_view text);
// JavaScript trim/trimStart/trimEnd semantics (is_js_whitespace).
std::string_view trim_js(std::string_view text, bool left, bool right);

} // namespace slimtune::data
