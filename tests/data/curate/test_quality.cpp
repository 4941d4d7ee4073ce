// Gopher quality / repetition and FineWeb rules on hand-built documents; every expected number
// is worked out by hand in the comment next to it.
#include "common/error.h"
#include "data/curate/quality.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace slimtune::data::curate;

namespace {

std::string repeat(const std::string& unit, int times) {
    std::string out;
    for (int k = 0; k < times; ++k)
        out += unit;
    return out;
}

std::vector<std::string> tokens_of(std::string_view text) {
    std::vector<std::string> out;
    for (const auto t : gopher_tokens(text))
        out.emplace_back(t);
    return out;
}

// 6 words (The cat sat with the dog: 3+3+3+4+3+3 = 19 chars) and one "." token; stop words
// present: "the", "with" ("The" does not count: the match is case-sensitive).
const std::string kSentence = "The cat sat with the dog. ";

// 60 words, 6 punctuation tokens (3 commas, 3 full stops); stop words the, and, of, to, with.
const std::string kCleanParagraph =
    "The old lighthouse keeper walked along the rocky shore every morning, checking the nets "
    "and watching the gulls circle above the grey water. He had lived there for many years with "
    "his daughter, who painted small pictures of boats and sold them to visitors in the summer. "
    "Their cottage was warm, and the kitchen always smelled of fresh brown bread.";

// datatrove's repetition filter: every rule on every document, however short (ours skips
// documents under min_words).
GopherRepetitionConfig datatrove_repetition() {
    GopherRepetitionConfig cfg;
    cfg.min_words = 0;
    return cfg;
}

FineWebQualityConfig fineweb_on() {
    FineWebQualityConfig cfg;
    cfg.enabled = true;
    return cfg;
}

void require_failure(const std::optional<RuleFailure>& f,
                     const std::string& rule,
                     double value,
                     double threshold) {
    REQUIRE(f.has_value());
    CHECK(f->rule == rule);
    CHECK(f->value == Approx(value).epsilon(1e-12));
    CHECK(f->threshold == threshold);
}

} // namespace

TEST_CASE("quality: gopher_tokens splits edge punctuation and keeps interior punctuation",
          "[curate]") {
    using V = std::vector<std::string>;
    CHECK(tokens_of("(hello, world)!") == V{"(", "hello", ",", "world", ")", "!"});
    CHECK(tokens_of("don't e-mail 3.14 U.S.A.") == V{"don't", "e-mail", "3.14", "U.S.A", "."});
    CHECK(tokens_of("wait... no.... ok?!") == V{"wait", "...", "no", "....", "ok", "?", "!"});
    CHECK(tokens_of("a.. .,.") == V{"a", "..", ".", ",", "."});
    CHECK(tokens_of("wait…") == V{"wait", "…"});
    CHECK(tokens_of("#tag ## $5.") == V{"#", "tag", "#", "#", "$", "5", "."});
    CHECK(tokens_of("_init_ \"quoted\"") == V{"_", "init", "_", "\"", "quoted", "\""});
    CHECK(tokens_of("").empty());
    CHECK(tokens_of(" \t\n ").empty());
}

TEST_CASE("quality: gopher_tokens splits on Unicode whitespace, not on CJK", "[curate]") {
    using V = std::vector<std::string>;
    // U+00A0, U+3000, U+2028 and \x1c are Python whitespace; U+200B (format char) is not.
    CHECK(tokens_of("a\u00a0b\u3000c\u2028d\x1c"
                    "e") == V{"a", "b", "c", "d", "e"});
    CHECK(tokens_of("a\u200bb") == V{"a\u200bb"});
    CHECK(tokens_of("東京に行く。 日本 語") == V{"東京に行く", "。", "日本", "語"});
    // Combining acute accent stays with its letter; code points, not bytes, decide.
    CHECK(tokens_of("e\u0301te\u0301!") == V{"e\u0301te\u0301", "!"});
}

TEST_CASE("quality: gopher_tokens keeps emoji grapheme clusters whole", "[curate]") {
    using V = std::vector<std::string>;
    // Skin tone modifier, ZWJ family, variation selector: one cluster each.
    CHECK(tokens_of("Hi👋🏽! 👨‍👩‍👧 ok") ==
          V{"Hi", "👋🏽", "!", "👨‍👩‍👧", "ok"});
    CHECK(tokens_of("❤️love") == V{"❤️", "love"});
    // Regional indicators pair up into flags; a lone one is its own token.
    CHECK(tokens_of("🇫🇷🇩🇪🇫") == V{"🇫🇷", "🇩🇪", "🇫"});
}

TEST_CASE("quality: is_symbol_token and is_sentence_terminal", "[curate]") {
    CHECK(is_symbol_token("#"));
    CHECK(is_symbol_token("..."));
    CHECK(is_symbol_token("…"));
    CHECK(is_symbol_token("€"));
    CHECK(is_symbol_token("_"));
    CHECK(is_symbol_token("❤️")); // U+2764 (So) + U+FE0F (Mn) is one cluster starting with So
    CHECK(is_symbol_token("👨‍👩‍👧"));
    CHECK(is_symbol_token("\x01"));
    CHECK(is_symbol_token(""));
    CHECK_FALSE(is_symbol_token("abc"));
    CHECK_FALSE(is_symbol_token("a#"));
    CHECK_FALSE(is_symbol_token("#a"));
    CHECK_FALSE(is_symbol_token("2"));
    CHECK_FALSE(is_symbol_token("語"));

    CHECK(is_sentence_terminal(U'.'));
    CHECK(is_sentence_terminal(U'!'));
    CHECK(is_sentence_terminal(U'?'));
    CHECK(is_sentence_terminal(U'\u3002')); // 。
    CHECK(is_sentence_terminal(U'\uff01')); // ！
    CHECK(is_sentence_terminal(U'\u0964')); // Devanagari danda
    CHECK(is_sentence_terminal(U'\U0001DA88'));
    CHECK_FALSE(is_sentence_terminal(U'"'));
    CHECK_FALSE(is_sentence_terminal(U'\''));
    CHECK_FALSE(is_sentence_terminal(U','));
    CHECK_FALSE(is_sentence_terminal(U'\u2026')); // …
    CHECK_FALSE(is_sentence_terminal(U'a'));
    CHECK_FALSE(is_sentence_terminal(U'\U0001DA89'));
}

TEST_CASE("quality: a clean 60-word paragraph passes all three filters", "[curate]") {
    const GopherQualityConfig q;
    const GopherQualityStats st = gopher_quality_stats(kCleanParagraph, q);
    CHECK(st.words == 60);
    CHECK(st.tokens == 66);    // 60 words + 3 "," + 3 "."
    CHECK(st.stop_words == 5); // the, and, of, to, with
    CHECK(st.alpha_words_ratio == Approx(60.0 / 66));
    CHECK(st.lines == 1);
    CHECK_FALSE(gopher_quality(kCleanParagraph, q));
    CHECK_FALSE(gopher_repetition(kCleanParagraph, datatrove_repetition()));
    CHECK_FALSE(fineweb_quality(kCleanParagraph, fineweb_on()));
}

TEST_CASE("quality: word count bounds (49 fails, 50 passes, max_words)", "[curate]") {
    const GopherQualityConfig cfg;
    // 8 sentences = 48 words, + "Yes" = 49 words.
    const std::string text49 = repeat(kSentence, 8) + "Yes";
    require_failure(gopher_quality(text49, cfg), "gopher_min_words", 49, 50);
    // + "Yes yes" = 50 words; 58 tokens, 50 alphabetic (0.862); mean (8*19+6)/50 = 3.16.
    CHECK_FALSE(gopher_quality(repeat(kSentence, 8) + "Yes yes", cfg));
    require_failure(gopher_quality("", cfg), "gopher_min_words", 0, 50);

    // With no word minimum, rules without a denominator do not fire: "!!! ???" has 6 symbol
    // tokens and no words, so the mean-length rule is skipped and 0 alphabetic of 6 fails.
    GopherQualityConfig no_min = cfg;
    no_min.min_words = 0;
    require_failure(gopher_quality("!!! ???", no_min), "gopher_alpha_words", 0, 0.8);
    no_min.min_stop_words = 0; // the empty text then has nothing left to fail
    CHECK_FALSE(gopher_quality("", no_min));

    GopherQualityConfig small = cfg;
    small.min_words = 0; // otherwise 48 < 50 fails first
    small.max_words = 47;
    require_failure(gopher_quality(repeat(kSentence, 8), small), "gopher_max_words", 48, 47);
}

TEST_CASE("quality: mean word length 2.9 fails, long words fail the maximum", "[curate]") {
    // the cat is on one mat with the big dog: 3+3+2+2+3+3+4+3+3+3 = 29 chars, 10 words;
    // five times: 145 / 50 = 2.9.
    const std::string text = repeat("the cat is on one mat with the big dog ", 5);
    require_failure(gopher_quality(text, GopherQualityConfig{}), "gopher_min_mean_word_length", 2.9,
                    3);
    // 50 words: "the" and "with" (3, 4) + 48 x 11-letter words: (7 + 528) / 50 = 10.7.
    const std::string long_words = "the with " + repeat("abcdefghijk ", 48);
    require_failure(gopher_quality(long_words, GopherQualityConfig{}),
                    "gopher_max_mean_word_length", 10.7, 10);
}

TEST_CASE("quality: '#' ratio 0.11 over all tokens fails", "[curate]") {
    // 14 x 6 + 5 = 89 words (mean (266 + 16) / 89 = 3.17) + 11 "#" tokens = 100 tokens.
    const std::string words = repeat("the cat sat with the dog ", 14) + "the cat sat with the ";
    require_failure(gopher_quality(words + repeat("# ", 11), GopherQualityConfig{}),
                    "gopher_hash_ratio", 0.11, 0.1);
    // 10 of 99 tokens: 0.101 > 0.1 still fails; 9 of 98 passes.
    CHECK(gopher_quality(words + repeat("# ", 10), GopherQualityConfig{})->rule ==
          "gopher_hash_ratio");
    CHECK_FALSE(gopher_quality(words + repeat("# ", 9), GopherQualityConfig{}));
}

TEST_CASE("quality: ellipsis ratio counts '...' and '…' occurrences", "[curate]") {
    const std::string words = repeat("the cat sat with the dog ", 14) + "the cat sat with the ";
    // 6 "..." + 5 "…" = 11 occurrences over 89 + 11 = 100 tokens; ellipses first so that no line
    // ends with one.
    const std::string text = repeat("... ", 6) + repeat("… ", 5) + words;
    const GopherQualityStats st = gopher_quality_stats(text, GopherQualityConfig{});
    CHECK(st.tokens == 100);
    CHECK(st.ellipsis_ratio == 0.11);
    CHECK(st.ellipsis_lines_ratio == 0);
    require_failure(gopher_quality(text, GopherQualityConfig{}), "gopher_ellipsis_ratio", 0.11,
                    0.1);
    // "....." is one token but str.count("...") finds one occurrence, "......" two.
    CHECK(gopher_quality_stats("a ..... b", GopherQualityConfig{}).ellipsis_ratio == 1.0 / 3);
    CHECK(gopher_quality_stats("a ...... b", GopherQualityConfig{}).ellipsis_ratio == 2.0 / 3);
}

TEST_CASE("quality: 91 % bullet lines fail, 90 % pass", "[curate]") {
    // Each line: 6 words; bullets add a "-" or "•" token. Left whitespace is stripped first.
    auto doc = [](int bullets) {
        std::string text;
        for (int k = 0; k < 100; ++k) {
            const char* prefix = k >= bullets ? ""
                                 : k % 3 == 0 ? "- "
                                 : k % 3 == 1 ? "  • "
                                              : "\t-";
            text += std::string(prefix) + "the cat sat with the dog\n";
        }
        return text;
    };
    require_failure(gopher_quality(doc(91), GopherQualityConfig{}), "gopher_bullet_lines", 0.91,
                    0.9);
    CHECK(gopher_quality_stats(doc(91), GopherQualityConfig{}).lines == 100);
    CHECK_FALSE(gopher_quality(doc(90), GopherQualityConfig{})); // 0.9 is not > 0.9
}

TEST_CASE("quality: 31 % ellipsis lines fail", "[curate]") {
    // 31 of 100 lines end (after right-strip) in "..." or "…": 31 ellipses over
    // 31 * 7 + 69 * 6 = 631 tokens = 0.049, so the token ratio passes.
    std::string text;
    for (int k = 0; k < 100; ++k)
        text += std::string("the cat sat with the dog") +
                (k < 16   ? "...  "
                 : k < 31 ? " …"
                          : "") +
                "\n";
    require_failure(gopher_quality(text, GopherQualityConfig{}), "gopher_ellipsis_lines", 0.31,
                    0.3);
    // splitlines(): "\r\n" is one break and there is no empty line after the last break.
    const GopherQualityStats st =
        gopher_quality_stats("a...\r\nb\rc\u2028d...\n", GopherQualityConfig{});
    CHECK(st.lines == 4);
    CHECK(st.ellipsis_lines_ratio == 0.5);
}

TEST_CASE("quality: alphabetic token ratio 0.79 fails", "[curate]") {
    // 13 x 6 + 1 = 79 alphabetic words + 21 numbers = 100 tokens, all non-symbol words;
    // mean (13 * 19 + 3 + 21 * 3) / 100 = 3.13.
    const std::string text = repeat("the cat sat with the dog ", 13) + "cat " + repeat("123 ", 21);
    require_failure(gopher_quality(text, GopherQualityConfig{}), "gopher_alpha_words", 0.79, 0.8);
    // Punctuation tokens count in the denominator too: 6 alphabetic of 7 tokens per sentence.
    CHECK(gopher_quality_stats(kSentence, GopherQualityConfig{}).alpha_words_ratio == 6.0 / 7);
}

TEST_CASE("quality: one distinct stop word fails", "[curate]") {
    // "The" (capitalised) is not "the": only "the" is present, however often.
    const std::string text = repeat("The cat sat near the big dog. ", 8); // 56 words
    require_failure(gopher_quality(text, GopherQualityConfig{}), "gopher_stop_words", 1, 2);
    GopherQualityConfig cfg;
    cfg.stop_words = {"cat", "cat", "dog"}; // a repeated entry counts once: 2 distinct
    CHECK(gopher_quality_stats(text, cfg).stop_words == 2);
    CHECK_FALSE(gopher_quality(text, cfg));
    cfg.enabled = false;
    CHECK_FALSE(gopher_quality("", cfg));
}

TEST_CASE("quality: duplicate lines, fractions by count and by code points", "[curate]") {
    // Lines: "alpha beta", "gamma", "alpha beta", "delta", "alpha beta": 2 duplicates of 5,
    // 20 duplicate chars of 10+1+5+1+10+1+5+1+10 = 44.
    const std::string text = "alpha beta\ngamma\nalpha beta\ndelta\nalpha beta";
    const RepetitionStats st = repetition_stats(text, GopherRepetitionConfig{});
    CHECK(st.dup_para_frac == 0);
    CHECK(st.dup_line_frac == 0.4);
    CHECK(st.dup_line_char_frac == 20.0 / 44);
    require_failure(gopher_repetition(text, datatrove_repetition()), "gopher_dup_line_frac", 0.4,
                    0.3);
    // A trailing "\n" yields an empty last line: "x", "y", "x", "" -> 1 of 4, 1 char of 6.
    const RepetitionStats trailing = repetition_stats("x\ny\nx\n", GopherRepetitionConfig{});
    CHECK(trailing.dup_line_frac == 0.25);
    CHECK(trailing.dup_line_char_frac == 1.0 / 6);
}

TEST_CASE("quality: duplicate paragraphs split on 2+ newlines of the stripped text", "[curate]") {
    // Stripped: "one two\n\nthree four\n\n\none two\n\nfive" -> 4 paragraphs, 1 duplicate of 7
    // chars; text length 7+2+10+3+7+2+4+1 = 36. Lines (runs of "\n", unstripped): "one two",
    // "three four", "one two", "five", "" -> 1 of 5.
    const std::string text = "one two\n\nthree four\n\n\none two\n\nfive\n";
    const RepetitionStats st = repetition_stats(text, GopherRepetitionConfig{});
    CHECK(st.dup_para_frac == 0.25);
    CHECK(st.dup_para_char_frac == 7.0 / 36);
    CHECK(st.dup_line_frac == 0.2);
    CHECK(st.dup_line_char_frac == 7.0 / 36);
    // "one two", "one two", "three": 1 of 3 > 0.3.
    require_failure(gopher_repetition("one two\n\none two\n\nthree", datatrove_repetition()),
                    "gopher_dup_para_frac", 1.0 / 3, 0.3);
    // Leading newlines are stripped first: "a", "a", "b" (1 of 3), not "", "a", "a", "b"; the
    // char fraction still divides by the unstripped length 2+1+2+1+2+1 = 9.
    const RepetitionStats lead = repetition_stats("\n\na\n\na\n\nb", GopherRepetitionConfig{});
    CHECK(lead.dup_para_frac == 1.0 / 3);
    CHECK(lead.dup_para_char_frac == 1.0 / 9);
    // A single "\n" does not split paragraphs, and " \n" breaks a run of newlines.
    CHECK(repetition_stats("a\nb\n \na\nb", GopherRepetitionConfig{}).dup_para_frac == 0);
}

TEST_CASE("quality: top n-gram fractions, ties to the first n-gram seen", "[curate]") {
    // "a b a b c": bigram "a b" twice, 3 chars x 2 = 6 of 9.
    require_failure(gopher_repetition("a b a b c", datatrove_repetition()), "gopher_top_2gram",
                    6.0 / 9, 0.2);
    // "x yy x yy zzz w zzz w" (21 chars): "x yy" and "zzz w" both occur twice; the first seen
    // wins: 4 x 2 = 8 (not 5 x 2 = 10). Trigrams and 4-grams occur once: the first, "x yy x"
    // (6) and "x yy x yy" (9).
    const RepetitionStats st = repetition_stats("x yy x yy zzz w zzz w", GopherRepetitionConfig{});
    REQUIRE(st.top_ngram_frac.size() == 3);
    CHECK(st.top_ngram_frac[0] == 8.0 / 21);
    CHECK(st.top_ngram_frac[1] == 6.0 / 21);
    CHECK(st.top_ngram_frac[2] == 9.0 / 21);
    // Fewer tokens than n: the measure is skipped (reported as 0).
    CHECK(repetition_stats("solo", GopherRepetitionConfig{}).top_ngram_frac[0] == 0);
}

TEST_CASE("quality: duplicated n-grams with the jump-n rule", "[curate]") {
    // 15 tokens "p q r s t" x 3, text length 29. n = 5: positions 0-4 new; 5 repeats "pqrst"
    // (+5, jump to 10); 10 repeats (+5, jump to 15): 10. Stepping by one would count 6 x 5.
    // n = 6..9: positions 0-4 new, 5 repeats (+n), the jump passes the last start: n.
    // n = 10: position 5 repeats position 0 (+10): 10.
    const RepetitionStats st =
        repetition_stats("p q r s t p q r s t p q r s t", GopherRepetitionConfig{});
    REQUIRE(st.dup_ngram_frac.size() == 6);
    CHECK(st.dup_ngram_frac[0] == 10.0 / 29);
    CHECK(st.dup_ngram_frac[1] == 6.0 / 29);
    CHECK(st.dup_ngram_frac[2] == 7.0 / 29);
    CHECK(st.dup_ngram_frac[3] == 8.0 / 29);
    CHECK(st.dup_ngram_frac[4] == 9.0 / 29);
    CHECK(st.dup_ngram_frac[5] == 10.0 / 29);
    // Seven "a": position 1 repeats "aaaaa" (+5), jumps to 6 > last start 2: 5 of 13.
    CHECK(repetition_stats("a a a a a a a", GopherRepetitionConfig{}).dup_ngram_frac[0] ==
          5.0 / 13);
    // Words are concatenated without a separator: "ab c d e f" and "a bc d e f" are the same
    // 5-gram "abcdef": 6 chars of 21. Only the 5-gram is checked, so it is the rule that fails.
    GopherRepetitionConfig only5 = datatrove_repetition();
    only5.top_ngram_max.clear();
    only5.dup_ngram_max = {{5, 0.15}};
    require_failure(gopher_repetition("ab c d e f a bc d e f", only5), "gopher_dup_5gram", 6.0 / 21,
                    0.15);
}

TEST_CASE("quality: repetition rules pass documents under min_words unchecked", "[curate]") {
    // The issue's sentence: "The patient was discharged home." (32 chars); every bigram occurs
    // once and the first, "The patient" (11 chars), is 34 % of the text: datatrove drops it.
    const std::string sentence = "The patient was discharged home.";
    require_failure(gopher_repetition(sentence, datatrove_repetition()), "gopher_top_2gram",
                    11.0 / 32, 0.2);
    // With the default minimum (50 words) it passes, as does a one-sentence clinical answer
    // that datatrove drops by its top 4-gram ("the patient should" ... ), and a short chat
    // with a repeated line.
    const GopherRepetitionConfig defaults;
    CHECK(defaults.min_words == 50);
    CHECK_FALSE(gopher_repetition(sentence, defaults));
    const std::string answer = "Give the first dose of amoxicillin with food and the second dose "
                               "eight hours later with food.";
    const auto four = gopher_repetition(answer, datatrove_repetition());
    REQUIRE(four);
    CHECK(four->rule == "gopher_top_4gram");
    CHECK_FALSE(gopher_repetition(answer, defaults));
    CHECK_FALSE(gopher_repetition("Hi\nHello, how can I help?\nHi", defaults));
    // The bound counts non-symbol words: 49 repetitive words pass, 50 are checked.
    std::string words49 = "spam";
    for (int k = 1; k < 49; ++k)
        words49 += " spam";
    CHECK_FALSE(gopher_repetition(words49 + " !!", defaults));
    require_failure(gopher_repetition(words49 + " spam", defaults), "gopher_top_2gram",
                    9.0 * 49 / 249, 0.2);
}

TEST_CASE("quality: repetition counts code points, not bytes", "[curate]") {
    // Lines "café au lait", "thé", "café au lait": 12 duplicate chars (13 bytes) of
    // 12+1+3+1+12 = 29 code points (32 bytes). Bigrams "café au" and "au lait" both occur
    // twice; the first, "café au" (7 chars), wins: 14 / 29.
    const RepetitionStats st =
        repetition_stats("café au lait\nthé\ncafé au lait", GopherRepetitionConfig{});
    CHECK(st.dup_line_frac == 1.0 / 3);
    CHECK(st.dup_line_char_frac == 12.0 / 29);
    CHECK(st.top_ngram_frac[0] == 14.0 / 29);
}

TEST_CASE("quality: repetition config handling", "[curate]") {
    GopherRepetitionConfig cfg = datatrove_repetition();
    // Empty text: one empty paragraph and line, no duplicates, nothing divides by zero.
    CHECK_FALSE(gopher_repetition("", cfg));
    const RepetitionStats empty = repetition_stats("", cfg);
    CHECK(empty.dup_line_frac == 0);
    CHECK(empty.dup_ngram_frac == std::vector<double>(6, 0.0));
    // Thresholds are plain values: -1 fails on a fraction of 0.
    cfg.max_dup_line_frac = -1;
    require_failure(gopher_repetition("no repeats here", cfg), "gopher_dup_line_frac", 0, -1);
    cfg.enabled = false;
    CHECK_FALSE(gopher_repetition("a a a a a a a a a a", cfg));

    GopherRepetitionConfig bad;
    bad.top_ngram_max = {{0, 0.2}};
    CHECK_THROWS_AS(gopher_repetition("a b", bad), slimtune::ConfigError);
    CHECK_THROWS_WITH(repetition_stats("a b", bad),
                      Catch::Contains("gopher_repetition.top_ngram_max") &&
                          Catch::Contains("got 0"));
    bad.top_ngram_max.clear();
    bad.dup_ngram_max = {{-3, 0.1}};
    CHECK_THROWS_WITH(gopher_repetition("a b", bad), Catch::Contains("dup_ngram_max"));
}

TEST_CASE("quality: fineweb empty and terminal punctuation", "[curate]") {
    require_failure(fineweb_quality("\n  \n\t\n", fineweb_on()), "fineweb_empty", 0, 0);
    CHECK_FALSE(fineweb_quality("", FineWebQualityConfig{})); // disabled by default
    // 9 non-blank lines (blank ones dropped), only the first ends in a sentence terminal:
    // " " after ".", '"', "…" and "," do not count. 1/9 < 0.12.
    const std::string text = "This first line ends with a proper full stop.\n\n"
                             "This line ends with a space after the stop. \n"
                             "This line has no punctuation at the end at all\n"
                             "This line ends with an ellipsis character here…\n"
                             "A quoted line ends with a quote mark \"done.\"\n"
                             "This line ends with a comma and keeps going on,\n"
                             "Another line without any final mark whatsoever\n"
                             "Yet another line with nothing at its very end\n"
                             "The last line is also missing its final mark\n";
    require_failure(fineweb_quality(text, fineweb_on()), "fineweb_terminal_punct_lines", 1.0 / 9,
                    0.12);
    // "。" and "！" are sentence terminals: 3 of 11.
    const std::string more = text + "Ending with an ideographic full stop here。\n"
                                    "Ending with a fullwidth exclamation mark here！";
    CHECK(fineweb_stats(more, fineweb_on()).terminal_punct_lines == 3.0 / 11);
}

TEST_CASE("quality: fineweb short lines, counted in code points", "[curate]") {
    std::string line30, line31;
    for (int k = 0; k < 29; ++k)
        line30 += "é"; // 2 bytes each: 58 bytes + "." but 30 code points
    line30 += ".";
    line31 = "é" + line30;
    const std::string long_line = "A reasonably long sentence that is not short at all.";
    // line30 is short (<= 30), line31 is not: 1 of 3.
    CHECK(fineweb_stats(line30 + "\n" + line31 + "\n" + long_line, fineweb_on()).short_lines ==
          1.0 / 3);
    // 3 of 4 short: 0.75 > 0.67.
    require_failure(fineweb_quality(line30 + "\nTiny.\nSmall.\n" + long_line, fineweb_on()),
                    "fineweb_short_lines", 0.75, 0.67);
    // 2 of 3 = 0.667 is not > 0.67: the next rules run and pass.
    CHECK_FALSE(fineweb_quality("Tiny line here.\nSmall line here.\n" + long_line, fineweb_on()));
}

TEST_CASE("quality: fineweb duplicate-line chars and newline ratio", "[curate]") {
    // P = 33 chars, Q = 36 chars; P Q P: 33 duplicate chars of 102 (newlines excluded).
    const std::string p = "The river runs past the old mill.";
    const std::string q = "Children play in the meadow all day.";
    require_failure(fineweb_quality(p + "\n" + q + "\n" + p, fineweb_on()),
                    "fineweb_dup_line_chars", 33.0 / 102, 0.01);
    // Two 10-token lines (9 words + "."): 4 newlines / 20 tokens = 0.2 passes, 7 = 0.35 fails.
    const std::string a = "Line one is long enough to pass the check.";
    const std::string b = "Line two is also long enough to pass it.";
    CHECK_FALSE(fineweb_quality(a + "\n\n\n\n" + b, fineweb_on()));
    CHECK(fineweb_stats(a + "\n\n\n\n" + b, fineweb_on()).newline_word_ratio == 0.2);
    require_failure(fineweb_quality(a + repeat("\n", 7) + b, fineweb_on()),
                    "fineweb_newline_word_ratio", 0.35, 0.3);
}
