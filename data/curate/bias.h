// Bias and representation measures for `slimtune curate` (curation.md §8): how often each
// demographic group is mentioned, how skewed paired groups are (male vs female), which attribute
// words (occupations, sentiment, competence) lean towards one group of a pair, and two ways to
// rebalance: counterfactual data augmentation (CDA, swapping gendered words) and capped
// downsampling of the over-represented group's documents.
//
// Counting is per document and thread-safe (BiasCounter::count, run under OpenMP); the corpus
// totals are summed in BiasAccumulator (one per thread, then merge) and turned into a report.
#pragma once

#include "data/curate/lexicon.h"
#include "data/curate/words.h"

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slimtune::data::curate {

struct BiasConfig {
    bool enabled = true;
    // groups_<axis>.txt lists in use.
    std::vector<std::string> axes{"gender", "ethnicity",  "religion",
                                  "age",    "disability", "nationality"};
    int window = 10;              // co-occurrence window: ±window words
    std::string balance = "none"; // none | cda | downsample | cda+downsample
    double max_skew = 1.5;        // cap R on c_a / c_b for downsampling
    uint64_t seed = 42;           // downsampling draws
    // Groups compared (a, b). A name is a group ("male") or axis/group ("gender/male").
    std::vector<std::pair<std::string, std::string>> skew_pairs{{"male", "female"}};
    std::string lexicon_dir;
    bool replace_lexicons = false;
};

// One document's counts, indexed by BiasCounter's group and attribute ids.
struct DocBias {
    struct Cooccurrence {
        uint32_t group = 0, attribute = 0;
        int64_t count = 0;
    };
    int64_t words = 0;
    std::vector<int64_t> group_counts;  // term occurrences per group
    std::vector<int64_t> group_context; // words within ±window of the group's occurrences
    // Attribute-term occurrences within ±window of the group's occurrences (one per pair of
    // occurrences), by category: [group * categories + category].
    std::vector<int64_t> category_cooccurrences;
    std::vector<Cooccurrence> attribute_cooccurrences; // the same per attribute; sorted, nonzero
    bool present(std::size_t group) const { return group_counts.at(group) > 0; }
};

struct BiasGroup {
    std::string axis, name;
};
struct BiasAttribute {
    std::string category, name;
    uint32_t category_id = 0;
};

// Counts group terms (groups_<axis>.txt, each axis matched on its own so "black women" counts
// for ethnicity and gender) and attribute terms (every attributes_<category>.txt) in a document.
// Co-occurrence: a group occurrence and an attribute occurrence count once when the gap between
// them is at most `window` words (adjacent words: distance 1; a term at word 0 and one at word 10
// are at distance 10); occurrences on the same words ("policeman" as a group term and an
// occupation) are not counted. The context of an occurrence is the words within ±window of it,
// its own words excluded: Bordia & Bowman's total c(·, g), the second cell of the odds ratio.
class BiasCounter {
public:
    // ConfigError for an unknown axis or skew-pair group, window < 1, a balance mode other than
    // the four, max_skew < 1 or not finite, or balance with CDA and no pairs_gender.txt.
    BiasCounter(const BiasConfig& config, const Lexicon& lexicon);

    // Thread-safe.
    DocBias count(std::string_view text) const;

    const BiasConfig& config() const { return config_; }
    const std::vector<BiasGroup>& groups() const { return groups_; }
    const std::vector<std::string>& categories() const { return categories_; }
    const std::vector<BiasAttribute>& attributes() const { return attributes_; }
    // The configured skew pairs as group ids.
    const std::vector<std::pair<uint32_t, uint32_t>>& skew_pairs() const { return pairs_; }
    // Group id of "name" or "axis/name"; ConfigError naming `key` when unknown or ambiguous.
    uint32_t group_id(std::string_view name, const std::string& key) const;

private:
    BiasConfig config_;
    std::shared_ptr<WordVocabulary> vocabulary_;
    std::vector<PhraseMatcher> axis_matchers_;
    std::vector<std::vector<uint32_t>> axis_group_ids_; // [axis][label] -> group id
    PhraseMatcher attribute_matcher_;
    std::vector<uint32_t> attribute_ids_; // [label] -> attribute id
    std::vector<BiasGroup> groups_;
    std::vector<std::string> categories_;
    std::vector<BiasAttribute> attributes_;
    std::vector<std::pair<uint32_t, uint32_t>> pairs_;
};

// Log odds ratio of a 2x2 table with Woolf's standard error and a 95 % CI:
// log OR = ln(a_w * b_other / (a_other * b_w)), SE = sqrt(1/a_w + 1/a_other + 1/b_w + 1/b_other),
// CI = log OR ± 1.959964 SE. When a cell is 0, 0.5 is added to every cell (Haldane-Anscombe)
// and `corrected` is set. Positive: w leans towards group a.
struct OddsRatio {
    double log_odds_ratio = 0, standard_error = 0, ci_low = 0, ci_high = 0;
    bool corrected = false;
};
OddsRatio log_odds_ratio(int64_t a_w, int64_t a_other, int64_t b_w, int64_t b_other);

struct GroupStats {
    std::string axis, group;
    int64_t count = 0;     // c_g: term occurrences
    int64_t documents = 0; // documents with >= 1 term
    double coverage = 0;   // d_g = documents / N
    double word_share = 0; // count / all words (Dinan's "% gendered words" for gender groups)
};

struct SkewStats {
    std::string group_a, group_b;
    int64_t count_a = 0, count_b = 0;
    double ratio = 0;       // r = c_a / c_b (infinity when c_b = 0 and c_a > 0; NaN for 0/0)
    double log2_skew = 0;   // log2((c_a + 1) / (c_b + 1))
    double percent_a = 0;   // 100 c_a / (c_a + c_b): Dinan's % male for (male, female); NaN for 0
    double keep_rate_a = 1; // downsample_keep_rate(c_a, c_b, max_skew)
};

// One attribute (or a whole category, attribute empty) against one skew pair. Cells: n_aw =
// co-occurrences with group a, n_a_other = a's other context words (context - n_aw); same for b.
struct AssociationStats {
    std::string group_a, group_b, category, attribute;
    int64_t n_aw = 0, n_a_other = 0, n_bw = 0, n_b_other = 0;
    OddsRatio odds;
    bool flagged = false; // |log OR| > 1, the CI excludes 0, every cell >= 5
};

struct BiasReport {
    int64_t documents = 0, words = 0;
    std::vector<GroupStats> groups;
    std::vector<SkewStats> skews;
    // Per pair: each category, then each attribute seen with a or b (n_aw + n_bw > 0).
    std::vector<AssociationStats> associations;
};
// Non-finite numbers are written as null.
void to_json(nlohmann::json& j, const BiasReport& report);

// Corpus totals. Keeps a pointer to the counter, which must outlive it.
class BiasAccumulator {
public:
    explicit BiasAccumulator(const BiasCounter& counter);
    void add(const DocBias& doc);
    // Adds another accumulator's totals (same counter).
    void merge(const BiasAccumulator& other);
    BiasReport report() const;
    int64_t count(uint32_t group) const { return group_counts_.at(group); }

private:
    const BiasCounter* counter_;
    int64_t documents_ = 0, words_ = 0;
    std::vector<int64_t> group_counts_, group_documents_, group_context_;
    std::vector<int64_t> category_cooccurrences_;  // [group * categories + category]
    std::vector<int64_t> attribute_cooccurrences_; // [group * attributes + attribute]
};

// Counterfactual data augmentation: every term of a swap-pair list (pairs_gender.txt) becomes
// its partner, both ways, whole words, keeping the case of the original (lower, Title, UPPER)
// and any clitic ("man's" -> "woman's", "He'll" -> "She'll"). A word in several rows takes its
// first row's partner. Names are not swapped.
// "her" and "his" are ambiguous; without a POS tagger the next word decides (our heuristic):
//   her -> "his" when the next word is noun-like, else "him";
//   his -> "her" when the next word is noun-like, else "hers" ("the book is his." -> "hers.");
// "noun-like" = the next word follows after whitespace only (no punctuation, not the end) and
// is not a function word (article, pronoun, preposition, conjunction, auxiliary, common adverb).
// Known misses: "saw her leave" -> "his leave" (a verb after "her" reads as noun-like).
class CounterfactualSwapper {
public:
    // ConfigError when `pairs_file` is missing from the lexicon or an entry has several words.
    explicit CounterfactualSwapper(const Lexicon& lexicon,
                                   const std::string& pairs_file = "pairs_gender.txt");
    // The swapped text (unchanged when nothing was swapped); `swaps` receives the word count
    // swapped. Thread-safe.
    std::string swap(std::string_view text, int64_t* swaps = nullptr) const;

private:
    std::shared_ptr<WordVocabulary> vocabulary_;
    std::vector<uint32_t> partner_; // [word id] -> partner word id, or kUnknown
    uint32_t her_ = WordVocabulary::kUnknown, his_ = WordVocabulary::kUnknown;
    uint32_t him_ = WordVocabulary::kUnknown, hers_ = WordVocabulary::kUnknown;
    std::vector<bool> function_word_; // [word id]
};

// CounterfactualSwapper(lexicon).swap(text): for one-off use (it builds the word map each call).
std::string counterfactual(std::string_view text, const Lexicon& lexicon);

// Keep rate for documents of the over-represented group a: min(1, cap * c_b / c_a). 1 when
// c_a <= 0 or c_b <= 0 (nothing to balance against: dropping every group-a document is never
// the aim). ConfigError when cap < 1 or not finite.
double downsample_keep_rate(double c_a, double c_b, double cap);

// Deterministic keep decision: a uniform draw u in [0, 1) from (seed, doc_index) alone (so the
// same documents survive whatever the thread count), kept when u < rate.
bool keep_document(uint64_t seed, int64_t doc_index, double rate);

// True when the document mentions group a more often than group b: the documents that capped
// downsampling thins.
inline bool leans_to_a(const DocBias& doc, std::pair<uint32_t, uint32_t> pair) {
    return doc.group_counts.at(pair.first) > doc.group_counts.at(pair.second);
}

} // namespace slimtune::data::curate
