// Word-list toxicity screen for `slimtune curate` (curation.md §7). C4 dropped every page with a
// single list word, which removed text from and about minorities out of proportion (Dodge et
// al. 2021, WIMBD). Here a document is dropped only when toxic hits are both frequent (>=
// min_hits) and dense (hits / words > max_score); fewer hits are only reported. Neutral identity
// terms ("gay", "women", "muslim") are never hits: they are counted on their own so the report
// can compare their rate in dropped and kept documents.
#pragma once

#include "data/curate/lexicon.h"
#include "data/curate/words.h"

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data::curate {

struct ToxicityConfig {
    bool enabled = true;
    double max_score = 0.02; // drop when hits / words is above this ...
    int64_t min_hits = 2;    // ... and there are at least this many hits
    // toxicity_<category>.txt lists in use.
    std::vector<std::string> categories{"profanity", "sexual", "violence_threat", "insult",
                                        "identity_attack"};
    std::string lexicon_dir; // user lists replacing or extending the shipped ones
    bool replace_lexicons = false;
};

struct ToxicityResult {
    int64_t words = 0;                           // word count (words.h)
    int64_t hits = 0;                            // toxic term occurrences (a phrase counts once)
    int64_t identity_hits = 0;                   // identity term occurrences (never toxic)
    std::map<std::string, int64_t> per_category; // every configured category, 0 included
    double score = 0;                            // hits / words (0 for an empty document)
    bool drop = false;                           // enabled && hits >= min_hits && score > max_score
    std::vector<std::string> terms_hit; // distinct toxic terms, folded, in order of first hit
};

class ToxicityScreen {
public:
    // Builds the matchers from toxicity_<category>.txt for each configured category and
    // identity_terms.txt (optional). A toxic entry that is also an identity term is ignored.
    // ConfigError for an unknown category, max_score < 0 or not finite, or min_hits < 0.
    ToxicityScreen(const ToxicityConfig& config, const Lexicon& lexicon);

    // Thread-safe.
    ToxicityResult screen(std::string_view text) const;

    const ToxicityConfig& config() const { return config_; }
    // Toxic entries dropped because identity_terms.txt lists them (for the report).
    const std::vector<std::string>& ignored_identity_entries() const { return ignored_; }

private:
    ToxicityConfig config_;
    std::shared_ptr<WordVocabulary> vocabulary_;
    PhraseMatcher toxic_;
    PhraseMatcher identity_;
    std::vector<std::string> ignored_;
};

} // namespace slimtune::data::curate
