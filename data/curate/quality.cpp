// Gopher quality, Gopher repetition and FineWeb quality rules (see quality.h for definitions).
#include "data/curate/quality.h"

#include "common/error.h"
#include "data/curate/quality_internal.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <xxhash.h>

namespace slimtune::data::curate {

using namespace quality_detail;

namespace {

// ---------------------------------------------------------------------------------------------
// Code points and character classes

// Byte offset of the code point that ends at byte `end` (end > 0).
inline std::size_t prev_start(std::string_view s, std::size_t end) {
    do {
        --end;
    } while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80);
    return end;
}

inline bool is_letter_cp(char32_t cp) {
    return cp < 0x80 ? ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') : is_letter(cp);
}

inline int64_t chars_in(std::string_view s) {
    return static_cast<int64_t>(code_point_count(s));
}

std::string_view lstrip(std::string_view s) {
    std::size_t i = 0, next = 0; // decode advances `next`; `i` follows it past whitespace
    while (i < s.size() && is_space(decode(s, next)))
        i = next;
    return s.substr(i);
}

std::string_view rstrip(std::string_view s) {
    std::size_t end = s.size();
    while (end > 0) {
        const std::size_t begin = prev_start(s, end);
        if (std::size_t at = begin; !is_space(decode(s, at)))
            break;
        end = begin;
    }
    return s.substr(0, end);
}

// ---------------------------------------------------------------------------------------------
// First-occurrence table: open addressing keyed by a 64-bit hash, with exact equality checked
// by the caller on a hash match, so collisions never merge different elements.

inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    return h;
}

constexpr uint64_t kBase = 0x9E3779B97F4A7C15ULL; // odd, hence invertible mod 2^64
constexpr uint64_t inverse_mod_2_64(uint64_t a) {
    uint64_t x = a; // correct to 3 bits; each Newton step doubles that
    for (int k = 0; k < 6; ++k)
        x *= 2 - a * x;
    return x;
}
constexpr uint64_t kBaseInverse = inverse_mod_2_64(kBase);
static_assert(kBase * kBaseInverse == 1);

class SeenTable {
public:
    struct Slot {
        uint64_t hash = 0;
        uint32_t first = 0; // element index + 1 of the first occurrence; 0 = empty slot
        uint32_t count = 0;
    };

    // Empties the table, sized for up to `max_elements` distinct elements.
    void reset(std::size_t max_elements) {
        // 32-bit indexes keep a slot at 16 bytes; 4G tokens would need > 64 GB anyway.
        SLIMTUNE_ASSERT(max_elements < UINT32_MAX, "quality: document too large for SeenTable");
        const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, 2 * max_elements));
        shift_ = 64 - std::countr_zero(capacity);
        slots_.assign(capacity, Slot{});
    }

    // The slot of the element equal to element `index`, inserted (count 0) when absent.
    // same(other) says whether stored element `other` equals element `index`.
    template <class Same> Slot& find_or_insert(uint64_t hash, std::size_t index, Same&& same) {
        const std::size_t mask = slots_.size() - 1;
        for (std::size_t p = (mix64(hash) * 0x9E3779B97F4A7C15ULL) >> shift_;; p = (p + 1) & mask) {
            Slot& slot = slots_[p];
            if (slot.first == 0) {
                slot.hash = hash;
                slot.first = static_cast<uint32_t>(index + 1);
                return slot;
            }
            if (slot.hash == hash && same(slot.first - 1))
                return slot;
        }
    }

private:
    std::vector<Slot> slots_;
    int shift_ = 60;
};

struct Duplicates {
    int64_t elements = 0, chars = 0;
};

// datatrove's find_duplicates: later occurrences count, with their length in code points.
Duplicates find_duplicates(const std::vector<std::string_view>& elements, SeenTable& table) {
    table.reset(elements.size());
    Duplicates dup;
    for (std::size_t k = 0; k < elements.size(); ++k) {
        const std::string_view e = elements[k];
        const auto& slot =
            table.find_or_insert(XXH3_64bits(e.data(), e.size()), k,
                                 [&](std::size_t other) { return elements[other] == e; });
        const bool seen = slot.first - 1 != k;
        dup.elements += seen;
        dup.chars += seen ? chars_in(e) : 0;
    }
    return dup;
}

// Splits `s` at every run of at least `min_run` "\n"; always returns at least one element.
std::vector<std::string_view> split_newline_runs(std::string_view s, std::size_t min_run) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (std::size_t i = s.find('\n'); i != std::string_view::npos; i = s.find('\n', i)) {
        const std::size_t run_end = std::min(s.find_first_not_of('\n', i), s.size());
        if (run_end - i >= min_run)
            out.push_back(s.substr(start, i - start)), start = run_end;
        i = run_end;
    }
    out.push_back(s.substr(start));
    return out;
}

// Tokens with running totals over tokens [0, k) at before[k]: code points, bytes, and a
// polynomial hash of their concatenation (Horner, odd base, mod 2^64) with the base's power and
// inverse power at that byte offset, so that tokens [a, b) concatenated hash to
// before[b].hash - before[a].hash * before[b].pow * before[a].inv_pow.
struct Prefix {
    int64_t chars = 0;
    std::size_t bytes = 0;
    uint64_t hash = 0, pow = 1, inv_pow = 1;
};
struct TokenIndex {
    std::vector<std::string_view> tokens;
    std::vector<uint64_t> token_hash; // xxh3 of each token
    std::vector<Prefix> before;       // tokens.size() + 1 entries
    int64_t chars(std::size_t a, std::size_t n) const {
        return before[a + n].chars - before[a].chars;
    }
};

TokenIndex index_tokens(std::string_view text) {
    TokenIndex ix;
    for_each_token(text, [&](std::string_view token, bool) { ix.tokens.push_back(token); });
    ix.token_hash.reserve(ix.tokens.size());
    ix.before.reserve(ix.tokens.size() + 1);
    Prefix run;
    ix.before.push_back(run);
    for (const std::string_view t : ix.tokens) {
        ix.token_hash.push_back(XXH3_64bits(t.data(), t.size()));
        for (const char c : t) {
            run.hash = run.hash * kBase + static_cast<unsigned char>(c) + 1;
            run.pow *= kBase;
            run.inv_pow *= kBaseInverse;
            run.chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }
        run.bytes += t.size();
        ix.before.push_back(run);
    }
    return ix;
}

// Code points of the most frequent n-gram (joined by spaces) times its count; -1 when the
// document has fewer than n tokens (datatrove skips the rule then).
int64_t top_ngram_chars(const TokenIndex& ix, std::size_t n, SeenTable& table) {
    if (ix.tokens.size() < n)
        return -1;
    const std::size_t positions = ix.tokens.size() - n + 1;
    table.reset(positions);
    // Python's Counter.most_common(1) keeps the first-inserted n-gram among equal counts. Counts
    // grow by one, so the leader can be tracked as they do.
    const SeenTable::Slot* best = nullptr;
    for (std::size_t p = 0; p < positions; ++p) {
        uint64_t h = n; // the table mixes the bits; collisions are resolved by `same`
        for (std::size_t k = 0; k < n; ++k)
            h = h * kBase + ix.token_hash[p + k];
        auto same = [&](std::size_t other) {
            return std::equal(ix.tokens.begin() + static_cast<std::ptrdiff_t>(other),
                              ix.tokens.begin() + static_cast<std::ptrdiff_t>(other + n),
                              ix.tokens.begin() + static_cast<std::ptrdiff_t>(p));
        };
        auto& slot = table.find_or_insert(h, p, same);
        ++slot.count;
        if (best == nullptr || slot.count > best->count ||
            (slot.count == best->count && slot.first < best->first))
            best = &slot;
    }
    const int64_t length = ix.chars(best->first - 1, n) + static_cast<int64_t>(n) - 1;
    return length * static_cast<int64_t>(best->count);
}

bool same_concatenation(const TokenIndex& ix, std::size_t a, std::size_t b, std::size_t n) {
    const auto bytes = [&](std::size_t at) {
        return ix.before[at + n].bytes - ix.before[at].bytes;
    };
    if (bytes(a) != bytes(b))
        return false;
    std::size_t ta = a, oa = 0, tb = b, ob = 0;
    while (ta < a + n) { // equal totals: both sides run out together
        const std::string_view x = ix.tokens[ta].substr(oa), y = ix.tokens[tb].substr(ob);
        const std::size_t m = std::min(x.size(), y.size());
        if (std::memcmp(x.data(), y.data(), m) != 0)
            return false;
        oa += m;
        ob += m;
        if (oa == ix.tokens[ta].size())
            ++ta, oa = 0;
        if (ob == ix.tokens[tb].size())
            ++tb, ob = 0;
    }
    return true;
}

// Code points in repeated n-grams (tokens concatenated), with datatrove's jump-n rule.
int64_t dup_ngram_chars(const TokenIndex& ix, std::size_t n, SeenTable& table) {
    if (ix.tokens.size() < n)
        return 0;
    table.reset(ix.tokens.size() - n + 1);
    int64_t repeated = 0;
    for (std::size_t idx = 0; idx + n <= ix.tokens.size();) {
        const Prefix &from = ix.before[idx], &to = ix.before[idx + n];
        const uint64_t h = to.hash - from.hash * to.pow * from.inv_pow;
        const auto& slot = table.find_or_insert(
            h, idx, [&](std::size_t other) { return same_concatenation(ix, other, idx, n); });
        const bool seen = slot.first - 1 != idx;
        repeated += seen ? ix.chars(idx, n) : 0;
        idx += seen ? n : 1;
    }
    return repeated;
}

// Non-symbol tokens: the words of gopher_quality.
int64_t count_words(std::string_view text) {
    int64_t words = 0;
    for_each_token(text, [&](std::string_view, bool symbol) { words += !symbol; });
    return words;
}

inline double ratio(double num, double den) {
    return den > 0 ? num / den : 0.0;
}

// Fills `st` with the repetition measures in check order and returns the first failure; with
// `stop` it returns there. A measure whose denominator is zero stays 0 and is not checked.
void check_ngram_lists(const GopherRepetitionConfig& cfg) {
    for (const auto* list : {&cfg.top_ngram_max, &cfg.dup_ngram_max})
        for (const auto& entry : *list)
            if (entry.first < 1)
                throw ConfigError(std::string("gopher_repetition.") +
                                  (list == &cfg.top_ngram_max ? "top_ngram_max" : "dup_ngram_max") +
                                  ": n must be >= 1; got " + std::to_string(entry.first));
}

std::optional<RuleFailure> measure_repetition(std::string_view text,
                                              const GopherRepetitionConfig& cfg,
                                              RepetitionStats& st,
                                              bool stop) {
    check_ngram_lists(cfg);
    st = RepetitionStats{0,
                         0,
                         0,
                         0,
                         std::vector<double>(cfg.top_ngram_max.size(), 0.0),
                         std::vector<double>(cfg.dup_ngram_max.size(), 0.0)};
    std::optional<RuleFailure> failure;
    // Records one measure; true when the caller should return. n > 0: rule id "<rule><n>gram".
    auto check = [&](double& field, double value, double threshold, const char* rule, int n = 0) {
        field = value;
        if (!failure && value > threshold)
            failure =
                RuleFailure{n > 0 ? rule + std::to_string(n) + "gram" : rule, value, threshold};
        return stop && failure.has_value();
    };
    const auto chars = static_cast<double>(code_point_count(text));
    SeenTable table;
    const auto paragraphs = split_newline_runs(rstrip(lstrip(text)), 2);
    const Duplicates para = find_duplicates(paragraphs, table);
    if (check(st.dup_para_frac, ratio(para.elements, paragraphs.size()), cfg.max_dup_para_frac,
              "gopher_dup_para_frac") ||
        (chars > 0 && check(st.dup_para_char_frac, para.chars / chars, cfg.max_dup_para_char_frac,
                            "gopher_dup_para_char_frac")))
        return failure;
    const auto lines = split_newline_runs(text, 1);
    const Duplicates line = find_duplicates(lines, table);
    if (check(st.dup_line_frac, ratio(line.elements, lines.size()), cfg.max_dup_line_frac,
              "gopher_dup_line_frac") ||
        (chars > 0 && check(st.dup_line_char_frac, line.chars / chars, cfg.max_dup_line_char_frac,
                            "gopher_dup_line_char_frac")))
        return failure;
    if (chars == 0)
        return failure; // no tokens, and every n-gram measure divides by zero

    const TokenIndex ix = index_tokens(text);
    for (std::size_t k = 0; k < cfg.top_ngram_max.size(); ++k) {
        const auto [n, threshold] = cfg.top_ngram_max[k];
        const int64_t top = top_ngram_chars(ix, static_cast<std::size_t>(n), table);
        if (top >= 0 && check(st.top_ngram_frac[k], top / chars, threshold, "gopher_top_", n))
            return failure;
    }
    for (std::size_t k = 0; k < cfg.dup_ngram_max.size(); ++k) {
        const auto [n, threshold] = cfg.dup_ngram_max[k];
        const int64_t dup = dup_ngram_chars(ix, static_cast<std::size_t>(n), table);
        if (check(st.dup_ngram_frac[k], dup / chars, threshold, "gopher_dup_", n))
            return failure;
    }
    return failure;
}

// One rule of a filter, in check order: whether it fired, its id, value and threshold.
struct RuleCheck {
    bool failed;
    const char* rule;
    double value, threshold;
};

std::optional<RuleFailure> first_failure(std::initializer_list<RuleCheck> checks) {
    for (const RuleCheck& c : checks)
        if (c.failed)
            return RuleFailure{c.rule, c.value, c.threshold};
    return std::nullopt;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// Public API

GopherQualityStats gopher_quality_stats(std::string_view text, const GopherQualityConfig& cfg) {
    GopherQualityStats st;
    int64_t word_chars = 0, alpha_tokens = 0;
    std::vector<char> stop_found(cfg.stop_words.size(), 0);
    for_each_token(text, [&](std::string_view token, bool symbol) {
        ++st.tokens;
        int64_t chars = 0;
        bool has_letter = false;
        for (std::size_t i = 0; i < token.size(); ++chars)
            has_letter = is_letter_cp(decode(token, i)) || has_letter;
        alpha_tokens += has_letter;
        st.words += !symbol;
        word_chars += symbol ? 0 : chars;
        for (std::size_t k = 0; k < cfg.stop_words.size(); ++k)
            stop_found[k] = stop_found[k] || token == cfg.stop_words[k];
    });
    const auto stop_begin = cfg.stop_words.begin();
    for (std::size_t k = 0; k < cfg.stop_words.size(); ++k) // a repeated entry counts once
        st.stop_words += stop_found[k] && std::find(stop_begin, stop_begin + k, stop_begin[k]) ==
                                              stop_begin + static_cast<std::ptrdiff_t>(k);
    int64_t ellipses = 0;
    for (const std::string_view mark : {std::string_view("..."), std::string_view("…")})
        for (std::size_t at = text.find(mark); at != std::string_view::npos;
             at = text.find(mark, at + mark.size()))
            ++ellipses; // non-overlapping, as str.count
    st.mean_word_length = ratio(word_chars, st.words);
    st.hash_ratio = ratio(std::count(text.begin(), text.end(), '#'), st.tokens);
    st.ellipsis_ratio = ratio(ellipses, st.tokens);
    st.alpha_words_ratio = ratio(alpha_tokens, st.tokens);

    // Lines as str.splitlines(): \n \r \r\n \v \f \x1c \x1d \x1e U+0085 U+2028 U+2029 end a line;
    // no empty line after a final break.
    int64_t bullets = 0, ellipsis_lines = 0;
    auto on_line = [&](std::string_view line) {
        ++st.lines;
        const std::string_view left = lstrip(line), right = rstrip(line);
        bullets += left.starts_with("•") || left.starts_with('-');
        ellipsis_lines += right.ends_with("...") || right.ends_with("…");
    };
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto b = static_cast<unsigned char>(text[i]);
        std::size_t brk = 0;
        if (b == '\n' || b == '\v' || b == '\f' || (b >= 0x1C && b <= 0x1E))
            brk = 1;
        else if (b == '\r')
            brk = text.substr(i, 2) == "\r\n" ? 2 : 1;
        else if (b == 0xC2 && text.substr(i, 2) == "\u0085")
            brk = 2;
        else if (b == 0xE2 && (text.substr(i, 3) == "\u2028" || text.substr(i, 3) == "\u2029"))
            brk = 3;
        if (brk > 0)
            on_line(text.substr(line_start, i - line_start)), line_start = i + brk;
        i += brk > 0 ? brk : 1;
    }
    if (line_start < text.size())
        on_line(text.substr(line_start));
    st.bullet_lines_ratio = ratio(bullets, st.lines);
    st.ellipsis_lines_ratio = ratio(ellipsis_lines, st.lines);
    return st;
}

std::optional<RuleFailure> gopher_quality(std::string_view text, const GopherQualityConfig& cfg) {
    if (!cfg.enabled)
        return std::nullopt;
    const GopherQualityStats st = gopher_quality_stats(text, cfg);
    const auto words = static_cast<double>(st.words);
    // A ratio without a denominator does not fire (numpy's mean of nothing is NaN, which fails
    // every comparison; datatrove's other ratios would divide by zero).
    const bool has_words = st.words > 0, has_tokens = st.tokens > 0, has_lines = st.lines > 0;
    const double mean = st.mean_word_length;
    return first_failure({
        {st.words < cfg.min_words, "gopher_min_words", words, static_cast<double>(cfg.min_words)},
        {st.words > cfg.max_words, "gopher_max_words", words, static_cast<double>(cfg.max_words)},
        {has_words && mean < cfg.min_mean_word_length, "gopher_min_mean_word_length", mean,
         cfg.min_mean_word_length},
        {has_words && mean > cfg.max_mean_word_length, "gopher_max_mean_word_length", mean,
         cfg.max_mean_word_length},
        {has_tokens && st.hash_ratio > cfg.max_symbol_word_ratio, "gopher_hash_ratio",
         st.hash_ratio, cfg.max_symbol_word_ratio},
        {has_tokens && st.ellipsis_ratio > cfg.max_ellipsis_word_ratio, "gopher_ellipsis_ratio",
         st.ellipsis_ratio, cfg.max_ellipsis_word_ratio},
        {has_lines && st.bullet_lines_ratio > cfg.max_bullet_lines_ratio, "gopher_bullet_lines",
         st.bullet_lines_ratio, cfg.max_bullet_lines_ratio},
        {has_lines && st.ellipsis_lines_ratio > cfg.max_ellipsis_lines_ratio,
         "gopher_ellipsis_lines", st.ellipsis_lines_ratio, cfg.max_ellipsis_lines_ratio},
        {has_tokens && st.alpha_words_ratio < cfg.min_alpha_words_ratio, "gopher_alpha_words",
         st.alpha_words_ratio, cfg.min_alpha_words_ratio},
        {st.stop_words < cfg.min_stop_words, "gopher_stop_words",
         static_cast<double>(st.stop_words), static_cast<double>(cfg.min_stop_words)},
    });
}

RepetitionStats repetition_stats(std::string_view text, const GopherRepetitionConfig& cfg) {
    RepetitionStats st;
    measure_repetition(text, cfg, st, false);
    return st;
}

std::optional<RuleFailure> gopher_repetition(std::string_view text,
                                             const GopherRepetitionConfig& cfg) {
    if (!cfg.enabled)
        return std::nullopt;
    check_ngram_lists(cfg);
    if (cfg.min_words > 0 && count_words(text) < cfg.min_words)
        return std::nullopt;
    RepetitionStats st;
    return measure_repetition(text, cfg, st, true);
}

FineWebStats fineweb_stats(std::string_view text, const FineWebQualityConfig& cfg) {
    FineWebStats st;
    std::vector<std::string_view> lines;
    int64_t terminal = 0, short_lines = 0, newlines = 0;
    for (std::size_t start = 0; start <= text.size();) {
        const std::size_t end = std::min(text.find('\n', start), text.size());
        newlines += end < text.size();
        const std::string_view line = text.substr(start, end - start);
        if (!lstrip(line).empty()) { // datatrove drops lines that strip() to nothing
            lines.push_back(line);
            std::size_t last = prev_start(line, line.size());
            terminal += is_sentence_terminal(decode(line, last));
            short_lines += chars_in(line) <= cfg.short_line_chars;
        }
        start = end + 1;
    }
    st.lines = static_cast<int64_t>(lines.size());
    if (lines.empty())
        return st;
    st.terminal_punct_lines = ratio(terminal, st.lines);
    st.short_lines = ratio(short_lines, st.lines);
    SeenTable table;
    st.dup_line_char_frac = ratio(find_duplicates(lines, table).chars, chars_in(text) - newlines);
    int64_t words = 0;
    for_each_token(text, [&](std::string_view, bool) { ++words; });
    st.newline_word_ratio = ratio(newlines, words);
    return st;
}

std::optional<RuleFailure> fineweb_quality(std::string_view text, const FineWebQualityConfig& cfg) {
    if (!cfg.enabled)
        return std::nullopt;
    const FineWebStats st = fineweb_stats(text, cfg);
    return first_failure({
        {st.lines == 0, "fineweb_empty", 0, 0},
        {st.terminal_punct_lines < cfg.min_terminal_punct_lines, "fineweb_terminal_punct_lines",
         st.terminal_punct_lines, cfg.min_terminal_punct_lines},
        {st.short_lines > cfg.max_short_lines, "fineweb_short_lines", st.short_lines,
         cfg.max_short_lines},
        {st.dup_line_char_frac > cfg.max_dup_line_char_frac, "fineweb_dup_line_chars",
         st.dup_line_char_frac, cfg.max_dup_line_char_frac},
        {st.newline_word_ratio > cfg.max_newline_word_ratio, "fineweb_newline_word_ratio",
         st.newline_word_ratio, cfg.max_newline_word_ratio},
    });
}

} // namespace slimtune::data::curate
