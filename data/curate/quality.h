// Quality and repetition rules for `slimtune curate`: the Gopher quality filter, the Gopher
// repetition filter and the FineWeb quality filter, as pure functions over one document's text.
// Definitions and thresholds follow datatrove (curation.md §1-§3) so that numbers published for
// those filters carry over; where datatrove leans on spaCy/NLTK we use the documented stand-ins
// below instead.
//
// Conventions shared by every rule here:
// - "Characters" are Unicode code points (Python's len()), never bytes.
// - "Whitespace" is Python's str.isspace() set: U+0009-000D, U+001C-0020, U+0085, U+00A0,
//   U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F, U+3000. strip/split use it.
// - "Punctuation" is every code point of Unicode general category P* (punctuation), S* (symbols,
//   emoji included) or C* (controls, format characters, private use, unassigned).
// - A ratio whose denominator is zero (no tokens, no lines, empty text) is reported as 0 and its
//   rule does not fire: datatrove would divide by zero there.
// All functions are thread-safe; the text must be valid UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slimtune::data::curate {

// The first rule a document fails: a stable rule id (snake_case, e.g. "gopher_min_words",
// "gopher_dup_line_frac", "gopher_top_3gram", "gopher_dup_7gram", "fineweb_short_lines"), the
// measured value and the threshold it crossed.
struct RuleFailure {
    std::string rule;
    double value = 0, threshold = 0;
};

// Rule ids, in check order: gopher_min_words, gopher_max_words, gopher_min_mean_word_length,
// gopher_max_mean_word_length, gopher_hash_ratio, gopher_ellipsis_ratio, gopher_bullet_lines,
// gopher_ellipsis_lines, gopher_alpha_words, gopher_stop_words.
struct GopherQualityConfig {
    bool enabled = true;
    int64_t min_words = 50, max_words = 100000; // non-symbol words
    double min_mean_word_length = 3, max_mean_word_length = 10;
    double max_symbol_word_ratio = 0.1;   // '#' count / all tokens
    double max_ellipsis_word_ratio = 0.1; // ("..." + "…") count / all tokens
    double max_bullet_lines_ratio = 0.9, max_ellipsis_lines_ratio = 0.3;
    double min_alpha_words_ratio = 0.8;
    int64_t min_stop_words = 2;
    std::vector<std::string> stop_words{"the", "be", "to", "of", "and", "that", "have", "with"};
};

// Rule ids, in check order: gopher_dup_para_frac, gopher_dup_para_char_frac,
// gopher_dup_line_frac, gopher_dup_line_char_frac, gopher_top_<n>gram (in list order),
// gopher_dup_<n>gram (in list order). Every n must be >= 1 (ConfigError otherwise).
// The rules measure fractions of the document, which mean something only for a document of
// some length: one bigram of a 5-word sentence is already 40 % of it (> 20 %), one repeated line
// of a 3-line chat 33 % (> 30 %). gopher_repetition passes a document of fewer than `min_words`
// non-symbol words (the words gopher_quality counts) without checking it (ours: datatrove
// applies the rules after its 50-word minimum, which is the default here; 0 checks every
// document).
struct GopherRepetitionConfig {
    bool enabled = true;
    int64_t min_words = 50;
    double max_dup_para_frac = 0.30, max_dup_para_char_frac = 0.20;
    double max_dup_line_frac = 0.30, max_dup_line_char_frac = 0.20;
    std::vector<std::pair<int, double>> top_ngram_max{{2, 0.20}, {3, 0.18}, {4, 0.16}};
    std::vector<std::pair<int, double>> dup_ngram_max{{5, 0.15}, {6, 0.14}, {7, 0.13},
                                                      {8, 0.12}, {9, 0.11}, {10, 0.10}};
};

// Rule ids, in check order: fineweb_empty (no non-blank line; value and threshold 0),
// fineweb_terminal_punct_lines, fineweb_short_lines, fineweb_dup_line_chars,
// fineweb_newline_word_ratio.
struct FineWebQualityConfig {
    bool enabled = false; // off by default for fine-tuning data (short chat turns)
    double min_terminal_punct_lines = 0.12, max_short_lines = 0.67; // short: <= short_line_chars
    int64_t short_line_chars = 30;
    double max_dup_line_char_frac = 0.01, max_newline_word_ratio = 0.3;
};

// Tokens as the Gopher rules count them (our stand-in for spaCy's blank English tokenizer):
// 1. split the text on whitespace into pieces;
// 2. cut each piece into extended grapheme clusters (so an emoji with its skin tone, variation
//    selector or ZWJ sequence, or a letter with combining marks, is one unit); a cluster is
//    "punctuation" when its first code point is;
// 3. the leading and the trailing punctuation clusters of a piece become tokens of their own,
//    one per cluster, except that a run of two or more "." clusters is one token ("...", "..");
// 4. what lies between the first and the last non-punctuation cluster stays one token, interior
//    punctuation included ("don't", "e-mail", "3.14", "U.S.A").
// Examples: "(hello," -> "(", "hello", ","; "wait..." -> "wait", "..."; "wait…" -> "wait", "…";
// "?!" -> "?", "!"; "Hi👋🏽!" -> "Hi", "👋🏽", "!".
// CJK is not segmented: "東京に行く。" -> "東京に行く", "。". Views point into `text`.
std::vector<std::string_view> gopher_tokens(std::string_view text);
// True when every grapheme cluster of `token` starts with a punctuation code point (true for "").
// datatrove uses a fixed PUNCTUATION_SET; ours is the category rule above, so emoji and
// currency signs count as symbols too.
bool is_symbol_token(std::string_view token);

// The FineWeb "terminal punctuation" set: code points with the Unicode Sentence_Terminal
// property (Unicode 14: "!", ".", "?", "。", "！", "？", "؟", "।", ... 152 in all). Unlike
// datatrove's older tuple it excludes quote marks, and "…" is not a sentence terminal.
bool is_sentence_terminal(char32_t cp);

// The measurements behind gopher_quality, for reports and tests.
struct GopherQualityStats {
    int64_t tokens = 0, words = 0;             // all tokens; non-symbol words
    double mean_word_length = 0;               // code points per non-symbol word
    double hash_ratio = 0, ellipsis_ratio = 0; // raw-text occurrences / tokens
    int64_t lines = 0;                         // str.splitlines()
    double bullet_lines_ratio = 0, ellipsis_lines_ratio = 0;
    double alpha_words_ratio = 0; // tokens with a letter (L*) / tokens
    int64_t stop_words = 0;       // distinct configured stop words present (case-sensitive)
};
GopherQualityStats gopher_quality_stats(std::string_view text, const GopherQualityConfig&);

// Repetition measurements. Paragraphs: the stripped text split on runs of 2+ "\n". Lines: the
// unstripped text split on runs of 1+ "\n" (a trailing "\n" yields an empty last line). The
// first occurrence of an element is not a duplicate; each later one counts once and adds its
// length. Char fractions divide by the code point count of the whole text.
// top_ngram_frac[i] (n = top_ngram_max[i].first): the most frequent word n-gram (words joined
// by one space; ties go to the n-gram seen first) as length x count / text length; 0 and not
// checked when the text has fewer than n words (datatrove skips it).
// dup_ngram_frac[i]: scanning positions, an n-gram (words concatenated without separator)
// seen before adds its length and jumps n positions; an unseen one is recorded and steps 1.
struct RepetitionStats {
    double dup_para_frac, dup_para_char_frac, dup_line_frac, dup_line_char_frac;
    std::vector<double> top_ngram_frac /*per configured n*/, dup_ngram_frac;
};
RepetitionStats repetition_stats(std::string_view text, const GopherRepetitionConfig&);

// The measurements behind fineweb_quality. Lines are text split on "\n" with blank lines (only
// whitespace) dropped; `lines` is how many remain.
struct FineWebStats {
    int64_t lines = 0;
    double terminal_punct_lines = 0; // lines whose last code point (unstripped) is terminal
    double short_lines = 0;          // lines with <= short_line_chars code points
    double dup_line_char_frac = 0;   // duplicate-line chars / chars other than "\n"
    double newline_word_ratio = 0;   // "\n" count / gopher_tokens count
};
FineWebStats fineweb_stats(std::string_view text, const FineWebQualityConfig&);

// nullopt when the document passes (or the config is disabled); otherwise the first failure.
std::optional<RuleFailure> gopher_quality(std::string_view text, const GopherQualityConfig&);
std::optional<RuleFailure> gopher_repetition(std::string_view text, const GopherRepetitionConfig&);
std::optional<RuleFailure> fineweb_quality(std::string_view text, const FineWebQualityConfig&);

} // namespace slimtune::data::curate
