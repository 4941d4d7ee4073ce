// Exact and near-duplicate detection for `slimtune curate` (curation.md §4, §5). Documents are
// first normalised with simplify_text (so trivial edits - case, digits, punctuation, accents,
// spacing - do not hide a copy), then an exact 64-bit hash catches verbatim copies and MinHash +
// LSH banding over word 5-grams catches near copies (Jaccard above ~0.72 for 14 bands x 8 rows).
//
// The split follows how the pipeline runs: everything per document (simplify, hashing,
// signatures, band keys) is a const, thread-safe function that can run under OpenMP; the keep/drop
// decision is a sequential index fed in input order, with memory linear in documents and no
// pairwise comparisons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data::curate {

// datatrove's simplify_text with its default TextNormConfig, applied per code point in one pass.
// `text` must be valid UTF-8. In datatrove's order:
//  1. lower-case: full Unicode lower-casing as Python's str.lower() (simple mappings from
//     utf8proc, U+0130 -> "i" + U+0307, capital sigma -> final sigma U+03C2 under Unicode's
//     Final_Sigma condition, else U+03C3);
//  2. numbers: each match of \p{Nd}+([.,،٫⎖⎗⎘]\p{Nd}+)? becomes "0" ("3.14" -> "0",
//     "1,000,000" -> "0,0" -> "0 0" after step 3, "abc123" -> "abc0");
//  3. punctuation -> space: datatrove's PUNCTUATION list (all 32 ASCII punctuation marks and
//     « ´ » – — ’ “ ” „ … ∶ ━ ► 、 。 〈 〉 《 》 「 」 【 】 ！ ％ （ ） ， ． １ ： ； ？ ～)
//     and the control characters U+0000..U+0008, U+000B..U+001F, U+007F..U+009F. Other
//     punctuation (e.g. ‘ U+2018, ·) stays, as in datatrove;
//  4. whitespace (Python's str.isspace(): \t \n \v \f \r, U+001C..U+001F, space, U+0085,
//     U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000) -> runs become one
//     space; leading and trailing whitespace removed;
//  5. NFD (canonical decomposition, incl. Hangul) and every nonspacing mark (category Mn) dropped.
// Output words are separated by exactly one ' ', with none at either end. Deviations from
// datatrove: a mark dropped in step 5 never leaves a double space behind (datatrove's
// "a \u0301 b" gives "a  b", ours "a b"), and NFD's canonical reordering is skipped (it only
// reorders marks, which are dropped, except for a handful of spacing marks with a nonzero
// combining class).
std::string simplify_text(std::string_view text);

// XXH64 of the bytes, seed 0.
std::uint64_t hash64(std::string_view bytes);

struct MinHashConfig {
    int ngram = 5;
    int bands = 14;
    int rows = 8;
    std::uint64_t seed = 1;
};

// What the pipeline computes per document (in parallel) and feeds to the indexes (in order).
struct DedupFingerprint {
    std::uint64_t exact_hash = 0;         // hash64(simplify_text(text))
    std::vector<std::uint64_t> band_keys; // empty: too short for near-dedup
    // The low byte of each MinHash value (b-bit minwise hashing, b = 8): enough to estimate the
    // Jaccard similarity of a candidate pair (sketch_jaccard) at 1 byte per permutation.
    std::vector<std::uint8_t> sketch;
};

// MinHash signatures over word n-grams. Permutation i is h_i(x) = (a_i * x + b_i) mod p with
// p = 2^61 - 1, computed exactly (128-bit product). The parameters come from splitmix64 started
// at `seed`: each draw's top 61 bits are taken, a_i rejects values 0 and p, b_i rejects p; a_0,
// b_0, a_1, b_1, ... in that order.
class MinHasher {
public:
    // ConfigError unless ngram >= 1, bands >= 1, rows >= 1, bands * rows <= 1024. With
    // `allow_simd` an AVX2 kernel is used where the CPU has one (same values, faster).
    explicit MinHasher(const MinHashConfig& config, bool allow_simd = true);

    // Signature (bands * rows values) of simplified text. Words are the pieces between single
    // ' ' separators (Python's text.split(' ') of non-empty text); an n-gram is the n words
    // joined by ' ', hashed with hash64 (the contiguous substring of the text, no copy). Each
    // value is the minimum of h_i over the distinct n-grams. Empty when the text has fewer than
    // `ngram` words: such a document is never a near-duplicate (datatrove's rule).
    std::vector<std::uint64_t> signature(std::string_view simplified) const;

    // One key per band: hash64 of the band's `rows` values as little-endian 8-byte words. Empty
    // for an empty signature; ConfigError when the signature has the wrong length.
    std::vector<std::uint64_t> band_keys(std::span<const std::uint64_t> signature) const;

    // simplify_text, hash64, signature and band_keys in one call.
    DedupFingerprint fingerprint(std::string_view text) const;

    const MinHashConfig& config() const { return config_; }
    std::size_t num_permutations() const { return a_.size(); }
    std::uint64_t permutation_a(std::size_t i) const { return a_.at(i); }
    std::uint64_t permutation_b(std::size_t i) const { return b_.at(i); }
    bool uses_simd() const { return use_avx2_; }

private:
    MinHashConfig config_;
    std::vector<std::uint64_t> a_, b_;
    bool use_avx2_ = false;
};

// An open-addressing hash table from 64-bit keys to the first document id stored under them
// (linear probing, power-of-two capacity, at most 3/4 full). Doc ids must be >= 0.
class FirstDocTable {
public:
    // The doc stored under `key`, or nullopt after storing `doc` under it.
    std::optional<std::int64_t> find_or_insert(std::uint64_t key, std::int64_t doc);
    std::optional<std::int64_t> find(std::uint64_t key) const;
    void reserve(std::size_t keys);
    std::size_t size() const { return size_; }
    std::size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

private:
    struct Slot {
        std::uint64_t key;
        std::int64_t doc; // -1: empty
    };
    void rehash(std::size_t capacity);
    static std::size_t slot_of(std::uint64_t key);
    std::vector<Slot> slots_;
    std::size_t size_ = 0;
};

// Sequential LSH index. A document is a near-duplicate when any of its band keys equals the same
// band's key of an EARLIER document (kept or dropped). Returns the earliest such document (the
// smallest id among the first documents registered under each matching key), else nullopt. In
// both cases the doc's keys that are new to their band are registered, so chains are found
// (A~B, B~C: C is reported against B even when A and C share no band). Memory: at most
// bands x docs entries. An empty key list (short document) never matches and registers nothing.
class LshIndex {
public:
    // ConfigError unless bands >= 1.
    explicit LshIndex(int bands);
    // Registers the document's keys and returns every earlier document found under one of them
    // (the first one registered per band key), distinct, in increasing order.
    std::vector<std::int64_t> candidates_or_insert(std::span<const std::uint64_t> band_keys,
                                                   std::int64_t doc);
    // ConfigError when band_keys is neither empty nor `bands` long, or doc < 0.
    std::optional<std::int64_t> find_or_insert(std::span<const std::uint64_t> band_keys,
                                               std::int64_t doc);
    void reserve(std::size_t docs);
    std::size_t memory_bytes() const; // approximate, for the report

private:
    std::vector<FirstDocTable> tables_; // one per band
};

// Exact duplicates by the 64-bit hash of the simplified text; the first occurrence is kept, later
// ones are reported against it.
class ExactIndex {
public:
    // ConfigError when doc < 0.
    std::optional<std::int64_t> find_or_insert(std::uint64_t hash, std::int64_t doc);
    void reserve(std::size_t docs) { table_.reserve(docs); }
    std::size_t size() const { return table_.size(); }
    std::size_t memory_bytes() const { return table_.memory_bytes(); }

private:
    FirstDocTable table_;
};

// Helpers for tests and the report.

// The word n-grams of simplified text (words as in MinHasher::signature), joined by ' ', sorted
// and unique. Empty when there are fewer than `ngram` words. ConfigError unless ngram >= 1.
std::vector<std::string> word_shingles(std::string_view simplified, int ngram);
// |A ∩ B| / |A ∪ B| of two string sets (duplicates in the inputs are ignored); 0 when both are
// empty (documents without shingles are never duplicates).
double jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b);
// Fraction of positions where the signatures agree; 0 when either is empty. ConfigError when
// the lengths differ.
double estimated_jaccard(std::span<const std::uint64_t> sig_a,
                         std::span<const std::uint64_t> sig_b);
// P(two documents with Jaccard s share at least one band) = 1 - (1 - s^rows)^bands.
// ConfigError unless 0 <= s <= 1, bands >= 1, rows >= 1.
double lsh_candidate_probability(double jaccard, int bands, int rows);
// The similarity where that probability rises steepest, approximately (1/bands)^(1/rows).
double lsh_threshold(int bands, int rows);
// Jaccard estimate from two 8-bit sketches of the same permutations: equal bytes happen with
// probability J + (1 - J) / 256, so J = (matches / K - 1/256) / (1 - 1/256), clamped to [0, 1].
double sketch_jaccard(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

} // namespace slimtune::data::curate
