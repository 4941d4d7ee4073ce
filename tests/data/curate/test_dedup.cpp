// Dedup stage: simplify_text on hand cases, the hashes, shingles and exact Jaccard, MinHash + LSH
// on documents of known Jaccard similarity, the sequential indexes (first kept, chains, short
// documents), determinism across runs and threads, the LSH formulas against curation.md's table,
// bad configuration, and a 20,000-document no-false-positive run.
#include "common/error.h"
#include "data/curate/dedup.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace slimtune;
using namespace slimtune::data::curate;

namespace {

// A distinct 4-letter word per index (no digits: simplify_text would fold them to "0").
std::string word(int i) {
    std::string w(4, 'a');
    for (int k = 3; k >= 0; --k, i /= 26)
        w[static_cast<std::size_t>(k)] = static_cast<char>('a' + i % 26);
    return w;
}

// Words 0..199 with the words at `replaced` positions swapped for fresh ones.
std::string base_doc_with(const std::vector<int>& replaced) {
    std::string out;
    for (int i = 0, next_fresh = 100000; i < 200; ++i) {
        if (i)
            out += ' ';
        bool swap = false;
        for (int p : replaced)
            swap |= p == i;
        out += swap ? word(next_fresh++) : word(i);
    }
    return out;
}

std::vector<int> evenly_spaced(int first, int step, int count) {
    std::vector<int> v;
    for (int i = 0; i < count; ++i)
        v.push_back(first + i * step);
    return v;
}

std::string utf8(std::u32string_view cps) {
    std::string out;
    for (char32_t cp : cps) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    return out;
}

} // namespace

TEST_CASE("dedup: simplify_text lower-cases, folds numbers, spaces out punctuation", "[curate]") {
    CHECK(simplify_text("Hello, World!") == "hello world");
    CHECK(simplify_text("3.14 and 2024") == "0 and 0");
    // "1,000" is one number (one decimal part at most), then ",000" leaves "," and "0".
    CHECK(simplify_text("1,000,000 people") == "0 0 people");
    CHECK(simplify_text("v1.2.3") == "v0 0");
    CHECK(simplify_text("abc123def x1.5y 7.") == "abc0def x0y 0");
    CHECK(simplify_text("a-b_c/d\\e(f)[g]{h}<i>'j\"k`l~m") == "a b c d e f g h i j k l m");
    CHECK(simplify_text("a\x01"
                        "b\x7f"
                        "c\x1b"
                        "d") == "a b c d");
    CHECK(simplify_text("") == "");
    CHECK(simplify_text(" !!! ... ?") == "");
    // Datatrove's list has ’ (U+2019) and « » — (U+2014) but not ‘ (U+2018).
    CHECK(simplify_text("don\u2019t") == "don t");
    CHECK(simplify_text("don\u2018t") == "don\u2018t");
    CHECK(
        simplify_text("\u00ab\u041f\u0440\u0438\u0432\u0435\u0442\u00bb\u2014\u041c\u0438\u0440") ==
        "\u043f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440");
    // Fullwidth letters lower-case; fullwidth digits are \p{Nd}.
    CHECK(simplify_text("\uFF21\uFF22\uFF11\uFF12") == "\uFF41\uFF42"
                                                       "0");
    // Arabic-Indic digits with the Arabic decimal separator U+066B or comma U+060C.
    CHECK(simplify_text("\u0663\u066B\u0661\u0664 x \u0663\u060C\u0665") == "0 x 0");
}

TEST_CASE("dedup: simplify_text strips accents and normalises whitespace", "[curate]") {
    CHECK(simplify_text("Caf\u00e9") == "cafe");  // precomposed é
    CHECK(simplify_text("Cafe\u0301") == "cafe"); // e + combining acute
    CHECK(simplify_text("NA\u00cfVE r\u00e9sum\u00e9") == "naive resume");
    CHECK(simplify_text("\u0130stanbul") == "istanbul"); // İ -> i + U+0307 -> i
    CHECK(simplify_text("\u212A") == "k");               // KELVIN SIGN lower-cases to ASCII
    CHECK(simplify_text("  a \t\n b\u00a0\u3000c\u2028d\x1c"
                        "e\u0085f  ") == "a b c d e f");
    // U+FEFF and U+200B are not Python whitespace: they stay inside the word.
    CHECK(simplify_text("a\uFEFFb") == "a\uFEFFb");
    // A lone mark leaves no double space (datatrove would give "a  b").
    CHECK(simplify_text("a \u0301 b") == "a b");
    // Hangul syllables decompose into conjoining jamo (NFD).
    CHECK(simplify_text("\uD55C\uAD6D") == utf8(U"\u1112\u1161\u11AB\u1100\u116E\u11A8"));
}

TEST_CASE("dedup: simplify_text lower-cases capital sigma by context", "[curate]") {
    CHECK(simplify_text("\u039f\u0394\u039f\u03a3") == "\u03bf\u03b4\u03bf\u03c2"); // ΟΔΟΣ -> οδος
    CHECK(simplify_text("\u039f\u0394\u039f\u03a3.") == "\u03bf\u03b4\u03bf\u03c2");
    CHECK(simplify_text("\u03a3\u0391") == "\u03c3\u03b1");               // ΣΑ: not final
    CHECK(simplify_text("\u03a3") == "\u03c3");                           // nothing before
    CHECK(simplify_text("\u0391\u03a3 \u0392") == "\u03b1\u03c2 \u03b2"); // ΑΣ Β
    // ' is case-ignorable, so the cased Β after it makes Σ non-final; then ' becomes a space.
    CHECK(simplify_text("\u0391\u03a3'\u0392") == "\u03b1\u03c3 \u03b2");
}

TEST_CASE("dedup: hash64 is XXH64 with seed 0", "[curate]") {
    CHECK(hash64("") == 0xEF46DB3751D8E999ULL);
    CHECK(hash64("abc") == 0x44BC2CF5AD770999ULL);
    CHECK(hash64("abd") != hash64("abc"));
}

TEST_CASE("dedup: word shingles and exact Jaccard", "[curate]") {
    CHECK(word_shingles("a b c d e f", 5) == std::vector<std::string>{"a b c d e", "b c d e f"});
    CHECK(word_shingles("x y x y x", 2) == std::vector<std::string>{"x y", "y x"});
    CHECK(word_shingles("x y x", 1) == std::vector<std::string>{"x", "y"});
    CHECK(word_shingles("a b c d", 5).empty());
    CHECK(word_shingles("", 1).empty());
    CHECK_THROWS_AS(word_shingles("a b", 0), ConfigError);

    // {ab, bc, cd} vs {ab, bc, ce}: 2 shared of 4 distinct.
    CHECK(jaccard(word_shingles("a b c d", 2), word_shingles("a b c e", 2)) == Approx(0.5));
    // {ab, bc, cd} vs {ab}: 1 of 3.
    CHECK(jaccard(word_shingles("a b c d", 2), word_shingles("a b", 2)) == Approx(1.0 / 3.0));
    CHECK(jaccard({"p", "q"}, {"q", "p", "p"}) == 1.0);
    CHECK(jaccard({"p"}, {"q"}) == 0.0);
    CHECK(jaccard({}, {}) == 0.0);
}

TEST_CASE("dedup: MinHash + 14x8 LSH finds the J=0.86 pair and not the J=0.50 pair", "[curate]") {
    const MinHasher hasher(MinHashConfig{});
    // 200 distinct words -> 196 5-grams. Replacing a word at position 4..195 (replacements >= 5
    // apart) removes the 5 shingles containing it and adds 5 new ones: shared = 196 - 5m,
    // union = 196 + 5m.
    const std::string base = base_doc_with({});
    const std::string near = base_doc_with(evenly_spaced(20, 60, 3)); // m = 3: 181 / 211
    const std::string far = base_doc_with(evenly_spaced(10, 14, 13)); // m = 13: 131 / 261
    const std::string mid = base_doc_with(evenly_spaced(20, 30, 6));  // m = 6: 166 / 226
    REQUIRE(simplify_text(base) == base);
    const auto shingles = [](const std::string& s) { return word_shingles(s, 5); };
    REQUIRE(shingles(base).size() == 196);
    const double j_near = jaccard(shingles(base), shingles(near));
    const double j_far = jaccard(shingles(base), shingles(far));
    const double j_mid = jaccard(shingles(base), shingles(mid));
    CHECK(j_near == Approx(181.0 / 211.0).epsilon(1e-12)); // 0.8578
    CHECK(j_far == Approx(131.0 / 261.0).epsilon(1e-12));  // 0.5019
    CHECK(j_mid == Approx(166.0 / 226.0).epsilon(1e-12));  // 0.7345

    const auto sig_base = hasher.signature(base);
    REQUIRE(sig_base.size() == 112);
    const std::pair<const std::string*, double> pairs[] = {
        {&near, j_near}, {&far, j_far}, {&mid, j_mid}};
    for (const auto& [doc, truth] : pairs)
        CHECK(std::abs(estimated_jaccard(sig_base, hasher.signature(*doc)) - truth) < 0.1);
    CHECK(estimated_jaccard(sig_base, sig_base) == 1.0);

    LshIndex with_near(14), with_far(14);
    REQUIRE_FALSE(with_near.find_or_insert(hasher.fingerprint(base).band_keys, 0));
    REQUIRE_FALSE(with_far.find_or_insert(hasher.fingerprint(base).band_keys, 0));
    CHECK(with_near.find_or_insert(hasher.fingerprint(near).band_keys, 1) == 0);
    CHECK_FALSE(with_far.find_or_insert(hasher.fingerprint(far).band_keys, 1));
}

TEST_CASE("dedup: LSH probabilities match curation.md's table", "[curate]") {
    // 14x8: threshold 0.719; P(0.5..0.9) = 0.053 0.211 0.565 0.772 0.924 0.988 1.000.
    CHECK(lsh_threshold(14, 8) == Approx(0.719).margin(0.0005));
    const double s[] = {0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9};
    const double p[] = {0.053, 0.211, 0.565, 0.772, 0.924, 0.988, 1.000};
    for (int i = 0; i < 7; ++i)
        CHECK(lsh_candidate_probability(s[i], 14, 8) == Approx(p[i]).margin(0.0005));
    // NeMo 20x13 and text-dedup 24x10 rows of the table.
    CHECK(lsh_threshold(20, 13) == Approx(0.794).margin(0.0005));
    CHECK(lsh_candidate_probability(0.8, 20, 13) == Approx(0.677).margin(0.0005));
    CHECK(lsh_threshold(24, 10) == Approx(0.728).margin(0.0005));
    CHECK(lsh_candidate_probability(0.7, 24, 10) == Approx(0.497).margin(0.0005));
    CHECK(lsh_candidate_probability(0.0, 14, 8) == 0.0);
    CHECK(lsh_candidate_probability(1.0, 14, 8) == 1.0);
    CHECK_THROWS_AS(lsh_candidate_probability(1.5, 14, 8), ConfigError);
    CHECK_THROWS_AS(lsh_candidate_probability(0.5, 0, 8), ConfigError);
    CHECK_THROWS_AS(lsh_threshold(14, 0), ConfigError);
}

TEST_CASE("dedup: LshIndex reports chains and the earliest matching document", "[curate]") {
    LshIndex index(3);
    // A~B share band 0, B~C share band 1, A and C share nothing.
    const std::vector<std::uint64_t> a = {10, 20, 30}, b = {10, 21, 31}, c = {11, 21, 32};
    CHECK_FALSE(index.find_or_insert(a, 0));
    CHECK(index.find_or_insert(b, 1) == 0);
    CHECK(index.find_or_insert(c, 2) == 1); // found through B's registered keys
    // D matches C in band 0 and A in band 2: the earliest (A) is reported, not the first band's.
    CHECK(index.find_or_insert(std::vector<std::uint64_t>{11, 99, 30}, 3) == 0);
    // The same key in another band is no match.
    CHECK_FALSE(index.find_or_insert(std::vector<std::uint64_t>{20, 30, 10}, 4));
    // Short documents (no keys) never match and register nothing.
    CHECK_FALSE(index.find_or_insert({}, 5));
    CHECK_FALSE(index.find_or_insert({}, 6));
    CHECK(index.memory_bytes() > 0);
    CHECK_THROWS_AS(index.find_or_insert(std::vector<std::uint64_t>{1, 2}, 7), ConfigError);
    CHECK_THROWS_AS(index.find_or_insert(a, -1), ConfigError);
    CHECK_THROWS_AS(LshIndex(0), ConfigError);
}

TEST_CASE("dedup: near-duplicate chain through real signatures", "[curate]") {
    // B differs from A in 2 words, C from B in 2 other words: J(A,B) = J(B,C) = 186/206 = 0.90,
    // J(A,C) = 176/216 = 0.81. All three cluster; every later one is reported.
    const MinHasher hasher(MinHashConfig{});
    std::vector<std::string> words;
    for (int i = 0; i < 200; ++i)
        words.push_back(word(i));
    const auto join = [](const std::vector<std::string>& w) {
        std::string s;
        for (const auto& x : w)
            s += (s.empty() ? "" : " ") + x;
        return s;
    };
    const std::string a = join(words);
    words[30] = word(5000);
    words[90] = word(5001);
    const std::string b = join(words);
    words[130] = word(5002);
    words[170] = word(5003);
    const std::string c = join(words);
    CHECK(jaccard(word_shingles(a, 5), word_shingles(b, 5)) == Approx(186.0 / 206.0));
    CHECK(jaccard(word_shingles(a, 5), word_shingles(c, 5)) == Approx(176.0 / 216.0));
    LshIndex index(14);
    CHECK_FALSE(index.find_or_insert(hasher.fingerprint(a).band_keys, 0));
    CHECK(index.find_or_insert(hasher.fingerprint(b).band_keys, 1).has_value());
    CHECK(index.find_or_insert(hasher.fingerprint(c).band_keys, 2).has_value());
}

TEST_CASE("dedup: documents shorter than n words never match", "[curate]") {
    const MinHasher hasher(MinHashConfig{});
    const std::string four = "one two three four";
    CHECK(hasher.signature(four).empty());
    CHECK(hasher.band_keys(hasher.signature(four)).empty());
    LshIndex index(14);
    CHECK_FALSE(index.find_or_insert(hasher.fingerprint(four).band_keys, 0));
    CHECK_FALSE(index.find_or_insert(hasher.fingerprint(four).band_keys, 1));
    CHECK(hasher.signature("one two three four five").size() == 112);
    CHECK(hasher.signature("").empty());
    // With n = 1 a single word is enough.
    const MinHasher unigram(MinHashConfig{1, 2, 2, 1});
    CHECK(unigram.signature("word").size() == 4);
}

TEST_CASE("dedup: exact index keeps the first occurrence", "[curate]") {
    ExactIndex index;
    const std::uint64_t h = hash64(simplify_text("The cat sat."));
    CHECK(h == hash64(simplify_text("the  CAT sat!!")));
    CHECK_FALSE(index.find_or_insert(h, 0));
    CHECK(index.find_or_insert(h, 1) == 0);
    CHECK_FALSE(index.find_or_insert(hash64(simplify_text("the dog sat")), 2));
    CHECK(index.find_or_insert(h, 3) == 0);
    CHECK(index.size() == 2);
    CHECK_THROWS_AS(index.find_or_insert(h, -2), ConfigError);
}

TEST_CASE("dedup: signature values follow the documented permutations", "[curate]") {
    const MinHasher hasher(MinHashConfig{});
    REQUIRE(hasher.num_permutations() == 112);
    // splitmix64 from seed 1, top 61 bits per draw: a_0 then b_0 (no rejections expected).
    std::uint64_t state = 1;
    const auto next = [&state] {
        std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return (z ^ (z >> 31)) >> 3;
    };
    const std::uint64_t a0 = next(), b0 = next();
    CHECK(hasher.permutation_a(0) == a0);
    CHECK(hasher.permutation_b(0) == b0);
    // Exactly five words: one shingle, so value i = (a_i * x + b_i) mod (2^61 - 1).
    const std::string text = "alpha beta gamma delta epsilon";
    const std::uint64_t p = (std::uint64_t{1} << 61) - 1;
    __extension__ typedef unsigned __int128 u128;
    const u128 x = hash64(text);
    const auto sig = hasher.signature(text);
    REQUIRE(sig.size() == 112);
    for (std::size_t i = 0; i < 112; ++i) {
        const u128 expected = (hasher.permutation_a(i) * x + hasher.permutation_b(i)) % p;
        CHECK(sig[i] == static_cast<std::uint64_t>(expected));
    }
}

TEST_CASE("dedup: scalar and SIMD signatures equal the exact minimum over shingles", "[curate]") {
    // 198 shingles (not a multiple of 4, so the SIMD path pads); the reference takes the minimum
    // of (a_i * (hash mod p) + b_i) mod p over the distinct shingle strings with 128-bit math.
    std::string text = base_doc_with(evenly_spaced(7, 13, 9)) + " " + word(7) + " " + word(8);
    const std::uint64_t p = (std::uint64_t{1} << 61) - 1;
    __extension__ typedef unsigned __int128 u128;
    const MinHasher simd(MinHashConfig{}, true), scalar(MinHashConfig{}, false);
    CHECK_FALSE(scalar.uses_simd());
    const auto shingles = word_shingles(text, 5);
    REQUIRE(shingles.size() == 198);
    std::vector<std::uint64_t> expected(112, ~std::uint64_t{0});
    for (const std::string& s : shingles) {
        const u128 x = hash64(s) % p;
        for (std::size_t i = 0; i < 112; ++i) {
            const auto v = static_cast<std::uint64_t>(
                (scalar.permutation_a(i) * x + scalar.permutation_b(i)) % p);
            expected[i] = std::min(expected[i], v);
        }
    }
    CHECK(scalar.signature(text) == expected);
    CHECK(simd.signature(text) == expected);
    // Short inputs: 1..7 shingles exercise every padding length.
    for (int words = 5; words <= 11; ++words) {
        const std::string prefix =
            base_doc_with({}).substr(0, static_cast<std::size_t>(words) * 5 - 1);
        CHECK(simd.signature(prefix) == scalar.signature(prefix));
    }
}

TEST_CASE("dedup: signatures are deterministic across runs and thread counts", "[curate]") {
    const MinHasher hasher(MinHashConfig{});
    // Golden values (from this implementation; a change means every stored signature changes).
    const auto sig = hasher.signature("the quick brown fox jumps over the lazy dog");
    REQUIRE(sig.size() == 112);
    CHECK(sig[0] == 0x015AED7A64FF83BDULL);
    CHECK(sig[1] == 0x0066C3CFA569CE2BULL);
    CHECK(hasher.band_keys(sig)[0] == 0x0D7CD7C5D455FD9EULL);

    std::vector<std::string> docs;
    for (int d = 0; d < 64; ++d)
        docs.push_back(base_doc_with(evenly_spaced(5 + d % 7, 11, d % 15)));
    std::vector<std::vector<std::uint64_t>> serial(docs.size()), parallel(docs.size());
    for (std::size_t d = 0; d < docs.size(); ++d)
        serial[d] = hasher.fingerprint(docs[d]).band_keys;
#pragma omp parallel for num_threads(4) schedule(dynamic, 1)
    for (std::size_t d = 0; d < docs.size(); ++d)
        parallel[d] = hasher.fingerprint(docs[d]).band_keys;
    CHECK(serial == parallel);
    // A second hasher with the same config gives the same values; another seed does not.
    CHECK(MinHasher(MinHashConfig{}).signature(docs[3]) == hasher.signature(docs[3]));
    CHECK(MinHasher(MinHashConfig{5, 14, 8, 2}).signature(docs[3]) != hasher.signature(docs[3]));
}

TEST_CASE("dedup: bad configuration is a ConfigError", "[curate]") {
    CHECK_THROWS_AS(MinHasher(MinHashConfig{0, 14, 8, 1}), ConfigError);
    CHECK_THROWS_AS(MinHasher(MinHashConfig{5, 0, 8, 1}), ConfigError);
    CHECK_THROWS_AS(MinHasher(MinHashConfig{5, 14, 0, 1}), ConfigError);
    CHECK_THROWS_AS(MinHasher(MinHashConfig{5, 33, 32, 1}), ConfigError); // 1056 hashes
    CHECK_THROWS_AS(MinHasher(MinHashConfig{5, -2, -3, 1}), ConfigError);
    CHECK_THROWS_WITH(MinHasher(MinHashConfig{5, 14, 0, 1}),
                      "minhash config: rows must be >= 1, got 0");
    CHECK_NOTHROW(MinHasher(MinHashConfig{5, 32, 32, 1})); // exactly 1024
    const MinHasher hasher(MinHashConfig{});
    CHECK_THROWS_AS(hasher.band_keys(std::vector<std::uint64_t>(111, 0)), ConfigError);
    CHECK_THROWS_AS(
        estimated_jaccard(std::vector<std::uint64_t>(3, 0), std::vector<std::uint64_t>(4, 0)),
        ConfigError);
}

TEST_CASE("dedup: 20,000 random distinct documents give no false positives", "[curate]") {
    std::mt19937_64 rng(12345);
    std::uniform_int_distribution<int> letter(0, 25), length(3, 9);
    std::vector<std::string> docs(20000);
    for (auto& doc : docs) {
        for (int w = 0; w < 40; ++w) {
            if (w)
                doc += ' ';
            for (int n = length(rng); n > 0; --n)
                doc += static_cast<char>('a' + letter(rng));
        }
    }
    const MinHasher hasher(MinHashConfig{});
    ExactIndex exact;
    LshIndex near(14);
    int exact_hits = 0, near_hits = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t d = 0; d < docs.size(); ++d) {
        const DedupFingerprint f = hasher.fingerprint(docs[d]);
        exact_hits += exact.find_or_insert(f.exact_hash, static_cast<std::int64_t>(d)).has_value();
        near_hits += near.find_or_insert(f.band_keys, static_cast<std::int64_t>(d)).has_value();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("dedup: 20,000 docs fingerprinted and indexed in %.3f s, LSH index %.1f MB\n",
                seconds, static_cast<double>(near.memory_bytes()) / 1e6);
    CHECK(exact_hits == 0);
    CHECK(near_hits == 0);
    // The same documents again are all duplicates of their first copies.
    for (std::size_t d = 0; d < 100; ++d) {
        const auto id = static_cast<std::int64_t>(d);
        const DedupFingerprint f = hasher.fingerprint(docs[d]);
        CHECK(exact.find_or_insert(f.exact_hash, 20000 + id) == id);
        CHECK(near.find_or_insert(f.band_keys, 20000 + id) == id);
    }
}

TEST_CASE("dedup: sketch Jaccard estimate and all LSH candidates", "[curate]") {
    // 112 equal bytes of 112: J = 1. 57 equal: m = 57/112, J = (m - 1/256) / (255/256).
    std::vector<std::uint8_t> a(112), b(112);
    for (std::size_t i = 0; i < a.size(); ++i)
        a[i] = b[i] = static_cast<std::uint8_t>(i);
    CHECK(sketch_jaccard(a, b) == 1.0);
    for (std::size_t i = 57; i < b.size(); ++i)
        b[i] = static_cast<std::uint8_t>(b[i] + 1);
    CHECK(sketch_jaccard(a, b) == Approx((57.0 / 112.0 - 1.0 / 256.0) / (255.0 / 256.0)));
    CHECK(sketch_jaccard(a, {}) == 0.0);
    // Documents 0 and 1 share band 0, 1 and 2 share band 1: 2 sees 1 only; 3 sees 0 and 1.
    LshIndex index(2);
    CHECK(index.candidates_or_insert(std::vector<std::uint64_t>{10, 20}, 0).empty());
    CHECK(index.candidates_or_insert(std::vector<std::uint64_t>{10, 21}, 1) ==
          std::vector<std::int64_t>{0});
    CHECK(index.candidates_or_insert(std::vector<std::uint64_t>{11, 21}, 2) ==
          std::vector<std::int64_t>{1});
    CHECK(index.candidates_or_insert(std::vector<std::uint64_t>{10, 21}, 3) ==
          (std::vector<std::int64_t>{0, 1}));
    // The fingerprint carries one sketch byte per permutation.
    const MinHasher h(MinHashConfig{});
    CHECK(h.fingerprint("one two three four five six seven").sketch.size() == 112);
}
