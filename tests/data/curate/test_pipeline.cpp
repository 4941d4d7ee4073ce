// The curation pipeline end to end on a generated corpus with planted duplicates,
// near-duplicates, PII, toxic documents, low-quality documents, a malformed line and a gender
// skew: every planted item is found where it was planted, nothing else is touched, the counts
// in the report are the planted ones, and the manifest verifies (and stops verifying once the
// curated file is edited). Also the normalise stage, balancing, and the gate's refusals.
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/curate/normalize.h"
#include "data/curate/pipeline.h"
#include "tests/data/curate/corpus_util.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

using namespace slimtune;
using namespace slimtune::data::curate;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

using test::lexicon_entry;
using test::read_jsonl;

// A unique, clean document of `n` words (passes every quality and repetition rule).
std::string clean_doc(std::mt19937_64& rng, int n = 80) {
    return test::neutral_words(rng, n) + ".";
}

// Replaces the `at`-th word by a word not in kNeutralWords (Jaccard of 5-gram sets about 0.9).
std::string one_word_changed(const std::string& doc, int at) {
    std::istringstream in(doc);
    std::string w, out;
    for (int i = 0; in >> w; ++i)
        out += (i ? " " : "") + (i == at ? std::string("quantile") : w);
    return out;
}

struct Planted {
    std::map<int, std::string> dropped_at; // line number -> stage
    std::set<int> modified;                // line numbers
    std::map<std::string, int64_t> pii;    // type -> spans
};

// Writes the corpus; returns what was planted where.
Planted write_corpus(const std::string& path) {
    std::mt19937_64 rng(7);
    std::vector<std::string> lines;
    Planted p;
    auto add = [&](const std::string& text) {
        lines.push_back(json{{"text", text}}.dump());
        return static_cast<int>(lines.size());
    };
    std::vector<std::string> base;
    for (int i = 0; i < 200; ++i)
        base.push_back(clean_doc(rng));
    for (const auto& b : base)
        add(b);
    // Exact duplicates, also after case, digit and punctuation differences (simplify_text).
    for (int i = 0; i < 8; ++i) {
        std::string d = base[static_cast<std::size_t>(i * 7)];
        if (i % 2)
            d[0] = static_cast<char>(std::toupper(d[0]));
        p.dropped_at[add(d)] = "exact_dedup";
    }
    // Near duplicates: one word in 80 changed.
    for (int i = 0; i < 8; ++i)
        p.dropped_at[add(one_word_changed(base[static_cast<std::size_t>(100 + i)], 40))] =
            "near_dedup";
    // PII, two documents per type; redacted, kept.
    const std::vector<std::pair<std::string, std::string>> pii{
        {"EMAIL", "write to alex.smith@example.org"}, {"EMAIL", "or ops+desk@mail.example.com"},
        {"PHONE", "call +1 650-253-0000 now"},        {"PHONE", "ring +44 20 7946 0958"},
        {"CREDIT_CARD", "card 4111 1111 1111 1111"},  {"CREDIT_CARD", "card 5500-0000-0000-0004"},
        {"IBAN", "iban DE89 3704 0044 0532 0130 00"}, {"IBAN", "iban GB82 WEST 1234 5698 7654 32"},
        {"US_SSN", "ssn 219-09-9999 on file"},        {"US_SSN", "ssn 078-05-1121 on file"}};
    for (const auto& [type, text] : pii) {
        p.modified.insert(add(clean_doc(rng) + " " + text + " " + clean_doc(rng, 10)));
        ++p.pii[type];
    }
    // Toxic documents: three list words in about 85 words (score 0.035 > 0.02, 3 hits >= 2).
    const std::string t1 = lexicon_entry("toxicity_profanity.txt", 0);
    const std::string t2 = lexicon_entry("toxicity_profanity.txt", 2);
    for (int i = 0; i < 3; ++i)
        p.dropped_at[add(clean_doc(rng) + " " + t1 + " " + t2 + " " + t1 + ".")] = "toxicity";
    // Identity terms alone are never toxic.
    for (int i = 0; i < 3; ++i)
        add(clean_doc(rng) + " gay immigrant deaf.");
    // Low quality: too short; all bullet lines.
    p.dropped_at[add("the value and the table.")] = "quality";
    {
        std::string bullets;
        for (int i = 0; i < 12; ++i)
            bullets += "- " + clean_doc(rng, 6) + "\n";
        p.dropped_at[add(bullets)] = "quality";
    }
    // Gender skew: 30 documents with "he" twice, 10 with "she" twice.
    for (int i = 0; i < 30; ++i)
        add(clean_doc(rng, 40) + " he " + clean_doc(rng, 40) + " he.");
    for (int i = 0; i < 10; ++i)
        add(clean_doc(rng, 40) + " she " + clean_doc(rng, 40) + " she.");
    lines.push_back("{\"text\": \"unterminated");
    p.dropped_at[static_cast<int>(lines.size())] = "read";
    std::ofstream out(path);
    for (const auto& l : lines)
        out << l << "\n";
    return p;
}

int line_of(const json& decision) {
    const std::string s = decision.at("source").get<std::string>();
    return std::stoi(s.substr(s.rfind(':') + 1));
}

const json& skew(const json& bias_report) {
    for (const json& s : bias_report.at("skews"))
        if (s.at("group_a") == "gender/male" && s.at("group_b") == "gender/female")
            return s;
    FAIL("no male/female skew");
    return bias_report;
}

} // namespace

TEST_CASE("curate: every planted item is found, nothing else is touched", "[curate]") {
    test::TempDir dir("curate_e2e");
    const std::string raw = dir.file("raw.jsonl");
    const Planted planted = write_corpus(raw);
    CurateConfig c;
    c.skip_bad_lines = true;
    c.chunk_docs = 37; // several chunks, one cut mid-way through the planted items
    const CurateSummary s = curate_files({raw}, dir.file("out"), c);

    std::map<int, std::string> dropped;
    std::set<int> modified;
    for (const json& d : read_jsonl(dir.file("out/decisions.jsonl"))) {
        if (d.at("status") == "dropped")
            dropped[line_of(d)] = d.at("stage").get<std::string>();
        if (d.at("status") == "modified")
            modified.insert(line_of(d));
    }
    CHECK(dropped == planted.dropped_at);
    CHECK(modified == planted.modified);
    CHECK(s.pii_by_type == planted.pii);
    CHECK(s.documents_in == 275);
    CHECK(s.documents_out == 275 - static_cast<int64_t>(planted.dropped_at.size()));
    CHECK(read_jsonl(dir.file("out/curated.jsonl")).size() ==
          static_cast<std::size_t>(s.documents_out));
    CHECK(read_jsonl(dir.file("out/rejected.jsonl")).size() == planted.dropped_at.size());
    CHECK(s.toxicity.dropped == 3);
    CHECK(s.toxicity.identity_docs_kept == 3);
    CHECK(s.toxicity.identity_docs_dropped == 0);
    // The redacted text has typed placeholders and no trace of the values.
    const std::string curated = [&] {
        std::ifstream in(dir.file("out/curated.jsonl"));
        return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    CHECK_THAT(curated, Contains("<EMAIL>") && Contains("<IBAN>") && Contains("<US_SSN>") &&
                            !Contains("alex.smith") && !Contains("4111") && !Contains("7946"));
    // The skew, by hand: 30 x 2 "he", 10 x 2 "she".
    const json& sk = skew(s.bias_before);
    CHECK(sk.at("count_a") == 60);
    CHECK(sk.at("count_b") == 20);
    CHECK(sk.at("ratio").get<double>() == Approx(3.0));
    CHECK(sk.at("log2_skew").get<double>() == Approx(std::log2(61.0 / 21.0)));
    CHECK(sk.at("percent_a").get<double>() == Approx(75.0));

    // The manifest vouches for curated.jsonl, and only as written.
    const CuratedData ok = verify_curated(dir.file("out/curated.jsonl"));
    CHECK(ok.manifest_sha256 == sha256_file(dir.file("out/manifest.json")));
    CHECK(ok.manifest.at("counts").at("documents_out") == s.documents_out);
    CHECK(ok.manifest.at("inputs").at(0).at("sha256") == sha256_file(raw));
    CHECK(ok.manifest.at("stages").size() == 11);
    std::ofstream(dir.file("out/curated.jsonl"), std::ios::app) << R"({"text":"sneaked in"})"
                                                                << "\n";
    CHECK_THROWS_WITH(verify_curated(dir.file("out/curated.jsonl")),
                      Contains("does not match") && Contains("slimtune curate"));
    // Not curated at all, and a manifest that is not one.
    CHECK_THROWS_WITH(verify_curated(raw), Contains("not curated") && Contains("slimtune curate"));
    std::ofstream(dir.file("manifest.json")) << R"({"outputs":{}})";
    CHECK_THROWS_WITH(verify_curated(raw), Contains("not a slimtune curation manifest"));
    CHECK_THROWS_WITH(verify_curated(raw, dir.file("out/manifest.json")),
                      Contains("does not match"));

    // Without skip, the malformed line stops the run, names its line, and leaves nothing.
    CHECK_THROWS_WITH(curate_files({raw}, dir.file("strict"), CurateConfig{}),
                      Contains("raw.jsonl:275"));
    CHECK_FALSE(std::filesystem::exists(dir.file("strict/manifest.json")));
    CHECK_FALSE(std::filesystem::exists(dir.file("strict/curated.jsonl")));
}

TEST_CASE("curate: balancing by downsampling and by counterfactual copies", "[curate]") {
    test::TempDir dir("curate_balance");
    const std::string raw = dir.file("raw.jsonl");
    write_corpus(raw);
    CurateConfig c;
    c.skip_bad_lines = true;
    c.bias.max_skew = 1.5;
    // Downsampling the "he" documents: keep rate p = 1.5 * 20 / 60 = 0.5.
    c.bias.balance = "downsample";
    const CurateSummary down = curate_files({raw}, dir.file("down"), c);
    const json& plan = down.balance.at("pairs").at(0);
    CHECK(plan.at("keep_rate").get<double>() == Approx(0.5));
    const int64_t removed = plan.at("downsampled").get<int64_t>();
    CHECK(removed == down.stages.back().dropped);
    CHECK((removed > 5 && removed < 25));
    CHECK(skew(down.bias_after).at("count_a") == 2 * (30 - removed));
    CHECK(skew(down.bias_after).at("count_b") == 20);
    // Counterfactual copies of the "he" documents: fraction q = (60 - 30) / (90 - 0) = 1/3.
    c.bias.balance = "cda";
    const CurateSummary cda = curate_files({raw}, dir.file("cda"), c);
    const json& cp = cda.balance.at("pairs").at(0);
    CHECK(cp.at("counterfactual_fraction").get<double>() == Approx(1.0 / 3.0));
    const int64_t added = cp.at("counterfactual_copies").get<int64_t>();
    CHECK(added == cda.stages.back().added);
    CHECK((added > 3 && added < 18));
    CHECK(skew(cda.bias_after).at("count_a") == 60);
    CHECK(skew(cda.bias_after).at("count_b") == 20 + 2 * added);
    CHECK(cda.documents_out == down.documents_out + removed + added);
    // The copies are in curated.jsonl ("she" where "he" was) and verify.
    verify_curated(dir.file("cda/curated.jsonl"));
}

TEST_CASE("curate: normalise stage", "[curate]") {
    const NormalizeConfig c;
    NormalizeResult r =
        normalize_text("  Cafe\xCC\x81\r\nline\xC2\xA0two \t end  \n\n\n\nx\x07y\xE2\x80\x8B ", c);
    CHECK(r.text == "Caf\xC3\xA9\nline two end\n\nxy");
    CHECK((r.changed_form && r.removed_control && r.changed_whitespace && !r.invalid_utf8));
    r = normalize_text("def f():\n    return 1\n", c); // indentation is kept
    CHECK(r.text == "def f():\n    return 1");
    r = normalize_text("bad \xFF byte", c);
    CHECK(r.text == "bad \xEF\xBF\xBD byte");
    CHECK((r.invalid_utf8 && r.replaced == 1));
    CHECK_FALSE(normalize_text("clean text.", c).changed());
    CHECK_THROWS_AS(check_normalize_config({.unicode_form = "nfd"}), ConfigError);
}

TEST_CASE("curate: ill-formed UTF-8 repaired or dropped, and the stage tallies add up",
          "[curate]") {
    test::TempDir dir("curate_utf8");
    const std::string raw = dir.file("raw.jsonl");
    std::mt19937_64 rng(3);
    {
        std::ofstream out(raw, std::ios::binary);
        out << json{{"text", clean_doc(rng)}}.dump() << "\n";
        out << "{\"text\": \"" << clean_doc(rng) << " caf\xE9 \xFF\"}\n"; // Latin-1 bytes
        out << json{{"text", clean_doc(rng)}}.dump() << "\n";
    }
    CurateConfig c;
    const CurateSummary repaired = curate_files({raw}, dir.file("repair"), c);
    CHECK(repaired.documents_out == 3);
    CHECK(repaired.stages[1].name == "normalize");
    CHECK(repaired.stages[1].modified == 1);
    CHECK(repaired.stages[1].changes.at("invalid_utf8_repaired") == 1);
    CHECK_THAT(read_jsonl(dir.file("repair/curated.jsonl"))[1].at("text").get<std::string>(),
               Contains("caf\xEF\xBF\xBD \xEF\xBF\xBD"));
    c.normalize.invalid_utf8 = "drop";
    const CurateSummary dropped = curate_files({raw}, dir.file("drop"), c);
    CHECK(dropped.documents_out == 2);
    CHECK(dropped.stages[1].dropped == 1);
    CHECK(dropped.stages[1].drop_reasons.at("invalid_utf8") == 1);
    for (const StageCounts& st : dropped.stages) {
        INFO(st.name);
        CHECK(st.kept == st.in - st.dropped);
        CHECK(st.kept >= 0);
    }
    const auto rejected = read_jsonl(dir.file("drop/rejected.jsonl"));
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].at("stage") == "normalize");
    CHECK(rejected[0].contains("line")); // the raw line, made valid for JSON
}

TEST_CASE("curate: the Jaccard check of near-duplicate candidates", "[curate]") {
    test::TempDir dir("curate_jaccard");
    std::mt19937_64 rng(11);
    const std::string raw = dir.file("raw.jsonl");
    {
        std::ofstream out(raw);
        for (int i = 0; i < 20; ++i) {
            const std::string d = clean_doc(rng);
            out << json{{"text", d}}.dump() << "\n"
                << json{{"text", one_word_changed(d, 40)}}.dump() << "\n"; // J about 0.9
        }
    }
    CurateConfig c;
    c.dedup.exact = false;
    // Default threshold 0.7: every copy is a near-duplicate, with its estimate recorded.
    const CurateSummary found = curate_files({raw}, dir.file("found"), c);
    CHECK(found.stages[7].name == "near_dedup");
    CHECK(found.stages[7].dropped == 20);
    for (const json& r : read_jsonl(dir.file("found/rejected.jsonl")))
        CHECK(r.at("detail").at("jaccard_estimate").get<double>() > 0.75);
    // Asking for 0.97 turns the same LSH candidates down.
    c.dedup.threshold = 0.97;
    const CurateSummary strict = curate_files({raw}, dir.file("strict"), c);
    CHECK(strict.stages[7].dropped == 0);
    CHECK(strict.dedup_rejected_candidates == 20);
}
