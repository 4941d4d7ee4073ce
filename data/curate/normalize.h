// Curation stage 1: text normalisation, applied to every free-text field of a record before any
// other stage looks at it, so that filters, dedup hashes and PII patterns all see one canonical
// form. In order:
//   1. ill-formed UTF-8: repaired (each maximal ill-formed subsequence -> U+FFFD, the WHATWG
//      rule the tokenizer uses) or, with invalid_utf8 = drop, the document is dropped;
//   2. Unicode normalisation form (NFC by default; "none" keeps the text's own);
//   3. line ends: CRLF and lone CR -> LF; U+2028/U+2029 -> LF;
//   4. control characters: C0/C1 controls other than TAB and LF, and the invisible format
//      characters U+200B, U+2060, U+FEFF and U+00AD are removed (ZWJ/ZWNJ stay: emoji and
//      Indic scripts need them);
//   5. whitespace: other Unicode spaces (NBSP, U+2000..U+200A, U+3000, ...) -> ' ', runs of
//      spaces and tabs inside a line -> one space (a line's indentation is kept: code), trailing
//      spaces of a line removed, more than two consecutive line breaks -> two, the field
//      trimmed.
// Each step can be switched off; the result says which steps changed the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace slimtune::data::curate {

struct NormalizeConfig {
    bool enabled = true;
    std::string unicode_form = "nfc";    // nfc | nfkc | none
    std::string invalid_utf8 = "repair"; // repair | drop
    bool strip_control = true;
    bool normalize_whitespace = true;
};

struct NormalizeResult {
    std::string text;
    bool invalid_utf8 = false; // the input was not UTF-8 (repaired unless dropped)
    std::int64_t replaced = 0; // U+FFFD inserted by the repair
    bool changed_form = false, removed_control = false, changed_whitespace = false;
    bool changed() const {
        return invalid_utf8 || changed_form || removed_control || changed_whitespace;
    }
};

// ConfigError for an unknown unicode_form or invalid_utf8 value.
void check_normalize_config(const NormalizeConfig& config);

NormalizeResult normalize_text(std::string_view text, const NormalizeConfig& config);

} // namespace slimtune::data::curate
