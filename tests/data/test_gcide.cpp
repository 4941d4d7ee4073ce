// GCIDE's dictd text split into general and medical documents: markup reduced to prose on
// articles written in the dictionary's layout, and the counts of Debian's real file.
#include "common/error.h"
#include "data/sources/gcide.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace slimtune::data;

namespace {

// Three articles in dictd's layout: a medical article with one sense, an article whose numbered
// senses are medical and general, and a general one with a quotation and a source tag.
constexpr const char* kArticles = R"(
   Begin file 1 of 26:  Letter A

Abasia \A*ba"si*a\ ([.a]*b[=a]"zh[i^]*[.a]), n.
   [NL.; Gr. 'a- not + ba`sis a step.] (Med.)
   Inability to coordinate muscular actions properly in walking.
   [1913 Webster]

Fever \Fe"ver\ (f[=e]"v[~e]r), n. [OE. fever, fefer, AS. fefer,
   fefor, L. febris: cf. F. fi[`e]vre. Cf. {Febrile}.]
   1. (Med.) A diseased state of the system, marked by increased
      heat and acceleration of the pulse.
      [1913 Webster]

   2. Excessive excitement of the passions; as, this quarrel
      has set my blood in a fever.
      [1913 Webster]

            After life's fitful fever he sleeps well. --Shak.
      [1913 Webster]

   {Fever blister} (Med.), a blister often found about the
      mouth in febrile states.

Caf['e] \Ca`f['e]"\, n. [F.]
   A coffeehouse; a restaurant serving [ae]sthetic dishes.
   [1913 Webster]
)";

} // namespace

TEST_CASE("GCIDE articles split into medical senses and general prose", "[data][gcide]") {
    const gcide::Corpus c = gcide::parse_corpus(kArticles);
    CHECK(c.articles == 3);
    REQUIRE(c.medical.size() == 3);
    CHECK(c.medical[0].headword == "Abasia");
    CHECK(c.medical[0].text ==
          "Abasia, n. (Med.) Inability to coordinate muscular actions properly in walking.");
    // A head that only names the part of speech prefixes each of its senses.
    CHECK(c.medical[1].text == "Fever, n. 1. (Med.) A diseased state of the system, marked by "
                               "increased heat and acceleration of the pulse.");
    CHECK(
        c.medical[2].text ==
        "Fever, n. Fever blister (Med.), a blister often found about the mouth in febrile states.");
    REQUIRE(c.general.size() == 2);
    CHECK(c.general[0].text == "Fever, n. 2. Excessive excitement of the passions; as, this "
                               "quarrel has set my blood in a fever. After life's fitful fever "
                               "he sleeps well.");
    CHECK(c.general[1].headword == "Caf['e]");
    CHECK(c.general[1].text == "Cafe, n. A coffeehouse; a restaurant serving aesthetic dishes.");
}

TEST_CASE("GCIDE markup: accent codes, etymologies, pronunciations, attributions",
          "[data][gcide]") {
    CHECK(gcide::plain_text("na[\"i]ve [F. na[\"i]f] (n[.a]*[=e]v\")") == "naive");
    CHECK(gcide::plain_text("the {C[oe]lenterata} and {Hy*dro\"zo*a}") ==
          "the Coelenterata and Hydrozoa");
    CHECK(gcide::plain_text("a quotation.   --Milton.\n   next") == "a quotation. next");
    CHECK(gcide::plain_text("a word (called \"X\" by some)") == "a word (called \"X\" by some)");
    CHECK(gcide::plain_text("unclosed [etymology") == "unclosed");
    CHECK(gcide::plain_text("it\x92s") == "its"); // a stray CP1252 byte

}

TEST_CASE("GCIDE field labels that name medicine", "[data][gcide]") {
    for (const char* label : {"Med.", "Anat.", "Physiol. Chem.", "Pathol.", "Surg. & Far.",
                              "Pharmacy", "Dentistry", "Obstetrics", "Veter.", "Med", "Medicine"})
        CHECK(gcide::is_medical_label(label));
    for (const char* label : {"Medi[ae]val Armor", "Zool.", "Bot.", "Chem.", "Naut.", "Law",
                              "Anatto", "Vetch", "Medal"})
        CHECK_FALSE(gcide::is_medical_label(label));
}

TEST_CASE("Debian's GCIDE gives ~6,000 medical documents and holds out 2 % of the rest",
          "[data][gcide]") {
    REQUIRE(std::filesystem::exists(gcide::kDebianPath)); // scripts/install-deps.sh installs it
    const gcide::Corpus c = gcide::read_corpus(gcide::kDebianPath);
    CHECK(c.articles > 120000);
    CHECK(c.medical.size() > 5500);
    CHECK(c.medical.size() < 7000);
    CHECK(c.general.size() > 110000);
    size_t heldout = 0;
    for (const auto& d : c.general)
        heldout += gcide::is_general_heldout(d.headword);
    const double share = static_cast<double>(heldout) / static_cast<double>(c.general.size());
    CHECK(share > 0.015);
    CHECK(share < 0.025);
    // No markup survives in the documents.
    std::string marked;
    for (const auto* docs : {&c.general, &c.medical})
        for (const auto& d : *docs)
            if (marked.empty() && d.text.find_first_of("\\{}") != std::string::npos)
                marked = d.text;
    CHECK(marked == "");
}

TEST_CASE("a file that is not GCIDE is a FormatError naming it", "[data][gcide]") {
    slimtune::test::TempDir dir("gcide");
    const std::string path = dir.file("not_gcide.txt");
    std::ofstream(path) << "just some text\nwithout articles\n";
    CHECK_THROWS_WITH(gcide::read_corpus(path),
                      Catch::Contains(path) && Catch::Contains("no dictionary article"));
    CHECK_THROWS_WITH(gcide::read_corpus("/nonexistent/gcide.dict.dz"),
                      Catch::Contains("cannot open"));
}
