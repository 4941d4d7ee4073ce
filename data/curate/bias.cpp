#include "data/curate/bias.h"

#include "common/error.h"
#include "common/rng.h"
#include "common/text.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utf8proc.h>

namespace slimtune::data::curate {

namespace {

constexpr double kZ95 = 1.959963984540054; // two-sided 95 % normal quantile

std::string file_suffixes(const Lexicon& lexicon, std::string_view prefix) {
    std::string list;
    for (const std::string& name : lexicon.names_with_prefix(prefix)) {
        if (!list.empty())
            list += ", ";
        list += name.substr(prefix.size(), name.size() - prefix.size() - 4);
    }
    return list.empty() ? "(none)" : list;
}

bool uses_cda(const std::string& balance) {
    return balance == "cda" || balance == "cda+downsample";
}

// Words after which "her" is an object pronoun and "his" a standalone pronoun: articles,
// pronouns, prepositions, conjunctions, auxiliaries and common adverbs.
constexpr std::string_view kFunctionWords[] = {
    "a",       "an",        "the",      "this",    "that",     "these",   "those",  "some",
    "any",     "no",        "every",    "each",    "all",      "both",    "either", "neither",
    "my",      "your",      "his",      "her",     "its",      "our",     "their",  "me",
    "him",     "us",        "them",     "it",      "you",      "i",       "we",     "they",
    "he",      "she",       "who",      "whom",    "whose",    "which",   "what",   "and",
    "or",      "but",       "nor",      "so",      "yet",      "for",     "of",     "to",
    "in",      "on",        "at",       "by",      "with",     "from",    "into",   "onto",
    "upon",    "about",     "above",    "below",   "over",     "under",   "after",  "before",
    "between", "through",   "during",   "without", "within",   "against", "among",  "along",
    "across",  "around",    "behind",   "beyond",  "near",     "off",     "out",    "up",
    "down",    "away",      "back",     "again",   "also",     "too",     "very",   "just",
    "only",    "even",      "still",    "then",    "there",    "here",    "now",    "today",
    "tonight", "yesterday", "tomorrow", "later",   "soon",     "always",  "never",  "often",
    "once",    "twice",     "is",       "am",      "are",      "was",     "were",   "be",
    "been",    "being",     "has",      "have",    "had",      "do",      "does",   "did",
    "will",    "would",     "shall",    "should",  "can",      "could",   "may",    "might",
    "must",    "not",       "as",       "than",    "if",       "when",    "while",  "because",
    "since",   "until",     "unless",   "though",  "although", "where",   "how",    "why",
    "whether", "like",      "anyway",   "instead", "enough",   "well",    "more",
};

} // namespace

// ---------------------------------------------------------------------------------------------
// BiasCounter

BiasCounter::BiasCounter(const BiasConfig& config, const Lexicon& lexicon)
    : config_(config), vocabulary_(std::make_shared<WordVocabulary>()),
      attribute_matcher_(vocabulary_) {
    if (config_.window < 1)
        throw ConfigError("curate.bias.window: expected an integer >= 1, got " +
                          std::to_string(config_.window));
    if (config_.balance != "none" && config_.balance != "cda" && config_.balance != "downsample" &&
        config_.balance != "cda+downsample")
        throw ConfigError("curate.bias.balance: expected none, cda, downsample or "
                          "cda+downsample, got " +
                          name_text(config_.balance));
    if (!std::isfinite(config_.max_skew) || config_.max_skew < 1)
        throw ConfigError("curate.bias.max_skew: expected a number >= 1, got " +
                          std::to_string(config_.max_skew));
    if (uses_cda(config_.balance) && !lexicon.find("pairs_gender.txt"))
        throw ConfigError("curate.bias.balance: " + config_.balance +
                          " needs the word list pairs_gender.txt, which is missing");

    for (const std::string& axis : config_.axes) {
        const LexiconFile* file = lexicon.find("groups_" + axis + ".txt");
        if (!file)
            throw ConfigError("curate.bias.axes: unknown axis " + name_text(axis) +
                              "; expected one of " + file_suffixes(lexicon, "groups_") +
                              " (a groups_<axis>.txt list)");
        PhraseMatcher& matcher = axis_matchers_.emplace_back(vocabulary_);
        std::vector<uint32_t>& ids = axis_group_ids_.emplace_back();
        for (const LexiconEntry& e : file->entries) {
            matcher.add(e.term, e.key);
            if (ids.size() < matcher.labels().size()) { // a new group
                ids.push_back(static_cast<uint32_t>(groups_.size()));
                groups_.push_back({axis, e.key});
            }
        }
    }

    for (const std::string& name : lexicon.names_with_prefix("attributes_")) {
        const auto category_id = static_cast<uint32_t>(categories_.size());
        categories_.push_back(name.substr(11, name.size() - 11 - 4)); // attributes_<c>.txt
        for (const LexiconEntry& e : lexicon.find(name)->entries) {
            const std::string& attribute = e.key.empty() ? e.term : e.key;
            attribute_matcher_.add(e.term, categories_.back() + '\t' + attribute);
            if (attribute_ids_.size() < attribute_matcher_.labels().size()) {
                attribute_ids_.push_back(static_cast<uint32_t>(attributes_.size()));
                attributes_.push_back({categories_.back(), attribute, category_id});
            }
        }
    }

    for (const auto& [a, b] : config_.skew_pairs)
        pairs_.emplace_back(group_id(a, "curate.bias.skew_pairs"),
                            group_id(b, "curate.bias.skew_pairs"));
}

uint32_t BiasCounter::group_id(std::string_view name, const std::string& key) const {
    const std::size_t slash = name.find('/');
    const std::string_view axis = slash == std::string_view::npos ? "" : name.substr(0, slash);
    const std::string_view group = slash == std::string_view::npos ? name : name.substr(slash + 1);
    uint32_t found = UINT32_MAX;
    for (std::size_t g = 0; g < groups_.size(); ++g) {
        if (groups_[g].name != group || (!axis.empty() && groups_[g].axis != axis))
            continue;
        if (found != UINT32_MAX)
            throw ConfigError(key + ": group " + name_text(name) + " is in axes " +
                              groups_[found].axis + " and " + groups_[g].axis +
                              "; expected axis/group");
        found = static_cast<uint32_t>(g);
    }
    if (found == UINT32_MAX)
        throw ConfigError(key + ": unknown group " + name_text(name) +
                          "; expected a group of the configured axes (groups_<axis>.txt)");
    return found;
}

DocBias BiasCounter::count(std::string_view text) const {
    const DocWords words = lookup_words(text, *vocabulary_);
    const std::size_t n = words.size();
    const std::size_t categories = categories_.size();
    const auto window = static_cast<std::size_t>(config_.window);
    DocBias doc;
    doc.words = static_cast<int64_t>(n);
    doc.group_counts.assign(groups_.size(), 0);
    doc.group_context.assign(groups_.size(), 0);
    doc.category_cooccurrences.assign(groups_.size() * categories, 0);

    std::vector<PhraseMatcher::Match> attrs; // in word order
    attribute_matcher_.matches(words, attrs);
    std::size_t longest_attr = 1;
    for (const auto& m : attrs)
        longest_attr = std::max(longest_attr, m.word_count);

    std::vector<PhraseMatcher::Match> group_matches;
    std::vector<uint32_t> categories_here; // categories of one attribute occurrence
    for (std::size_t axis = 0; axis < axis_matchers_.size(); ++axis) {
        group_matches.clear();
        axis_matchers_[axis].matches(words, group_matches);
        for (const auto& m : group_matches) {
            const uint32_t g = axis_group_ids_[axis][m.label];
            const std::size_t begin = m.word_begin, end = m.word_begin + m.word_count;
            ++doc.group_counts[g];
            doc.group_context[g] +=
                static_cast<int64_t>(std::min(begin, window) + std::min(n - end, window));
            // Attribute occurrences whose nearest word is within the window: those starting in
            // [begin - window - (longest_attr - 1), end - 1 + window].
            const std::size_t reach = window + longest_attr - 1;
            const std::size_t first = begin > reach ? begin - reach : 0;
            auto it = std::lower_bound(
                attrs.begin(), attrs.end(), first,
                [](const PhraseMatcher::Match& a, std::size_t w) { return a.word_begin < w; });
            std::size_t occurrence = SIZE_MAX;
            for (; it != attrs.end() && it->word_begin <= end - 1 + window; ++it) {
                const std::size_t a_begin = it->word_begin, a_end = it->word_begin + it->word_count;
                std::size_t distance = 0;
                if (a_end <= begin)
                    distance = begin - (a_end - 1);
                else if (a_begin >= end)
                    distance = a_begin - (end - 1);
                else
                    continue; // the same words: not a co-occurrence
                if (distance > window)
                    continue;
                const uint32_t attribute = attribute_ids_[it->label];
                doc.attribute_cooccurrences.push_back({g, attribute, 1});
                // One occurrence in several attributes of a category counts once for it.
                if (a_begin != occurrence) {
                    occurrence = a_begin;
                    categories_here.clear();
                }
                const uint32_t c = attributes_[attribute].category_id;
                if (std::find(categories_here.begin(), categories_here.end(), c) ==
                    categories_here.end()) {
                    categories_here.push_back(c);
                    ++doc.category_cooccurrences[g * categories + c];
                }
            }
        }
    }

    // Sort and merge the per-attribute counts.
    auto& co = doc.attribute_cooccurrences;
    std::sort(co.begin(), co.end(), [](const auto& x, const auto& y) {
        return x.group != y.group ? x.group < y.group : x.attribute < y.attribute;
    });
    std::size_t out = 0;
    for (std::size_t i = 0; i < co.size(); ++i) {
        if (out > 0 && co[out - 1].group == co[i].group && co[out - 1].attribute == co[i].attribute)
            co[out - 1].count += co[i].count;
        else
            co[out++] = co[i];
    }
    co.resize(out);
    return doc;
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report

OddsRatio log_odds_ratio(int64_t a_w, int64_t a_other, int64_t b_w, int64_t b_other) {
    OddsRatio r;
    double cells[4] = {static_cast<double>(a_w), static_cast<double>(a_other),
                       static_cast<double>(b_w), static_cast<double>(b_other)};
    if (a_w <= 0 || a_other <= 0 || b_w <= 0 || b_other <= 0) {
        r.corrected = true;
        for (double& c : cells)
            c = std::max(c, 0.0) + 0.5;
    }
    r.log_odds_ratio = std::log(cells[0] * cells[3] / (cells[1] * cells[2]));
    r.standard_error = std::sqrt(1 / cells[0] + 1 / cells[1] + 1 / cells[2] + 1 / cells[3]);
    r.ci_low = r.log_odds_ratio - kZ95 * r.standard_error;
    r.ci_high = r.log_odds_ratio + kZ95 * r.standard_error;
    return r;
}

BiasAccumulator::BiasAccumulator(const BiasCounter& counter)
    : counter_(&counter), group_counts_(counter.groups().size()),
      group_documents_(counter.groups().size()), group_context_(counter.groups().size()),
      category_cooccurrences_(counter.groups().size() * counter.categories().size()),
      attribute_cooccurrences_(counter.groups().size() * counter.attributes().size()) {}

void BiasAccumulator::add(const DocBias& doc) {
    SLIMTUNE_ASSERT(doc.group_counts.size() == group_counts_.size() &&
                        doc.category_cooccurrences.size() == category_cooccurrences_.size(),
                    "DocBias from another BiasCounter");
    ++documents_;
    words_ += doc.words;
    for (std::size_t g = 0; g < group_counts_.size(); ++g) {
        group_counts_[g] += doc.group_counts[g];
        group_documents_[g] += doc.group_counts[g] > 0;
        group_context_[g] += doc.group_context[g];
    }
    for (std::size_t i = 0; i < category_cooccurrences_.size(); ++i)
        category_cooccurrences_[i] += doc.category_cooccurrences[i];
    const std::size_t attributes = counter_->attributes().size();
    for (const auto& c : doc.attribute_cooccurrences)
        attribute_cooccurrences_[c.group * attributes + c.attribute] += c.count;
}

void BiasAccumulator::merge(const BiasAccumulator& other) {
    SLIMTUNE_ASSERT(other.counter_ == counter_, "merging accumulators of different counters");
    documents_ += other.documents_;
    words_ += other.words_;
    auto add_all = [](std::vector<int64_t>& to, const std::vector<int64_t>& from) {
        for (std::size_t i = 0; i < to.size(); ++i)
            to[i] += from[i];
    };
    add_all(group_counts_, other.group_counts_);
    add_all(group_documents_, other.group_documents_);
    add_all(group_context_, other.group_context_);
    add_all(category_cooccurrences_, other.category_cooccurrences_);
    add_all(attribute_cooccurrences_, other.attribute_cooccurrences_);
}

BiasReport BiasAccumulator::report() const {
    BiasReport r;
    r.documents = documents_;
    r.words = words_;
    const auto& groups = counter_->groups();
    const auto ratio = [](double num, double den) {
        return den > 0 ? num / den : std::numeric_limits<double>::quiet_NaN();
    };
    for (std::size_t g = 0; g < groups.size(); ++g) {
        GroupStats s;
        s.axis = groups[g].axis;
        s.group = groups[g].name;
        s.count = group_counts_[g];
        s.documents = group_documents_[g];
        s.coverage = ratio(static_cast<double>(s.documents), static_cast<double>(documents_));
        s.word_share = ratio(static_cast<double>(s.count), static_cast<double>(words_));
        r.groups.push_back(s);
    }

    const std::size_t categories = counter_->categories().size();
    const std::size_t attributes = counter_->attributes().size();
    for (const auto& [a, b] : counter_->skew_pairs()) {
        SkewStats s;
        s.group_a = groups[a].axis + "/" + groups[a].name;
        s.group_b = groups[b].axis + "/" + groups[b].name;
        s.count_a = group_counts_[a];
        s.count_b = group_counts_[b];
        const auto ca = static_cast<double>(s.count_a), cb = static_cast<double>(s.count_b);
        s.ratio = cb > 0   ? ca / cb
                  : ca > 0 ? std::numeric_limits<double>::infinity()
                           : std::numeric_limits<double>::quiet_NaN();
        s.log2_skew = std::log2((ca + 1) / (cb + 1));
        s.percent_a = 100 * ratio(ca, ca + cb);
        s.keep_rate_a = downsample_keep_rate(ca, cb, counter_->config().max_skew);
        r.skews.push_back(s);

        auto association = [&](const std::string& category, const std::string& attribute,
                               int64_t aw, int64_t bw) {
            AssociationStats x;
            x.group_a = s.group_a;
            x.group_b = s.group_b;
            x.category = category;
            x.attribute = attribute;
            x.n_aw = aw;
            x.n_a_other = std::max<int64_t>(group_context_[a] - aw, 0);
            x.n_bw = bw;
            x.n_b_other = std::max<int64_t>(group_context_[b] - bw, 0);
            x.odds = log_odds_ratio(x.n_aw, x.n_a_other, x.n_bw, x.n_b_other);
            x.flagged = std::abs(x.odds.log_odds_ratio) > 1 &&
                        (x.odds.ci_low > 0 || x.odds.ci_high < 0) && x.n_aw >= 5 &&
                        x.n_a_other >= 5 && x.n_bw >= 5 && x.n_b_other >= 5;
            r.associations.push_back(x);
        };
        for (std::size_t c = 0; c < categories; ++c)
            association(counter_->categories()[c], "", category_cooccurrences_[a * categories + c],
                        category_cooccurrences_[b * categories + c]);
        for (std::size_t w = 0; w < attributes; ++w) {
            const int64_t aw = attribute_cooccurrences_[a * attributes + w];
            const int64_t bw = attribute_cooccurrences_[b * attributes + w];
            if (aw + bw > 0)
                association(counter_->attributes()[w].category, counter_->attributes()[w].name, aw,
                            bw);
        }
    }
    return r;
}

void to_json(nlohmann::json& j, const BiasReport& report) {
    const auto number = [](double x) {
        return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr);
    };
    j = nlohmann::json::object();
    j["documents"] = report.documents;
    j["words"] = report.words;
    j["groups"] = nlohmann::json::array();
    for (const GroupStats& g : report.groups)
        j["groups"].push_back({{"axis", g.axis},
                               {"group", g.group},
                               {"count", g.count},
                               {"documents", g.documents},
                               {"coverage", number(g.coverage)},
                               {"word_share", number(g.word_share)}});
    j["skews"] = nlohmann::json::array();
    for (const SkewStats& s : report.skews)
        j["skews"].push_back({{"group_a", s.group_a},
                              {"group_b", s.group_b},
                              {"count_a", s.count_a},
                              {"count_b", s.count_b},
                              {"ratio", number(s.ratio)},
                              {"log2_skew", number(s.log2_skew)},
                              {"percent_a", number(s.percent_a)},
                              {"keep_rate_a", number(s.keep_rate_a)}});
    j["associations"] = nlohmann::json::array();
    for (const AssociationStats& x : report.associations)
        j["associations"].push_back({{"group_a", x.group_a},
                                     {"group_b", x.group_b},
                                     {"category", x.category},
                                     {"attribute", x.attribute},
                                     {"n_aw", x.n_aw},
                                     {"n_a_other", x.n_a_other},
                                     {"n_bw", x.n_bw},
                                     {"n_b_other", x.n_b_other},
                                     {"log_odds_ratio", number(x.odds.log_odds_ratio)},
                                     {"standard_error", number(x.odds.standard_error)},
                                     {"ci_low", number(x.odds.ci_low)},
                                     {"ci_high", number(x.odds.ci_high)},
                                     {"corrected", x.odds.corrected},
                                     {"flagged", x.flagged}});
}

// ---------------------------------------------------------------------------------------------
// Counterfactual data augmentation

namespace {

// `replacement` (folded, lower case) in the case pattern of `original`: UPPER when it has two
// or more letters and none lower-case, Title when its first letter is upper-case, else lower.
void append_in_case_of(std::string& out, std::string_view original, std::string_view replacement) {
    int upper = 0, lower = 0;
    bool first_upper = false, first = true;
    for (std::size_t i = 0; i < original.size();) {
        const auto cp = static_cast<utf8proc_int32_t>(next_code_point(original, i));
        const bool is_up = utf8proc_isupper(cp) || utf8proc_category(cp) == UTF8PROC_CATEGORY_LT;
        upper += is_up;
        lower += utf8proc_islower(cp) != 0;
        if (first)
            first_upper = is_up;
        first = false;
    }
    const bool all_upper = upper >= 2 && lower == 0;
    bool at_start = true;
    for (std::size_t i = 0; i < replacement.size();) {
        auto cp = static_cast<utf8proc_int32_t>(next_code_point(replacement, i));
        if (all_upper || (first_upper && at_start))
            cp = utf8proc_toupper(cp);
        at_start = false;
        append_utf8(out, static_cast<char32_t>(cp));
    }
}

// Byte length of the word without its clitic: up to the last ' or ’.
std::size_t stem_bytes(std::string_view word) {
    const std::size_t ascii = word.rfind('\'');
    const std::size_t curly = word.rfind("\xE2\x80\x99");
    if (ascii == std::string_view::npos)
        return curly;
    if (curly == std::string_view::npos)
        return ascii;
    return std::max(ascii, curly);
}

} // namespace

CounterfactualSwapper::CounterfactualSwapper(const Lexicon& lexicon, const std::string& pairs_file)
    : vocabulary_(std::make_shared<WordVocabulary>()) {
    const LexiconFile* file = lexicon.find(pairs_file);
    if (!file)
        throw ConfigError("counterfactual augmentation: word list " + name_text(pairs_file) +
                          " is missing");
    std::vector<std::pair<uint32_t, uint32_t>> rows;
    for (const LexiconEntry& e : file->entries) {
        if (word_spans(e.key).size() != 1 || word_spans(e.term).size() != 1)
            throw ConfigError(e.where + ": expected two single words, got " + name_text(e.key) +
                              " and " + name_text(e.term));
        rows.emplace_back(vocabulary_->intern(fold_word(e.key)),
                          vocabulary_->intern(fold_word(e.term)));
    }
    her_ = vocabulary_->intern("her");
    his_ = vocabulary_->intern("his");
    him_ = vocabulary_->intern("him");
    hers_ = vocabulary_->intern("hers");
    for (std::string_view w : kFunctionWords)
        vocabulary_->intern(w);
    partner_.assign(vocabulary_->size(), WordVocabulary::kUnknown);
    function_word_.assign(vocabulary_->size(), false);
    for (std::string_view w : kFunctionWords)
        function_word_[vocabulary_->find(w)] = true;
    for (const auto& [a, b] : rows) { // the first row of a word decides its partner
        if (partner_[a] == WordVocabulary::kUnknown)
            partner_[a] = b;
        if (partner_[b] == WordVocabulary::kUnknown)
            partner_[b] = a;
    }
}

std::string CounterfactualSwapper::swap(std::string_view text, int64_t* swaps) const {
    const DocWords words = lookup_words(text, *vocabulary_);
    const auto has_partner = [&](uint32_t id) {
        return id != WordVocabulary::kUnknown && partner_[id] != WordVocabulary::kUnknown;
    };
    // The next word follows after whitespace only and is not a function word.
    const auto noun_like_next = [&](std::size_t i) {
        if (i + 1 >= words.size())
            return false;
        for (std::size_t p = words.spans[i].end; p < words.spans[i + 1].begin;)
            if (!is_js_whitespace(next_code_point(text, p)))
                return false;
        const uint32_t next = words.ids[i + 1];
        return next == WordVocabulary::kUnknown || !function_word_[next];
    };
    std::string out;
    int64_t count = 0;
    std::size_t copied = 0;
    for (std::size_t i = 0; i < words.size(); ++i) {
        uint32_t id = words.ids[i];
        const WordSpan span = words.spans[i];
        std::size_t end = span.end; // bytes replaced: the whole word, or its stem
        if (!has_partner(id)) {
            id = words.stem_ids[i];
            if (!has_partner(id))
                continue;
            end = span.begin + stem_bytes(text.substr(span.begin, span.end - span.begin));
        }
        uint32_t replacement = partner_[id];
        if (id == her_)
            replacement = noun_like_next(i) ? his_ : him_;
        else if (id == his_)
            replacement = noun_like_next(i) ? her_ : hers_;
        if (count == 0)
            out.reserve(text.size() + 16);
        out.append(text.substr(copied, span.begin - copied));
        append_in_case_of(out, text.substr(span.begin, end - span.begin),
                          vocabulary_->word(replacement));
        copied = end;
        ++count;
    }
    if (swaps)
        *swaps = count;
    if (count == 0)
        return std::string(text);
    out.append(text.substr(copied));
    return out;
}

std::string counterfactual(std::string_view text, const Lexicon& lexicon) {
    return CounterfactualSwapper(lexicon).swap(text);
}

// ---------------------------------------------------------------------------------------------
// Rebalancing

double downsample_keep_rate(double c_a, double c_b, double cap) {
    if (!std::isfinite(cap) || cap < 1)
        throw ConfigError("curate.bias.max_skew: expected a number >= 1, got " +
                          std::to_string(cap));
    if (!(c_a > 0) || !(c_b > 0))
        return 1;
    return std::min(1.0, cap * c_b / c_a);
}

bool keep_document(uint64_t seed, int64_t doc_index, double rate) {
    const uint64_t bits = rng_mix(seed, static_cast<uint64_t>(doc_index)) >> 11;
    const double u = static_cast<double>(bits) * 0x1.0p-53; // 53 random bits: [0, 1)
    return u < rate;
}

} // namespace slimtune::data::curate
