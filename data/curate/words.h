// Whole-word, case-folded matching of word lists against documents, shared by the toxicity screen
// and the bias counters (curation.md §7, §8). A word is a maximal run of letters, numbers and
// marks, with inner apostrophes and hyphens that join word characters ("don't", "self-esteem"),
// so "class" never hits "ass" and "Scunthorpe" never hits anything inside it. Phrases are
// matched on interned word ids: a document's words are folded and hashed once, then every
// matcher over the same vocabulary works on integers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace slimtune::data::curate {

// Byte offsets [begin, end) of one word in the text.
struct WordSpan {
    std::size_t begin = 0, end = 0;
};

// The words of valid UTF-8 `text`, left to right. Word characters are Unicode letters (L*),
// numbers (N*) and marks (M*); ' U+0027, ’ U+2019, - U+002D, ‐ U+2010 and ‑ U+2011 belong to a
// word only between two word characters. Everything else separates words.
std::vector<WordSpan> word_spans(std::string_view text);
// The same into `out` (cleared first), so a caller can reuse the buffer.
void word_spans(std::string_view text, std::vector<WordSpan>& out);

// Unicode case folding followed by NFC (utf8proc), e.g. "Straße" -> "strasse".
std::string fold_case(std::string_view text);

// The key a word is matched by: fold_case, with ’ written as ' and U+2010/U+2011 as '-', so that
// "Don’t" and "don't" are the same word.
std::string fold_word(std::string_view word);

// True when `phrase` is one or more words separated by whitespace only (no punctuation or
// symbols that whole-word matching could never see).
bool is_plain_phrase(std::string_view phrase);

// Interned folded words. Matchers that share a vocabulary let a document be looked up once.
// Not thread-safe while words are added; const use is.
class WordVocabulary {
public:
    static constexpr std::uint32_t kUnknown = UINT32_MAX;

    std::uint32_t intern(std::string_view folded_word);
    std::uint32_t find(std::string_view folded_word) const;
    const std::string& word(std::uint32_t id) const { return words_.at(id); }
    std::size_t size() const { return words_.size(); }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> ids_;
    std::vector<std::string> words_;
    std::size_t max_word_bytes_ = 0;
};

// A document's words looked up in a vocabulary.
struct DocWords {
    std::vector<WordSpan> spans;
    // ids[i]: the folded word i, or kUnknown when no list contains it.
    std::vector<std::uint32_t> ids;
    // stem_ids[i]: word i without a trailing English clitic ('s 'll 'd 're 've 'm), so that
    // "women's" and "he'll" count as "women" and "he"; kUnknown when there is none.
    std::vector<std::uint32_t> stem_ids;
    std::size_t size() const { return spans.size(); }
};

// Splits, folds and looks up every word of `text`.
DocWords lookup_words(std::string_view text, const WordVocabulary& vocabulary);

// Finds phrases (one or more words, each phrase with one or more labels) in documents.
// Matching runs left to right; at each word the longest phrase starting there wins, and the scan
// resumes after it, so occurrences never overlap ("son of a bitch" is one hit, not two). The
// last word of a phrase may carry a clitic ("bitch's", "she'll"). Lookups are one hash per word
// plus integer compares: no regex per entry.
class PhraseMatcher {
public:
    static constexpr std::uint32_t kNoLabel = UINT32_MAX;

    struct Match {
        std::size_t word_begin = 0, word_count = 0; // word indices into DocWords
        std::uint32_t label = 0;                    // index into labels()
        std::uint32_t phrase = 0;                   // index for phrase_text()
    };

    // A matcher with its own vocabulary.
    PhraseMatcher();
    // A matcher sharing `vocabulary` with others (which must not be null).
    explicit PhraseMatcher(std::shared_ptr<WordVocabulary> vocabulary);

    // Adds `phrase` (folded here) under `label`. Adding a phrase again with another label gives
    // it both labels. Throws ConfigError when the phrase is not is_plain_phrase.
    void add(std::string_view phrase, std::string_view label);

    bool contains(std::string_view phrase) const;
    std::uint32_t label_id(std::string_view label) const;
    const std::vector<std::string>& labels() const { return labels_; }
    std::size_t phrase_count() const { return phrases_.size(); }
    // The phrase's folded words joined by one space.
    std::string phrase_text(std::uint32_t phrase) const;

    // Every occurrence in `text`: one Match per label of each matched phrase.
    std::vector<Match> matches(std::string_view text) const;
    // The same on words looked up in vocabulary() (appended to `out`).
    void matches(const DocWords& words, std::vector<Match>& out) const;

    const std::shared_ptr<WordVocabulary>& vocabulary() const { return vocabulary_; }

private:
    struct Phrase {
        std::vector<std::uint32_t> words;
        std::vector<std::uint32_t> labels;
    };
    std::vector<std::uint32_t> phrase_words(std::string_view phrase, bool intern);
    std::uint32_t find_phrase(const std::vector<std::uint32_t>& words) const;
    std::size_t longest_at(const DocWords& words, std::size_t i, std::uint32_t& phrase) const;

    std::shared_ptr<WordVocabulary> vocabulary_;
    std::vector<Phrase> phrases_;
    // by_first_[word id]: phrases starting with that word, longest first.
    std::vector<std::vector<std::uint32_t>> by_first_;
    std::vector<std::string> labels_;
};

} // namespace slimtune::data::curate
