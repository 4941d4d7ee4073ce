#include "data/curate/toxicity.h"

#include "common/error.h"
#include "common/text.h"

#include <algorithm>
#include <cmath>

namespace slimtune::data::curate {

namespace {

std::string known_categories(const Lexicon& lexicon) {
    std::string list;
    for (const std::string& name : lexicon.names_with_prefix("toxicity_")) {
        if (!list.empty())
            list += ", ";
        list += name.substr(9, name.size() - 9 - 4); // toxicity_<category>.txt
    }
    return list.empty() ? "(none)" : list;
}

} // namespace

ToxicityScreen::ToxicityScreen(const ToxicityConfig& config, const Lexicon& lexicon)
    : config_(config), vocabulary_(std::make_shared<WordVocabulary>()), toxic_(vocabulary_),
      identity_(vocabulary_) {
    if (!std::isfinite(config_.max_score) || config_.max_score < 0)
        throw ConfigError("curate.toxicity.max_score: expected a number >= 0, got " +
                          std::to_string(config_.max_score));
    if (config_.min_hits < 0)
        throw ConfigError("curate.toxicity.min_hits: expected an integer >= 0, got " +
                          std::to_string(config_.min_hits));
    if (const LexiconFile* identity = lexicon.find("identity_terms.txt"))
        for (const LexiconEntry& e : identity->entries)
            identity_.add(e.term, "identity");
    for (const std::string& category : config_.categories) {
        const LexiconFile* file = lexicon.find("toxicity_" + category + ".txt");
        if (!file)
            throw ConfigError("curate.toxicity.categories: unknown category " +
                              name_text(category) + "; expected one of " +
                              known_categories(lexicon) + " (a toxicity_<category>.txt list)");
        for (const LexiconEntry& e : file->entries) {
            if (identity_.contains(e.term)) {
                ignored_.push_back(e.term);
                continue;
            }
            toxic_.add(e.term, category);
        }
    }
}

ToxicityResult ToxicityScreen::screen(std::string_view text) const {
    ToxicityResult result;
    for (const std::string& category : config_.categories)
        result.per_category[category] = 0;
    const DocWords words = lookup_words(text, *vocabulary_);
    result.words = static_cast<int64_t>(words.size());

    std::vector<PhraseMatcher::Match> matches;
    toxic_.matches(words, matches);
    std::vector<std::uint32_t> phrases_seen;
    std::size_t last_begin = SIZE_MAX;
    for (const PhraseMatcher::Match& m : matches) {
        // A phrase in several categories yields one Match per category at the same position:
        // one hit, counted in each category.
        if (m.word_begin != last_begin) {
            ++result.hits;
            last_begin = m.word_begin;
        }
        ++result.per_category[toxic_.labels()[m.label]];
        if (std::find(phrases_seen.begin(), phrases_seen.end(), m.phrase) == phrases_seen.end()) {
            phrases_seen.push_back(m.phrase);
            result.terms_hit.push_back(toxic_.phrase_text(m.phrase));
        }
    }

    matches.clear();
    identity_.matches(words, matches);
    result.identity_hits = static_cast<int64_t>(matches.size());

    result.score = result.words > 0
                       ? static_cast<double>(result.hits) / static_cast<double>(result.words)
                       : 0.0;
    result.drop =
        config_.enabled && result.hits >= config_.min_hits && result.score > config_.max_score;
    return result;
}

} // namespace slimtune::data::curate
