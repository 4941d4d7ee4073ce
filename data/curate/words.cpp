#include "data/curate/words.h"

#include "common/error.h"
#include "common/text.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <cstdlib>
#include <utf8proc.h>

namespace slimtune::data::curate {

namespace {

enum class CharClass { kWord, kJoiner, kOther };

// ASCII classes by table: the common case never reaches utf8proc.
struct AsciiClasses {
    CharClass cls[128];
    constexpr AsciiClasses() : cls{} {
        for (int c = 0; c < 128; ++c) {
            const bool alnum =
                (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
            cls[c] = alnum                   ? CharClass::kWord
                     : c == '\'' || c == '-' ? CharClass::kJoiner
                                             : CharClass::kOther;
        }
    }
};
constexpr AsciiClasses kAscii;

CharClass classify(char32_t cp) {
    if (cp < 0x80)
        return kAscii.cls[cp];
    if (cp == 0x2019 || cp == 0x2010 || cp == 0x2011)
        return CharClass::kJoiner;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return CharClass::kWord;
    default:
        return CharClass::kOther;
    }
}

CharClass class_at(std::string_view text, std::size_t& i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
        ++i;
        return kAscii.cls[b];
    }
    return classify(next_code_point(text, i));
}

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80)
            return false;
    return true;
}

// Appends fold_word(word) to `out`; `scratch` is reused between calls to spare allocations.
void fold_word_into(std::string_view word,
                    std::string& out,
                    std::vector<utf8proc_int32_t>& scratch) {
    if (is_ascii(word)) {
        for (char c : word)
            out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c);
        return;
    }
    const auto options =
        static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(word.data());
    const auto len = static_cast<utf8proc_ssize_t>(word.size());
    if (scratch.size() < word.size() + 8)
        scratch.resize(word.size() + 8);
    auto n = utf8proc_decompose(bytes, len, scratch.data(),
                                static_cast<utf8proc_ssize_t>(scratch.size()), options);
    if (n > static_cast<utf8proc_ssize_t>(scratch.size())) {
        scratch.resize(static_cast<std::size_t>(n));
        n = utf8proc_decompose(bytes, len, scratch.data(), n, options);
    }
    if (n < 0) { // only for invalid UTF-8, which callers promise not to pass: keep the bytes
        out.append(word);
        return;
    }
    n = utf8proc_normalize_utf32(scratch.data(), n, options);
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
        auto cp = static_cast<char32_t>(scratch[static_cast<std::size_t>(k)]);
        if (cp == 0x2019)
            cp = '\'';
        else if (cp == 0x2010 || cp == 0x2011)
            cp = '-';
        append_utf8(out, cp);
    }
}

// Length of the stem when the folded word ends in an English clitic ('s 'll 'd 're 've 'm),
// else 0.
std::size_t clitic_stem_length(std::string_view folded) {
    const std::size_t apos = folded.rfind('\'');
    if (apos == std::string_view::npos || apos == 0)
        return 0;
    const std::string_view suffix = folded.substr(apos + 1);
    if (suffix == "s" || suffix == "ll" || suffix == "d" || suffix == "re" || suffix == "ve" ||
        suffix == "m")
        return apos;
    return 0;
}

// The folded words of a phrase; empty when it is not a plain phrase.
std::vector<std::string> folded_phrase_words(std::string_view phrase) {
    std::vector<std::string> words;
    if (!is_plain_phrase(phrase))
        return words;
    for (const WordSpan& s : word_spans(phrase))
        words.push_back(fold_word(phrase.substr(s.begin, s.end - s.begin)));
    return words;
}

} // namespace

void word_spans(std::string_view text, std::vector<WordSpan>& out) {
    out.clear();
    bool in_word = false;
    std::size_t begin = 0, last_end = 0;
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t start = i;
        const CharClass cls = class_at(text, i);
        if (cls == CharClass::kWord) {
            if (!in_word) {
                begin = start;
                in_word = true;
            }
            last_end = i;
            continue;
        }
        if (in_word && cls == CharClass::kJoiner && last_end == start && i < text.size()) {
            std::size_t peek = i;
            if (class_at(text, peek) == CharClass::kWord)
                continue; // an inner joiner: the word goes on
        }
        if (in_word) {
            out.push_back({begin, last_end});
            in_word = false;
        }
    }
    if (in_word)
        out.push_back({begin, last_end});
}

std::vector<WordSpan> word_spans(std::string_view text) {
    std::vector<WordSpan> out;
    word_spans(text, out);
    return out;
}

std::string fold_case(std::string_view text) {
    utf8proc_uint8_t* folded = nullptr;
    const auto options =
        static_cast<utf8proc_option_t>(UTF8PROC_CASEFOLD | UTF8PROC_COMPOSE | UTF8PROC_STABLE);
    const std::string valid = is_valid_utf8(text) ? std::string(text) : sanitize_utf8(text);
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                static_cast<utf8proc_ssize_t>(valid.size()), &folded, options);
    if (n < 0) {
        std::free(folded);
        throw Error("fold_case: utf8proc failed on " + name_text(text) + ": " + utf8proc_errmsg(n));
    }
    std::string out(reinterpret_cast<const char*>(folded), static_cast<std::size_t>(n));
    std::free(folded);
    return out;
}

std::string fold_word(std::string_view word) {
    std::string out;
    std::vector<utf8proc_int32_t> scratch;
    fold_word_into(word, out, scratch);
    return out;
}

bool is_plain_phrase(std::string_view phrase) {
    const std::vector<WordSpan> spans = word_spans(phrase);
    if (spans.empty())
        return false;
    // Everything outside the words must be whitespace.
    std::size_t pos = 0;
    auto gap_is_space = [&](std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to;)
            if (!is_js_whitespace(next_code_point(phrase, i)))
                return false;
        return true;
    };
    for (const WordSpan& s : spans) {
        if (!gap_is_space(pos, s.begin))
            return false;
        pos = s.end;
    }
    return gap_is_space(pos, phrase.size());
}

std::uint32_t WordVocabulary::intern(std::string_view folded_word) {
    if (const auto it = ids_.find(folded_word); it != ids_.end())
        return it->second;
    const auto id = static_cast<std::uint32_t>(words_.size());
    words_.emplace_back(folded_word);
    ids_.emplace(std::string(folded_word), id);
    max_word_bytes_ = std::max(max_word_bytes_, folded_word.size());
    return id;
}

std::uint32_t WordVocabulary::find(std::string_view folded_word) const {
    if (folded_word.size() > max_word_bytes_)
        return kUnknown; // most long words are in no list: skip the hash
    const auto it = ids_.find(folded_word);
    return it == ids_.end() ? kUnknown : it->second;
}

DocWords lookup_words(std::string_view text, const WordVocabulary& vocabulary) {
    DocWords doc;
    word_spans(text, doc.spans);
    doc.ids.resize(doc.spans.size());
    doc.stem_ids.resize(doc.spans.size());
    std::string folded;
    std::vector<utf8proc_int32_t> scratch;
    for (std::size_t i = 0; i < doc.spans.size(); ++i) {
        const WordSpan s = doc.spans[i];
        folded.clear();
        fold_word_into(text.substr(s.begin, s.end - s.begin), folded, scratch);
        doc.ids[i] = vocabulary.find(folded);
        const std::size_t stem = clitic_stem_length(folded);
        doc.stem_ids[i] =
            stem ? vocabulary.find(std::string_view(folded).substr(0, stem)) : vocabulary.kUnknown;
    }
    return doc;
}

PhraseMatcher::PhraseMatcher() : vocabulary_(std::make_shared<WordVocabulary>()) {}

PhraseMatcher::PhraseMatcher(std::shared_ptr<WordVocabulary> vocabulary)
    : vocabulary_(std::move(vocabulary)) {
    SLIMTUNE_ASSERT(vocabulary_ != nullptr, "PhraseMatcher needs a vocabulary");
}

std::vector<std::uint32_t> PhraseMatcher::phrase_words(std::string_view phrase, bool intern) {
    std::vector<std::uint32_t> ids;
    for (const std::string& w : folded_phrase_words(phrase))
        ids.push_back(intern ? vocabulary_->intern(w) : vocabulary_->find(w));
    return ids;
}

std::uint32_t PhraseMatcher::find_phrase(const std::vector<std::uint32_t>& words) const {
    if (words.empty() || words[0] >= by_first_.size())
        return kNoLabel;
    for (std::uint32_t p : by_first_[words[0]])
        if (phrases_[p].words == words)
            return p;
    return kNoLabel;
}

void PhraseMatcher::add(std::string_view phrase, std::string_view label) {
    if (!is_plain_phrase(phrase))
        throw ConfigError("word list entry " + name_text(phrase) +
                          ": expected words separated by spaces (letters, numbers, marks, inner ' "
                          "and -), got other characters");
    std::vector<std::uint32_t> words = phrase_words(phrase, true);
    std::uint32_t label_index = label_id(label);
    if (label_index == kNoLabel) {
        label_index = static_cast<std::uint32_t>(labels_.size());
        labels_.emplace_back(label);
    }
    std::uint32_t p = find_phrase(words);
    if (p == kNoLabel) {
        p = static_cast<std::uint32_t>(phrases_.size());
        if (by_first_.size() <= words[0])
            by_first_.resize(words[0] + 1);
        auto& list = by_first_[words[0]];
        // Longest first, so the first full match at a position is the longest.
        const auto at = std::find_if(list.begin(), list.end(), [&](std::uint32_t q) {
            return phrases_[q].words.size() < words.size();
        });
        list.insert(at, p);
        phrases_.push_back({std::move(words), {}});
    }
    auto& labels = phrases_[p].labels;
    if (std::find(labels.begin(), labels.end(), label_index) == labels.end())
        labels.push_back(label_index);
}

bool PhraseMatcher::contains(std::string_view phrase) const {
    std::vector<std::uint32_t> ids;
    for (const std::string& w : folded_phrase_words(phrase)) {
        ids.push_back(vocabulary_->find(w));
        if (ids.back() == WordVocabulary::kUnknown)
            return false;
    }
    return find_phrase(ids) != kNoLabel;
}

std::uint32_t PhraseMatcher::label_id(std::string_view label) const {
    for (std::size_t i = 0; i < labels_.size(); ++i)
        if (labels_[i] == label)
            return static_cast<std::uint32_t>(i);
    return kNoLabel;
}

std::string PhraseMatcher::phrase_text(std::uint32_t phrase) const {
    std::string text;
    for (std::uint32_t w : phrases_.at(phrase).words) {
        if (!text.empty())
            text += ' ';
        text += vocabulary_->word(w);
    }
    return text;
}

// Length in words of the longest phrase matching at word i (0 for none); its index in `phrase`.
std::size_t
PhraseMatcher::longest_at(const DocWords& words, std::size_t i, std::uint32_t& phrase) const {
    const std::size_t n = words.size();
    // Word k of a phrase matches text word j by its full form, or by its stem when k is the
    // phrase's last word.
    auto word_matches = [&](std::size_t j, std::uint32_t id, bool last) {
        return words.ids[j] == id || (last && words.stem_ids[j] == id);
    };
    std::size_t best = 0;
    const std::uint32_t full = words.ids[i];
    if (full < by_first_.size()) {
        for (std::uint32_t p : by_first_[full]) {
            const auto& pw = phrases_[p].words;
            if (pw.size() > n - i)
                continue;
            bool ok = true;
            for (std::size_t k = 1; k < pw.size() && ok; ++k)
                ok = word_matches(i + k, pw[k], k + 1 == pw.size());
            if (ok) {
                best = pw.size();
                phrase = p;
                break; // longest first
            }
        }
    }
    const std::uint32_t stem = words.stem_ids[i];
    if (best == 0 && stem < by_first_.size()) { // "bitch's": only a one-word phrase can end here
        for (std::uint32_t p : by_first_[stem]) {
            if (phrases_[p].words.size() == 1) {
                best = 1;
                phrase = p;
                break;
            }
        }
    }
    return best;
}

void PhraseMatcher::matches(const DocWords& words, std::vector<Match>& out) const {
    for (std::size_t i = 0; i < words.size();) {
        std::uint32_t p = 0;
        const std::size_t len = longest_at(words, i, p);
        if (len == 0) {
            ++i;
            continue;
        }
        for (std::uint32_t label : phrases_[p].labels)
            out.push_back({i, len, label, p});
        i += len;
    }
}

std::vector<PhraseMatcher::Match> PhraseMatcher::matches(std::string_view text) const {
    std::vector<Match> out;
    matches(lookup_words(text, *vocabulary_), out);
    return out;
}

} // namespace slimtune::data::curate
