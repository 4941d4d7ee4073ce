// Bias measures on hand-counted corpora: group counts, coverage, paired skew, co-occurrence
// window edges, the log odds ratio with its CI, counterfactual swaps with case and the her/his
// heuristic, and the deterministic capped downsampling.
#include "common/error.h"
#include "data/curate/bias.h"
#include "data/curate/lexicon.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <nlohmann/json.hpp>

using namespace slimtune;
using namespace slimtune::data::curate;

namespace {

// A small hand-made lexicon so every count below can be checked by eye.
// Group ids: male 0, female 1 (gender), black 2 (ethnicity). Categories (files in name order):
// competence 0, occupations 1. Attribute ids: smart 0, doctor 1, police 2, nurse 3.
Lexicon test_lexicon() {
    Lexicon lexicon;
    lexicon.add_file("groups_gender.txt",
                     "# test\nmale\the\nmale\thim\nmale\this\nmale\tman\nmale\tmen\n"
                     "male\tpoliceman\nfemale\tshe\nfemale\ther\nfemale\twoman\nfemale\twomen\n",
                     "groups_gender.txt", true);
    lexicon.add_file("groups_ethnicity.txt", "black\tblack women\nblack\tblack people\n",
                     "groups_ethnicity.txt", true);
    lexicon.add_file("attributes_occupations.txt",
                     "doctor\tdoctor\ndoctor\tdoctors\npolice\tpoliceman\nnurse\n",
                     "attributes_occupations.txt", true);
    lexicon.add_file("attributes_competence.txt", "smart\n", "attributes_competence.txt", true);
    return lexicon;
}

BiasConfig test_config() {
    BiasConfig config;
    config.axes = {"gender", "ethnicity"};
    return config;
}

std::string xs(int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += " x";
    return s + " ";
}

template <class E, class F> std::string message_of(F f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("bias: group counts, coverage, skew ratio, log2 skew and % male", "[curate]") {
    const Lexicon lexicon = test_lexicon();
    const BiasCounter counter(test_config(), lexicon);
    REQUIRE(counter.groups().size() == 3);
    CHECK(counter.groups()[0].name == "male");
    CHECK(counter.groups()[2].axis == "ethnicity");
    BiasAccumulator acc(counter);
    // words / male / female:  6 / 2 (He, man) / 0;  5 / 2 (He, his) / 0;  2 / 0 / 1 (She);
    // 4 / 0 / 0.  Totals: 17 words, N = 4, c_male = 4 in 2 docs, c_female = 1 in 1 doc.
    for (const char* text : {"He said the man was tired.", "He and his brother left.",
                             "She smiled.", "The weather was cold."})
        acc.add(counter.count(text));
    const BiasReport r = acc.report();
    CHECK(r.documents == 4);
    CHECK(r.words == 17);
    CHECK(r.groups[0].count == 4);
    CHECK(r.groups[0].documents == 2);
    CHECK(r.groups[0].coverage == 0.5);                // 2 / 4
    CHECK(r.groups[0].word_share == Approx(4.0 / 17)); // 0.2353
    CHECK(r.groups[1].count == 1);
    CHECK(r.groups[1].coverage == 0.25); // 1 / 4
    CHECK(r.groups[2].count == 0);
    REQUIRE(r.skews.size() == 1);
    const SkewStats& s = r.skews[0];
    CHECK(s.group_a == "gender/male");
    CHECK(s.count_a == 4);
    CHECK(s.count_b == 1);
    CHECK(s.ratio == 4.0);                      // r = 4 / 1
    CHECK(s.log2_skew == Approx(1.3219280949)); // log2((4 + 1) / (1 + 1)) = log2 2.5
    CHECK(s.percent_a == Approx(80.0));         // 100 * 4 / 5
    CHECK(s.keep_rate_a == Approx(0.375));      // min(1, 1.5 * 1 / 4)
}

TEST_CASE("bias: axes are matched independently; possessives count", "[curate]") {
    const Lexicon lexicon = test_lexicon();
    const BiasCounter counter(test_config(), lexicon);
    // "black women" is one ethnicity term and "women" a gender term; "woman's" counts as woman.
    const DocBias d = counter.count("Black women and a woman's view");
    CHECK(d.words == 6);
    CHECK(d.group_counts == std::vector<int64_t>{0, 2, 1});
    CHECK(d.present(1));
    CHECK_FALSE(d.present(0));
}

TEST_CASE("bias: co-occurrence window edges (distance 10 counted, 11 not)", "[curate]") {
    const Lexicon lexicon = test_lexicon();
    const BiasCounter counter(test_config(), lexicon); // window 10
    // he at word 0, doctor at word 10: distance 10. Context of he: 0 left + min(10, 10) right.
    DocBias d = counter.count("he" + xs(9) + "doctor");
    CHECK(d.words == 11);
    CHECK(d.group_context[0] == 10);
    CHECK(d.category_cooccurrences[0 * 2 + 1] == 1); // male x occupations
    CHECK(d.category_cooccurrences[0 * 2 + 0] == 0); // male x competence
    REQUIRE(d.attribute_cooccurrences.size() == 1);
    CHECK(d.attribute_cooccurrences[0].group == 0);
    CHECK(d.attribute_cooccurrences[0].attribute == 1); // doctor
    CHECK(d.attribute_cooccurrences[0].count == 1);
    // Distance 11: nothing.
    d = counter.count("he" + xs(10) + "doctor");
    CHECK(d.category_cooccurrences[1] == 0);
    CHECK(d.attribute_cooccurrences.empty());
    // The attribute before the group term: the same edges.
    d = counter.count("doctors" + xs(9) + "she");
    CHECK(d.category_cooccurrences[1 * 2 + 1] == 1);
    CHECK(d.group_context[1] == 10); // 10 words to the left, none to the right
    d = counter.count("doctor" + xs(10) + "she");
    CHECK(d.category_cooccurrences[1 * 2 + 1] == 0);
    // Two group occurrences and two attribute occurrences: every pair within the window.
    // he(0) smart(1) doctor(2) she(3) he(4): male pairs 2 x 2 = 4, female 2.
    d = counter.count("he smart doctor she he");
    CHECK(d.category_cooccurrences[0 * 2 + 0] == 2);
    CHECK(d.category_cooccurrences[0 * 2 + 1] == 2);
    CHECK(d.category_cooccurrences[1 * 2 + 0] == 1);
    CHECK(d.category_cooccurrences[1 * 2 + 1] == 1);
    CHECK(d.group_context[0] == 4 + 4); // he(0): 4 right; he(4): 4 left
    // "policeman" is a male term and an occupation on the same word: not a co-occurrence.
    d = counter.count("policeman");
    CHECK(d.group_counts[0] == 1);
    CHECK(d.attribute_cooccurrences.empty());
}

TEST_CASE("bias: counting is the same on any number of threads", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    const BiasCounter counter(BiasConfig{}, lexicon);
    std::vector<std::string> docs;
    for (int i = 0; i < 64; ++i)
        docs.push_back("He met " + std::to_string(i) + " women; she was a doctor" + xs(i % 13) +
                       "and his sister a nurse.");
    std::vector<DocBias> parallel(docs.size());
#pragma omp parallel for num_threads(4)
    for (int i = 0; i < static_cast<int>(docs.size()); ++i)
        parallel[static_cast<std::size_t>(i)] = counter.count(docs[static_cast<std::size_t>(i)]);
    BiasAccumulator serial_acc(counter), parallel_acc(counter);
    for (std::size_t i = 0; i < docs.size(); ++i) {
        serial_acc.add(counter.count(docs[i]));
        parallel_acc.add(parallel[i]);
    }
    CHECK(nlohmann::json(serial_acc.report()) == nlohmann::json(parallel_acc.report()));
    // he, his -> 64 x 2 male; women, she, sister -> 64 x 3 female.
    CHECK(serial_acc.count(counter.group_id("male", "test")) == 128);
    CHECK(serial_acc.count(counter.group_id("female", "test")) == 192);
}

TEST_CASE("bias: log odds ratio, Woolf SE and 95 % CI on a 2x2 table", "[curate]") {
    // OR = (10 * 40) / (20 * 5) = 4, ln 4 = 1.386294; SE = sqrt(1/10 + 1/20 + 1/5 + 1/40) =
    // sqrt(0.375) = 0.612372; CI = 1.386294 -/+ 1.959964 * 0.612372 = [0.186067, 2.586521].
    OddsRatio o = log_odds_ratio(10, 20, 5, 40);
    CHECK(o.log_odds_ratio == Approx(1.3862944));
    CHECK(o.standard_error == Approx(0.6123724));
    CHECK(o.ci_low == Approx(0.186067).margin(1e-6));
    CHECK(o.ci_high == Approx(2.586521).margin(1e-6));
    CHECK_FALSE(o.corrected);
    // A zero cell: 0.5 added to all -> ln(0.5 * 5.5 / (10.5 * 5.5)) = ln(1/21) = -3.044522,
    // SE = sqrt(2 + 1/10.5 + 2/5.5) = 1.568081.
    o = log_odds_ratio(0, 10, 5, 5);
    CHECK(o.corrected);
    CHECK(o.log_odds_ratio == Approx(-3.0445224));
    CHECK(o.standard_error == Approx(1.5680802));
}

TEST_CASE("bias: report flags an attribute leaning to one group", "[curate]") {
    const Lexicon lexicon = test_lexicon();
    const BiasCounter counter(test_config(), lexicon);
    BiasAccumulator first(counter), second(counter), all(counter);
    // 10 x "he doctor x x": male n_aw 1, context 3 -> over 10 docs n_aw 10, n_a_other 20.
    // 5 x "she doctor" + 8 x: female n_bw 1, context 9 -> n_bw 5, n_b_other 40.
    for (int i = 0; i < 10; ++i) {
        const DocBias d = counter.count("he doctor x x");
        all.add(d);
        (i < 4 ? first : second).add(d);
    }
    for (int i = 0; i < 5; ++i) {
        const DocBias d = counter.count("she doctor" + xs(8));
        all.add(d);
        second.add(d);
    }
    first.merge(second);
    const BiasReport r = all.report();
    CHECK(nlohmann::json(first.report()) == nlohmann::json(r));
    // Category rows (competence, occupations), then the attributes seen: doctor.
    REQUIRE(r.associations.size() == 3);
    const AssociationStats& competence = r.associations[0];
    CHECK(competence.category == "competence");
    CHECK(competence.n_aw == 0);
    CHECK(competence.n_a_other == 30);
    CHECK(competence.odds.corrected);
    CHECK_FALSE(competence.flagged);
    for (std::size_t i : {1, 2}) {
        const AssociationStats& x = r.associations[i];
        CHECK(x.category == "occupations");
        CHECK(x.attribute == (i == 1 ? "" : "doctor"));
        CHECK(x.n_aw == 10);
        CHECK(x.n_a_other == 20);
        CHECK(x.n_bw == 5);
        CHECK(x.n_b_other == 40);
        CHECK(x.odds.log_odds_ratio == Approx(1.3862944));
        CHECK(x.flagged); // |1.386| > 1, CI [0.186, 2.587] excludes 0, every cell >= 5
    }
    CHECK(r.skews[0].ratio == 2.0); // 10 / 5
}

TEST_CASE("bias: JSON report writes non-finite numbers as null", "[curate]") {
    const Lexicon lexicon = test_lexicon();
    BiasConfig config = test_config();
    config.skew_pairs = {{"male", "female"}, {"gender/male", "black"}};
    const BiasCounter counter(config, lexicon);
    BiasAccumulator acc(counter);
    nlohmann::json j = acc.report(); // no documents: coverage 0/0
    CHECK(j["groups"][0]["coverage"].is_null());
    CHECK(j["skews"][0]["ratio"].is_null());
    CHECK(j["skews"][0]["log2_skew"] == 0.0);
    acc.add(counter.count("he he"));
    j = acc.report();
    CHECK(j["documents"] == 1);
    CHECK(j["groups"][0]["count"] == 2);
    CHECK(j["skews"][1]["group_b"] == "ethnicity/black");
    CHECK(j["skews"][1]["ratio"].is_null()); // 2 / 0
    CHECK(j["skews"][1]["percent_a"] == 100.0);
    CHECK(j["skews"][1]["keep_rate_a"] == 1.0);
    CHECK(j["skews"][1]["log2_skew"].get<double>() == Approx(std::log2(3.0)));
}

TEST_CASE("bias: counterfactual swaps pairs both ways with case and her/his", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    const CounterfactualSwapper cda(lexicon);
    int64_t swaps = -1;
    CHECK(cda.swap("He gave her his book. She thanked him.", &swaps) ==
          "She gave him her book. He thanked her.");
    CHECK(swaps == 5);
    CHECK(cda.swap("HE GAVE HER HIS BOOK.") == "SHE GAVE HIM HER BOOK.");
    CHECK(cda.swap("Her father is a king; the choice is his.") ==
          "His mother is a queen; the choice is hers.");
    CHECK(cda.swap("The man's hat and the Women\xE2\x80\x99s room") ==
          "The woman's hat and the Men\xE2\x80\x99s room");
    CHECK(cda.swap("Mr. Smith met Ms. Jones.") == "Mrs. Smith met Mr. Jones.");
    CHECK(cda.swap("He'll see her tomorrow") == "She'll see him tomorrow");
    CHECK(cda.swap("Hers is red") == "His is red");
    CHECK(cda.swap("Heather and Hermann shed a tear.", &swaps) ==
          "Heather and Hermann shed a tear.");
    CHECK(swaps == 0);
    CHECK(counterfactual("his own way", lexicon) == "her own way");

    Lexicon bad;
    bad.add_file("pairs_gender.txt", "he\tshe\nbest man\tmaid of honour\n", "p", true);
    CHECK_THAT(message_of<ConfigError>([&] { CounterfactualSwapper s(bad); }),
               Catch::Contains("p:2: expected two single words"));
    CHECK_THROWS_AS(CounterfactualSwapper(Lexicon{}), ConfigError);
}

TEST_CASE("bias: downsample keep rate and deterministic keep_document", "[curate]") {
    CHECK(downsample_keep_rate(4, 1, 1.5) == 0.375); // 1.5 * 1 / 4
    CHECK(downsample_keep_rate(10, 2, 1.5) == Approx(0.3));
    CHECK(downsample_keep_rate(3, 2, 1.5) == 1.0); // min(1, 1.0)
    CHECK(downsample_keep_rate(1, 4, 1.5) == 1.0); // a under-represented
    CHECK(downsample_keep_rate(0, 5, 1.5) == 1.0);
    CHECK(downsample_keep_rate(5, 0, 1.5) == 1.0); // nothing to balance against
    CHECK_THROWS_AS(downsample_keep_rate(4, 1, 0.9), ConfigError);
    CHECK_THROWS_AS(downsample_keep_rate(4, 1, NAN), ConfigError);

    int kept = 0, differ = 0;
    for (int64_t i = 0; i < 100000; ++i) {
        const bool k = keep_document(42, i, 0.375);
        kept += k;
        if (i < 1000) {
            CHECK(k == keep_document(42, i, 0.375)); // a pure function of (seed, index)
            differ += k != keep_document(43, i, 0.375);
        }
        if (i < 100) {
            CHECK_FALSE(keep_document(42, i, 0.0));
            CHECK(keep_document(42, i, 1.0));
        }
    }
    CHECK(std::abs(kept / 100000.0 - 0.375) < 0.02 * 0.375); // within 2 % of the rate
    CHECK(differ > 300); // another seed, other documents (expected 2 * 0.375 * 0.625 * 1000)
}

TEST_CASE("bias: configuration errors", "[curate]") {
    const Lexicon lexicon = load_lexicons();
    CHECK_NOTHROW(BiasCounter(BiasConfig{}, lexicon));
    BiasConfig config;
    config.axes = {"gender", "caste"};
    CHECK_THAT(message_of<ConfigError>([&] { BiasCounter c(config, lexicon); }),
               Catch::Contains("curate.bias.axes: unknown axis 'caste'; expected one of age, "
                               "disability, ethnicity, gender, nationality, religion"));
    config = {};
    config.balance = "both";
    CHECK_THROWS_AS(BiasCounter(config, lexicon), ConfigError);
    config = {};
    config.window = 0;
    CHECK_THROWS_AS(BiasCounter(config, lexicon), ConfigError);
    config = {};
    config.max_skew = 0.5;
    CHECK_THROWS_AS(BiasCounter(config, lexicon), ConfigError);
    config = {};
    config.skew_pairs = {{"male", "robot"}};
    CHECK_THAT(message_of<ConfigError>([&] { BiasCounter c(config, lexicon); }),
               Catch::Contains("curate.bias.skew_pairs: unknown group 'robot'"));

    Lexicon two_axes;
    two_axes.add_file("groups_a.txt", "x\tfoo\n", "a", true);
    two_axes.add_file("groups_b.txt", "x\tbar\n", "b", true);
    config = {};
    config.axes = {"a", "b"};
    config.skew_pairs = {{"x", "b/x"}};
    CHECK_THAT(message_of<ConfigError>([&] { BiasCounter c(config, two_axes); }),
               Catch::Contains("group 'x' is in axes a and b; expected axis/group"));
    config.skew_pairs = {{"a/x", "b/x"}};
    CHECK(BiasCounter(config, two_axes).skew_pairs()[0] == std::pair<uint32_t, uint32_t>{0, 1});
    config.balance = "cda";
    CHECK_THAT(message_of<ConfigError>([&] { BiasCounter c(config, two_axes); }),
               Catch::Contains("needs the word list pairs_gender.txt"));
}
