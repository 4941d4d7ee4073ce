// The [curate] section of a recipe: one key per setting of data::curate::CurateConfig, named
// curate.<stage>.<setting>, with the documented defaults (docs/curation.md).
#include "train/curate_keys.h"

#include "data/curate/profile.h"
#include "train/recipe.h"
#include "train/recipe_keys.h"

namespace slimtune::train {

using namespace recipe_detail;

namespace {

// CKEY(kind, "stage.key", member path in CurateConfig, args...)
#define CKEY(kind, name, member, ...)                                                              \
    kind(                                                                                          \
        "curate." name, [](auto& r) -> auto& { return r.curate.member; }, __VA_ARGS__)

// "n=threshold,..." for the n-gram rules: n an integer >= 1, thresholds in [0, 1].
template <class F> Key ngram_limits(const char* name, F field, const char* help) {
    return {name, "n=fraction,... with n >= 1 and fractions in [0, 1]", help,
            [=](Recipe& r, const std::string& v) {
                std::vector<std::pair<int, double>> out;
                for (const auto& item : split_list(v)) {
                    const auto eq = item.find('=');
                    if (eq == std::string::npos)
                        throw BadValue{"not n=fraction"};
                    const int n = parse_integer<int>(item.substr(0, eq));
                    const double x = parse_number(item.substr(eq + 1));
                    if (n < 1 || !kUnit.contains(x))
                        throw BadValue{"out of range"};
                    out.emplace_back(n, x);
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](const auto& p) {
                    return std::to_string(p.first) + "=" + format_number(p.second);
                });
            }};
}

// "a:b,..." group pairs.
template <class F> Key group_pairs(const char* name, F field, const char* help) {
    return {name, "group_a:group_b,...", help,
            [=](Recipe& r, const std::string& v) {
                std::vector<std::pair<std::string, std::string>> out;
                for (const auto& item : split_list(v)) {
                    const auto colon = item.find(':');
                    if (colon == std::string::npos || trim(item.substr(0, colon)).empty() ||
                        trim(item.substr(colon + 1)).empty())
                        throw BadValue{"not group_a:group_b"};
                    out.emplace_back(trim(item.substr(0, colon)), trim(item.substr(colon + 1)));
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](const auto& p) { return p.first + ":" + p.second; });
            }};
}

// One extra PII pattern inline, "NAME=REGEX" (the regex may hold commas and '='); more come
// from curate.pii.patterns_file.
Key pii_extra() {
    return {"curate.pii.extra", "NAME=REGEX or empty",
            "one extra PII pattern (PCRE2); matches become <NAME>",
            [](Recipe& r, const std::string& v) {
                r.curate.pii.detect.extra.clear();
                const std::string s = trim(v);
                if (s.empty())
                    return;
                const auto eq = s.find('=');
                if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
                    throw BadValue{"not NAME=REGEX"};
                r.curate.pii.detect.extra.push_back({trim(s.substr(0, eq)), s.substr(eq + 1)});
            },
            [](const Recipe& r) {
                const auto& e = r.curate.pii.detect.extra;
                return e.empty() ? std::string() : e.front().name + "=" + e.front().regex;
            }};
}

} // namespace

CurateRecipe load_curate_recipe(const std::string& path,
                                const std::vector<std::string>& overrides,
                                const std::vector<std::string>& inputs) {
    const Recipe asked = load_recipe(path, overrides, RecipeUse::curate);
    data::curate::ProfileChoice choice;
    if (asked.curate.profile != "auto")
        choice = {asked.curate.profile, "set by curate.profile"};
    else if (inputs.empty())
        choice = {"pretrain", "auto, with no input to choose from (sft is chosen for chat, "
                              "Alpaca and prompt/completion records)"};
    else
        choice = data::curate::choose_profile(inputs, asked.curate.record);
    Recipe defaults;
    defaults.curate = data::curate::profile_config(choice.profile);
    Recipe recipe = load_recipe(path, overrides, RecipeUse::curate, &defaults);
    recipe.curate.profile = choice.profile;
    return {std::move(recipe), std::move(choice)};
}

const std::vector<Key>& curate_keys() {
    static const std::vector<Key> table = {
        CKEY(choice, "profile", profile, data::curate::curate_profile_names(),
             "threshold set the keys start from: sft (instruction, chat, Q&A data), pretrain "
             "(datatrove's Gopher defaults for web text); auto: sft for chat, Alpaca and "
             "prompt/completion records, pretrain for text"),
        CKEY(mapped_choice, "format", record.format, dataset_formats(),
             "record format; auto: detected per line"),
        CKEY(text, "text_field", record.text_field, "a JSON field name", "field of text records"),
        CKEY(string_map, "role_map", record.role_map, "ShareGPT 'from' values mapped to roles"),
        CKEY(mapped_choice, "on_bad_line", skip_bad_lines, {{"error", false}, {"skip", true}},
             "a malformed line stops the run, or is rejected and counted"),
        CKEY(integer, "threads", threads, 0, "CPU threads; 0: all cores"),
        CKEY(integer, "chunk_docs", chunk_docs, 1, "documents in memory at a time"),
        CKEY(boolean, "normalize.enabled", normalize.enabled, "stage 1: normalise text"),
        CKEY(choice, "normalize.unicode_form", normalize.unicode_form, {"nfc", "nfkc", "none"},
             "Unicode normalisation form"),
        CKEY(choice, "normalize.invalid_utf8", normalize.invalid_utf8, {"repair", "drop"},
             "ill-formed UTF-8: U+FFFD repair, or drop the document"),
        CKEY(boolean, "normalize.strip_control", normalize.strip_control,
             "remove control and invisible format characters"),
        CKEY(boolean, "normalize.whitespace", normalize.normalize_whitespace,
             "collapse spaces, unify line ends, trim"),
        CKEY(boolean, "length.enabled", length.enabled, "stage 2: length bounds"),
        CKEY(integer, "length.min_words", length.min_words, 0, "fewer words: dropped"),
        CKEY(integer, "length.max_words", length.max_words, 0, "more words: dropped; 0: no bound"),
        CKEY(integer, "length.min_tokens", length.min_tokens, 0, "fewer tokens: dropped; 0: off"),
        CKEY(integer, "length.max_tokens", length.max_tokens, 0, "more tokens: dropped; 0: off"),
        CKEY(text, "length.tokenizer", length.tokenizer, "a model directory or empty",
             "tokenizer that counts tokens"),
        CKEY(boolean, "quality.enabled", quality.enabled,
             "stage 3: Gopher quality rules (gopher_min_words ... gopher_stop_words)"),
        CKEY(integer, "quality.min_words", quality.min_words, 0, "non-symbol words, at least"),
        CKEY(integer, "quality.max_words", quality.max_words, 0, "non-symbol words, at most"),
        CKEY(number, "quality.min_mean_word_length", quality.min_mean_word_length, kNonNegative,
             "mean word length, at least"),
        CKEY(number, "quality.max_mean_word_length", quality.max_mean_word_length, kNonNegative,
             "mean word length, at most"),
        CKEY(number, "quality.max_symbol_word_ratio", quality.max_symbol_word_ratio, kNonNegative,
             "'#' per token, at most"),
        CKEY(number, "quality.max_ellipsis_word_ratio", quality.max_ellipsis_word_ratio,
             kNonNegative, "ellipses per token, at most"),
        CKEY(number, "quality.max_bullet_lines_ratio", quality.max_bullet_lines_ratio, kUnit,
             "fraction of lines starting with a bullet, at most"),
        CKEY(number, "quality.max_ellipsis_lines_ratio", quality.max_ellipsis_lines_ratio, kUnit,
             "fraction of lines ending with an ellipsis, at most"),
        CKEY(number, "quality.min_alpha_words_ratio", quality.min_alpha_words_ratio, kUnit,
             "fraction of tokens with a letter, at least"),
        CKEY(integer, "quality.min_stop_words", quality.min_stop_words, 0,
             "distinct stop words present, at least"),
        CKEY(names, "quality.stop_words", quality.stop_words, "words", "the stop words"),
        CKEY(boolean, "repetition.enabled", repetition.enabled,
             "stage 4: Gopher repetition (gopher_dup_*, gopher_top_*)"),
        CKEY(integer, "repetition.min_words", repetition.min_words, 0,
             "shorter documents (non-symbol words) pass unchecked; 0: check all"),
        CKEY(number, "repetition.max_dup_para_frac", repetition.max_dup_para_frac, kUnit,
             "duplicate paragraphs / paragraphs"),
        CKEY(number, "repetition.max_dup_para_char_frac", repetition.max_dup_para_char_frac, kUnit,
             "characters in duplicate paragraphs / characters"),
        CKEY(number, "repetition.max_dup_line_frac", repetition.max_dup_line_frac, kUnit,
             "duplicate lines / lines"),
        CKEY(number, "repetition.max_dup_line_char_frac", repetition.max_dup_line_char_frac, kUnit,
             "characters in duplicate lines / characters"),
        ngram_limits(
            "curate.repetition.top_ngram_max",
            [](auto& r) -> auto& { return r.curate.repetition.top_ngram_max; },
            "characters of the most frequent n-gram / characters"),
        ngram_limits(
            "curate.repetition.dup_ngram_max",
            [](auto& r) -> auto& { return r.curate.repetition.dup_ngram_max; },
            "characters in repeated n-grams / characters"),
        CKEY(boolean, "fineweb.enabled", fineweb.enabled,
             "stage 5: FineWeb line rules (fineweb_*)"),
        CKEY(number, "fineweb.min_terminal_punct_lines", fineweb.min_terminal_punct_lines, kUnit,
             "lines ending in terminal punctuation, at least"),
        CKEY(number, "fineweb.max_short_lines", fineweb.max_short_lines, kUnit,
             "short lines, at most"),
        CKEY(integer, "fineweb.short_line_chars", fineweb.short_line_chars, 1,
             "a line this long or shorter is short"),
        CKEY(number, "fineweb.max_dup_line_char_frac", fineweb.max_dup_line_char_frac, kUnit,
             "characters in duplicate lines, at most"),
        CKEY(number, "fineweb.max_newline_word_ratio", fineweb.max_newline_word_ratio, kNonNegative,
             "line breaks per word, at most"),
        CKEY(boolean, "dedup.exact", dedup.exact, "stage 6: drop exact duplicates (normalised)"),
        CKEY(boolean, "dedup.near", dedup.near, "stage 6: drop near duplicates (MinHash LSH)"),
        CKEY(integer, "dedup.ngram", dedup.minhash.ngram, 1, "words per shingle"),
        CKEY(integer, "dedup.bands", dedup.minhash.bands, 1, "LSH bands"),
        CKEY(integer, "dedup.rows", dedup.minhash.rows, 1, "hashes per band"),
        CKEY(integer, "dedup.seed", dedup.minhash.seed, 0, "seed of the permutations"),
        CKEY(number, "dedup.threshold", dedup.threshold, kUnit,
             "estimated Jaccard a candidate pair needs; 0: every LSH candidate"),
        CKEY(boolean, "pii.enabled", pii.detect.enabled,
             "stage 7: find and redact PII (in every output)"),
        CKEY(names, "pii.types", pii.detect.types, "PII type names",
             "email, phone, ip_address, credit_card, us_ssn, iban, date_of_birth"),
        pii_extra(),
        CKEY(text, "pii.patterns_file", pii.patterns_file, "a file or empty",
             "more patterns, one NAME<TAB>REGEX per line"),
        CKEY(boolean, "pii.redact_private_ips", pii.detect.redact_private_ips,
             "also redact private and reserved IP addresses"),
        CKEY(names, "pii.phone_regions", pii.detect.phone_regions, "region codes",
             "where phone numbers are validated"),
        CKEY(choice, "pii.policy", pii.policy, {"redact", "drop"},
             "typed placeholders, or drop the document"),
        CKEY(integer, "pii.max_spans", pii.max_spans, 0,
             "redact: drop documents with more spans; 0: never"),
        CKEY(choice, "pii.rejected", pii.rejected, {"redact", "hash"},
             "rejected.jsonl keeps a dropped document redacted, or only its line's SHA-256"),
        CKEY(boolean, "toxicity.enabled", toxicity.enabled, "stage 8: toxicity word lists"),
        CKEY(number, "toxicity.max_score", toxicity.max_score, kNonNegative,
             "toxic hits per word above which a document is dropped"),
        CKEY(integer, "toxicity.min_hits", toxicity.min_hits, 0, "and at least this many hits"),
        CKEY(names, "toxicity.categories", toxicity.categories, "category names",
             "profanity, sexual, violence_threat, insult, identity_attack"),
        CKEY(text, "toxicity.lexicon_dir", toxicity.lexicon_dir, "a directory or empty",
             "word lists extending (or replacing) the shipped ones"),
        CKEY(boolean, "toxicity.replace_lexicons", toxicity.replace_lexicons,
             "lists in lexicon_dir replace the shipped ones instead of extending them"),
        CKEY(boolean, "bias.enabled", bias.enabled, "stage 9: representation analysis"),
        CKEY(names, "bias.axes", bias.axes, "axis names",
             "gender, ethnicity, religion, age, disability, nationality"),
        CKEY(integer, "bias.window", bias.window, 1, "co-occurrence window in words, each side"),
        CKEY(choice, "bias.balance", bias.balance, {"none", "cda", "downsample", "cda+downsample"},
             "balancing action"),
        CKEY(number, "bias.max_skew", bias.max_skew, kPositive, "target cap on c_a / c_b"),
        CKEY(integer, "bias.seed", bias.seed, 0, "seed of the balancing draws"),
        group_pairs(
            "curate.bias.skew_pairs", [](auto& r) -> auto& { return r.curate.bias.skew_pairs; },
            "group pairs whose skew is measured and balanced"),
        CKEY(text, "bias.lexicon_dir", bias.lexicon_dir, "a directory or empty",
             "group and attribute lists extending (or replacing) the shipped ones"),
        CKEY(boolean, "bias.replace_lexicons", bias.replace_lexicons,
             "lists in lexicon_dir replace the shipped ones"),
    };
    return table;
}

#undef CKEY

} // namespace slimtune::train
