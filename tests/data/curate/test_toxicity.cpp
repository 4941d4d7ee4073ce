// Word matching (words.h), word lists (lexicon.h) and the toxicity screen on hand-counted
// documents: whole-word and case-folded matching, phrases, identity terms that never drop,
// the density threshold at its edges, user lists and malformed lists.
#include "common/error.h"
#include "data/curate/lexicon.h"
#include "data/curate/toxicity.h"
#include "data/curate/words.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>

using namespace slimtune;
using namespace slimtune::data::curate;
using slimtune::test::TempDir;

namespace {

std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> out;
    for (const WordSpan& s : word_spans(text))
        out.emplace_back(text.substr(s.begin, s.end - s.begin));
    return out;
}

void write_file(const std::string& path, const std::string& contents) {
    std::ofstream(path, std::ios::binary) << contents;
}

std::string repeat_word(const std::string& word, int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += word + " ";
    return s;
}

// The message of the exception `f` throws, or "" when it throws none of type E.
template <class E, class F> std::string message_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("toxicity: word spans keep inner apostrophes and hyphens", "[curate]") {
    CHECK(words_of("Don't stop: self-esteem -- rock'n'roll 'quoted' end- -start") ==
          std::vector<std::string>{"Don't", "stop", "self-esteem", "rock'n'roll", "quoted", "end",
                                   "start"});
    // ’ (U+2019) joins like ', a combining acute stays in its word, punctuation splits.
    CHECK(words_of("don\xE2\x80\x99t cafe\xCC\x81, na\xC3\xAFve;x_y 3.5") ==
          std::vector<std::string>{"don\xE2\x80\x99t", "cafe\xCC\x81", "na\xC3\xAFve", "x", "y",
                                   "3", "5"});
    CHECK(word_spans("").empty());
    CHECK(word_spans(" -' ").empty());
    const auto spans = word_spans("ab  c");
    REQUIRE(spans.size() == 2);
    CHECK(spans[0].begin == 0);
    CHECK(spans[0].end == 2);
    CHECK(spans[1].begin == 4);
    CHECK(spans[1].end == 5);
}

TEST_CASE("toxicity: case folding is Unicode casefold + NFC", "[curate]") {
    CHECK(fold_case("Stra\xC3\x9F"
                    "e \xC3\x89"
                    "COLE") == "strasse \xC3\xA9"
                               "cole");
    CHECK(fold_case("cafe\xCC\x81") == "caf\xC3\xA9"); // composed by NFC
    CHECK(fold_word("Don\xE2\x80\x99T") == "don't");
    CHECK(is_plain_phrase("son of a  bitch"));
    CHECK_FALSE(is_plain_phrase("f*ck"));
    CHECK_FALSE(is_plain_phrase("   "));
}

TEST_CASE("toxicity: phrase matcher is whole-word, longest first, non-overlapping", "[curate]") {
    PhraseMatcher m;
    m.add("son of a bitch", "insult");
    m.add("bitch", "profanity");
    m.add("ass", "profanity");
    m.add("Bitch", "insult"); // the same phrase again: a second label
    // words: 0 You 1 son 2 of 3 a 4 bitch 5 class 6 bitch's 7 ASS
    const auto hits = m.matches("You son of a BITCH, class bitch's ASS.");
    REQUIRE(hits.size() == 4);
    CHECK(hits[0].word_begin == 1);
    CHECK(hits[0].word_count == 4);
    CHECK(m.labels()[hits[0].label] == "insult");
    CHECK(m.phrase_text(hits[0].phrase) == "son of a bitch");
    CHECK(hits[1].word_begin == 6); // "bitch's" by its stem; "class" is no hit for "ass"
    CHECK(m.labels()[hits[1].label] == "profanity");
    CHECK(hits[2].word_begin == 6);
    CHECK(m.labels()[hits[2].label] == "insult");
    CHECK(hits[3].word_begin == 7);
    CHECK(hits[3].word_count == 1);
    CHECK(m.contains("SON of a bitch"));
    CHECK_FALSE(m.contains("son of a"));
    CHECK(m.matches("son of a").empty()); // a prefix of a phrase is no match
    CHECK_THROWS_AS(m.add("f*ck", "x"), ConfigError);
}

TEST_CASE("toxicity: shipped lists: class and Scunthorpe are clean, case folds", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    const ToxicityScreen screen(ToxicityConfig{}, lexicon);
    // 4 words, none a list word ("ass" is inside "class", "passes"; "cunt" inside Scunthorpe).
    auto r = screen.screen("Class assessment passes Scunthorpe");
    CHECK(r.words == 4);
    CHECK(r.hits == 0);
    CHECK(r.score == 0);
    CHECK_FALSE(r.drop);
    // "SHIT", "Shit", "shit": 3 hits in 3 words.
    r = screen.screen("SHIT Shit shit");
    CHECK(r.hits == 3);
    CHECK(r.score == 1.0);
    CHECK(r.per_category.at("profanity") == 3);
    CHECK(r.terms_hit == std::vector<std::string>{"shit"});
}

TEST_CASE("toxicity: identity terms alone never drop", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    const ToxicityScreen screen(ToxicityConfig{}, lexicon);
    // 7 words; identity terms: gay, women, lesbian, women's (stem "women") = 4; toxic hits 0.
    const auto r = screen.screen("Gay women and lesbian women's rights groups");
    CHECK(r.words == 7);
    CHECK(r.hits == 0);
    CHECK(r.identity_hits == 4);
    CHECK(r.score == 0);
    CHECK_FALSE(r.drop);
}

TEST_CASE("toxicity: a dense toxic document is dropped with the expected score", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    const ToxicityScreen screen(ToxicityConfig{}, lexicon);
    // 10 words; hits: fucking (profanity), idiot (insult), bullshit (profanity) -> 3 / 10.
    const auto r =
        screen.screen("This fucking idiot wrote utter bullshit about the project again.");
    CHECK(r.words == 10);
    CHECK(r.hits == 3);
    CHECK(r.score == Approx(0.3));
    CHECK(r.drop);
    CHECK(r.per_category.at("profanity") == 2);
    CHECK(r.per_category.at("insult") == 1);
    CHECK(r.per_category.at("sexual") == 0);
    CHECK(r.per_category.size() == 5);
    CHECK(r.terms_hit == std::vector<std::string>{"fucking", "idiot", "bullshit"});
}

TEST_CASE("toxicity: threshold edges (score > max_score and hits >= min_hits)", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    const ToxicityScreen screen(ToxicityConfig{}, lexicon);
    // 98 filler + 2 hits = 100 words: score 0.02, not > 0.02 -> kept.
    auto r = screen.screen(repeat_word("word", 98) + "shit shit");
    CHECK(r.words == 100);
    CHECK(r.hits == 2);
    CHECK(r.score == Approx(0.02));
    CHECK_FALSE(r.drop);
    // 97 + 2 = 99 words: 2 / 99 = 0.0202 > 0.02 -> dropped.
    r = screen.screen(repeat_word("word", 97) + "shit shit");
    CHECK(r.words == 99);
    CHECK(r.score == Approx(2.0 / 99));
    CHECK(r.drop);
    // One hit in one word: score 1 but hits 1 < min_hits 2 -> kept (flagged by its score only).
    r = screen.screen("Shit.");
    CHECK(r.hits == 1);
    CHECK(r.score == 1.0);
    CHECK_FALSE(r.drop);
    // Empty text: no words, score 0.
    r = screen.screen("");
    CHECK(r.words == 0);
    CHECK(r.score == 0);
    // Disabled: scored but never dropped.
    ToxicityConfig off;
    off.enabled = false;
    CHECK_FALSE(ToxicityScreen(off, lexicon).screen("shit shit").drop);
}

TEST_CASE("toxicity: a phrase counts once; a term in two categories counts in both", "[curate]") {
    Lexicon lexicon;
    lexicon.add_file("toxicity_a.txt", "son of a bitch\nbitch\n", "a", true);
    lexicon.add_file("toxicity_b.txt", "bitch\n", "b", true);
    ToxicityConfig config;
    config.categories = {"a", "b"};
    const ToxicityScreen screen(config, lexicon);
    // 6 words: "son of a bitch" (a) and "bitch" (a and b) -> 2 hits.
    const auto r = screen.screen("son of a bitch, bitch!! ok");
    CHECK(r.words == 6);
    CHECK(r.hits == 2);
    CHECK(r.per_category.at("a") == 2);
    CHECK(r.per_category.at("b") == 1);
    CHECK(r.score == Approx(2.0 / 6));
}

TEST_CASE("toxicity: a user list extends or replaces a category; identity list wins", "[curate]") {
    TempDir dir("toxicity_user");
    write_file(dir.file("toxicity_insult.txt"), "# ours\nnincompoop\nGay\n\n");
    write_file(dir.file("README.md"), "not a list: ignored\n");
    {
        const Lexicon lexicon = load_lexicons(dir.str(), false);
        const ToxicityScreen screen(ToxicityConfig{}, lexicon);
        CHECK(screen.ignored_identity_entries() == std::vector<std::string>{"Gay"});
        // 4 words: nincompoop (user insult), idiot (shipped insult); gay is identity only.
        const auto r = screen.screen("gay nincompoop, idiot here");
        CHECK(r.hits == 2);
        CHECK(r.identity_hits == 1);
        CHECK(r.per_category.at("insult") == 2);
    }
    {
        const Lexicon lexicon = load_lexicons(dir.str(), true);
        const ToxicityScreen screen(ToxicityConfig{}, lexicon);
        const auto r = screen.screen("gay nincompoop, idiot here");
        CHECK(r.hits == 1); // the shipped insult list (idiot) is replaced
        CHECK(r.terms_hit == std::vector<std::string>{"nincompoop"});
    }
}

TEST_CASE("toxicity: malformed lists fail with file:line", "[curate]") {
    TempDir dir("toxicity_bad");
    write_file(dir.file("groups_gender.txt"), "# header\nfemale\twoman\nfemale woman\n");
    std::string msg = message_of<FormatError>([&] { load_lexicons(dir.str(), false); });
    CHECK_THAT(msg, Catch::Contains("groups_gender.txt:3: missing TAB"));
    CHECK_THAT(msg, Catch::Contains("'female woman'"));

    Lexicon lexicon;
    msg = message_of<FormatError>(
        [&] { lexicon.add_file("toxicity_x.txt", "ok\na\tb\n", "x", true); });
    CHECK_THAT(msg, Catch::Contains("x:2: unexpected TAB"));
    msg = message_of<FormatError>([&] { lexicon.add_file("toxicity_x.txt", "f*ck\n", "x", true); });
    CHECK_THAT(msg, Catch::Contains("x:1: term 'f*ck' has characters outside words"));
    msg =
        message_of<FormatError>([&] { lexicon.add_file("groups_x.txt", "a\tb\tc\n", "g", true); });
    CHECK_THAT(msg, Catch::Contains("g:1: more than one TAB"));
    msg = message_of<FormatError>([&] { lexicon.add_file("pairs_x.txt", "\tshe\n", "p", true); });
    CHECK_THAT(msg, Catch::Contains("p:1: empty field before the TAB"));
    msg = message_of<FormatError>(
        [&] { lexicon.add_file("identity_terms.txt", "ok\n\xFF\n", "i", true); });
    CHECK_THAT(msg, Catch::Contains("i: word list is not valid UTF-8"));
    lexicon.add_file("toxicity_bom.txt", "\xEF\xBB\xBF# comment\nword\n", "b", true);
    CHECK(lexicon.find("toxicity_bom.txt")->entries.size() == 1); // the BOM is skipped
    CHECK(lexicon.find("toxicity_bom.txt")->entries[0].where == "b:2");
    lexicon.files.clear();
    msg = message_of<ConfigError>([&] { lexicon.add_file("swearing.txt", "x\n", "s", true); });
    CHECK_THAT(msg, Catch::Contains("unknown word list name 'swearing.txt'"));
    CHECK(lexicon.files.empty()); // nothing half-added

    msg = message_of<Error>([&] { load_lexicons(dir.file("missing"), false); });
    CHECK_THAT(msg, Catch::Contains("not found or not a directory"));
}

TEST_CASE("toxicity: configuration errors", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    ToxicityConfig config;
    config.categories = {"profanity", "spam"};
    const std::string msg =
        message_of<ConfigError>([&] { ToxicityScreen screen(config, lexicon); });
    CHECK_THAT(msg, Catch::Contains("curate.toxicity.categories: unknown category 'spam'"));
    CHECK_THAT(msg, Catch::Contains("identity_attack, insult, profanity, sexual, violence_threat"));
    config = {};
    config.max_score = -0.1;
    CHECK_THROWS_AS(ToxicityScreen(config, lexicon), ConfigError);
    config = {};
    config.min_hits = -1;
    CHECK_THROWS_AS(ToxicityScreen(config, lexicon), ConfigError);
}

TEST_CASE("toxicity: every shipped list parses and is filled", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    for (const char* name :
         {"identity_terms.txt", "toxicity_profanity.txt", "toxicity_sexual.txt",
          "toxicity_violence_threat.txt", "toxicity_insult.txt", "toxicity_identity_attack.txt",
          "groups_gender.txt", "groups_ethnicity.txt", "groups_religion.txt", "groups_age.txt",
          "groups_disability.txt", "groups_nationality.txt", "pairs_gender.txt",
          "attributes_occupations.txt", "attributes_sentiment_positive.txt",
          "attributes_sentiment_negative.txt", "attributes_competence.txt"}) {
        INFO(name);
        const LexiconFile* file = lexicon.find(name);
        REQUIRE(file != nullptr);
        CHECK(file->entries.size() >= 10);
    }
    CHECK(lexicon.find("pairs_gender.txt")->entries.size() >= 60);
    CHECK(lexicon.files.size() == embedded_lexicons().size());
    // Shipped toxic lists never contain an identity term (it would be ignored silently).
    CHECK(ToxicityScreen(ToxicityConfig{}, lexicon).ignored_identity_entries().empty());
}
