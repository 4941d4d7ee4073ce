// What curation writes, whichever stage drops a document: no raw PII in any output file
// (issue 15, item 3: documents dropped before the PII stage used to go to rejected.jsonl
// verbatim), or with pii.rejected = hash only the line's hash; and `enabled = false` of a stage
// turns off everything it checks. One corpus plants, for every stage, a document that this
// stage drops, each carrying its own e-mail address plus phone, card and IBAN numbers.
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/curate/pipeline.h"
#include "tests/data/curate/corpus_util.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <tuple>

using namespace slimtune;
using namespace slimtune::data::curate;
using Catch::Matchers::Contains;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using test::lexicon_entry;
using test::neutral_words;
using test::read_jsonl;

// The PII every planted document carries, with its own e-mail address.
std::string pii(const std::string& who) {
    return " Write to " + who +
           "@example.org, call +44 20 7946 0958, card 4111 1111 1111 1111, "
           "iban GB82 WEST 1234 5698 7654 32. ";
}
// The raw strings no output may contain (but the e-mail of each victim, checked separately).
const std::vector<std::string> kRawNumbers{"7946 0958", "4111 1111 1111 1111",
                                           "GB82 WEST 1234 5698 7654 32"};

struct Corpus {
    std::string path;
    std::map<std::string, int> line_of;     // victim -> line: the document planted for a stage
    std::map<std::string, std::string> raw; // victim -> its input line
    std::vector<std::string> victims;       // every planted e-mail's local part
};

// One document per stage, each dropped there by the settings of curate_settings() below.
Corpus write_corpus(const std::string& path) {
    std::mt19937_64 rng(15);
    Corpus c{path, {}, {}, {}};
    std::vector<std::string> lines;
    auto add = [&](const std::string& victim, const std::string& line) {
        lines.push_back(line);
        if (!victim.empty()) {
            c.line_of[victim] = static_cast<int>(lines.size());
            c.raw[victim] = line;
            c.victims.push_back(victim);
        }
    };
    auto text = [](const std::string& t) { return json{{"text", t}}.dump(); };
    for (int i = 0; i < 20; ++i)
        add("", text(neutral_words(rng, 80) + "."));
    // read: a malformed line, and a record the format rejects (an unknown ShareGPT role).
    add("read.victim", "{\"text\": \"the and of" + pii("read.victim") + "unterminated");
    add("role.victim",
        json{{"conversations", {{{"from", "narrator"}, {"value", pii("role.victim")}}}}}.dump());
    // normalize: ill-formed UTF-8, dropped (normalize.invalid_utf8 = drop).
    add("utf8.victim",
        "{\"text\": \"caf\xE9 " + neutral_words(rng, 100) + pii("utf8.victim") + "\"}");
    // length: more than length.max_words = 300.
    add("length.victim", text(neutral_words(rng, 320) + pii("length.victim")));
    // quality: fewer than 50 words (pretrain), as a chat record.
    add("quality.victim", json{{"messages",
                                {{{"role", "user"}, {"content", "Who do I ask?"}},
                                 {{"role", "assistant"}, {"content", pii("quality.victim")}}}}}
                              .dump());
    // repetition: one line four times in six.
    const std::string line = neutral_words(rng, 20) + ".";
    add("repetition.victim",
        text(line + "\n" + line + "\n" + line + "\n" + line + "\n" + neutral_words(rng, 30) +
             pii("repetition.victim") + "\n" + neutral_words(rng, 20) + "."));
    // fineweb (enabled): lines without terminal punctuation.
    std::string bare;
    for (int i = 0; i < 10; ++i)
        bare += neutral_words(rng, 10) + "\n";
    add("fineweb.victim", text(bare + "the and of" + pii("fineweb.victim") + "and more"));
    // exact_dedup: the second copy; near_dedup: one word changed.
    const std::string dup = text(neutral_words(rng, 100) + pii("dup.victim"));
    add("", dup);
    add("dup.victim", dup);
    const std::string near = neutral_words(rng, 100);
    add("", text(near + pii("near.victim")));
    add("near.victim", text(near + " quantile" + pii("near.victim")));
    // pii: more than pii.max_spans = 5 spans.
    add("pii.victim", text(neutral_words(rng, 200) + pii("pii.victim") + pii("pii.victim2")));
    // toxicity: three hits in about 90 words.
    const std::string t1 = lexicon_entry("toxicity_profanity.txt", 0),
                      t2 = lexicon_entry("toxicity_profanity.txt", 2);
    add("toxic.victim",
        text(neutral_words(rng, 100) + " " + t1 + " " + t2 + " " + t1 + "." + pii("toxic.victim")));
    // bias: 30 documents with "he" twice (each with its own address), 10 with "she" twice;
    // downsampling keeps about half of the "he" documents.
    for (int i = 0; i < 30; ++i) {
        const std::string who = "he" + std::to_string(i) + ".victim";
        add(who,
            text(neutral_words(rng, 40) + " he " + neutral_words(rng, 40) + " he." + pii(who)));
    }
    for (int i = 0; i < 10; ++i)
        add("", text(neutral_words(rng, 40) + " she " + neutral_words(rng, 40) + " she."));
    // Kept, with PII outside the text: a metadata field, and a pre-tokenized record's note.
    add("meta.victim",
        json{{"text", neutral_words(rng, 80) + "."}, {"contact", pii("meta.victim")}}.dump());
    add("tokens.victim", json{{"input_ids", {1, 2, 3}}, {"note", pii("tokens.victim")}}.dump());
    std::ofstream out(path, std::ios::binary);
    for (const auto& l : lines)
        out << l << "\n";
    return c;
}

// Settings under which each planted document is dropped by its stage.
CurateConfig curate_settings() {
    CurateConfig c;
    c.skip_bad_lines = true;
    c.normalize.invalid_utf8 = "drop";
    c.length.max_words = 300;
    c.fineweb.enabled = true;
    c.bias.balance = "downsample";
    c.bias.max_skew = 1.5;
    c.chunk_docs = 16;
    return c;
}

std::string read_all(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// decisions.jsonl: line number -> the stage that dropped it ("" for kept).
std::map<int, std::string> drops(const fs::path& dir) {
    std::map<int, std::string> out;
    for (const json& d : read_jsonl((dir / "decisions.jsonl").string())) {
        const std::string s = d.at("source").get<std::string>();
        if (d.at("status") == "dropped")
            out[std::stoi(s.substr(s.rfind(':') + 1))] = d.at("stage").get<std::string>();
    }
    return out;
}

// Every file curate left in `dir` (outputs, and anything else), none holding a raw value.
void check_no_raw_pii(const fs::path& dir, const Corpus& corpus) {
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file())
            continue;
        ++files;
        const std::string content = read_all(e.path());
        INFO(e.path().string());
        for (const std::string& victim : corpus.victims)
            CHECK_THAT(content, !Contains(victim + "@"));
        for (const std::string& number : kRawNumbers)
            CHECK_THAT(content, !Contains(number));
    }
    CHECK(files == 6); // curated, rejected, decisions, report.json, report.md, manifest
}

} // namespace

TEST_CASE("curate: no raw PII in any output, whichever stage drops the document", "[curate][pii]") {
    test::TempDir dir("curate_pii_outputs");
    const Corpus corpus = write_corpus(dir.file("raw.jsonl"));
    const fs::path out = dir.path / "out";
    const CurateSummary s = curate_files({corpus.path}, out.string(), curate_settings());

    // Each planted document was dropped where it was planted (else this test proves nothing).
    const std::map<int, std::string> dropped = drops(out);
    const std::map<std::string, std::string> expected{
        {"read.victim", "read"},       {"role.victim", "read"},
        {"utf8.victim", "normalize"},  {"length.victim", "length"},
        {"quality.victim", "quality"}, {"repetition.victim", "repetition"},
        {"fineweb.victim", "fineweb"}, {"dup.victim", "exact_dedup"},
        {"near.victim", "near_dedup"}, {"pii.victim", "pii"},
        {"toxic.victim", "toxicity"}};
    for (const auto& [victim, stage] : expected) {
        INFO(victim);
        CHECK(dropped.count(corpus.line_of.at(victim)));
        if (dropped.count(corpus.line_of.at(victim)))
            CHECK(dropped.at(corpus.line_of.at(victim)) == stage);
    }
    CHECK(s.stages.back().name == "bias");
    CHECK(s.stages.back().dropped > 5); // downsampled "he" documents, each with its address

    check_no_raw_pii(out, corpus);
    // The copies are there, redacted: every rejected entry of a planted document has the tags.
    int redacted = 0;
    for (const json& r : read_jsonl((out / "rejected.jsonl").string())) {
        const std::string entry = r.dump();
        CHECK_FALSE(r.contains("sha256"));
        if (entry.find("<EMAIL>") != std::string::npos &&
            entry.find("<CREDIT_CARD>") != std::string::npos)
            ++redacted;
    }
    CHECK(redacted ==
          static_cast<int>(expected.size()) + static_cast<int>(s.stages.back().dropped));
    // The kept records lost their PII outside the text too.
    const std::string curated = read_all(out / "curated.jsonl");
    CHECK_THAT(curated, Contains("\"contact\":") && Contains("\"note\":") && Contains("<IBAN>"));

    // Without skipping, the malformed line stops the run; its message repeats no PII.
    CurateConfig strict = curate_settings();
    strict.skip_bad_lines = false;
    CHECK_THROWS_WITH(curate_files({corpus.path}, dir.file("strict"), strict),
                      Contains("raw.jsonl:21") && !Contains("read.victim@"));
}

TEST_CASE("curate: pii.rejected = hash keeps only each dropped line's SHA-256", "[curate][pii]") {
    test::TempDir dir("curate_pii_hash");
    const Corpus corpus = write_corpus(dir.file("raw.jsonl"));
    const fs::path out = dir.path / "out";
    CurateConfig c = curate_settings();
    c.pii.rejected = "hash";
    const CurateSummary s = curate_files({corpus.path}, out.string(), c);
    check_no_raw_pii(out, corpus);
    const std::vector<json> rejected = read_jsonl((out / "rejected.jsonl").string());
    CHECK(static_cast<int64_t>(rejected.size()) == s.documents_in - s.documents_out);
    std::set<std::string> hashes;
    for (const json& r : rejected) {
        CHECK_FALSE(r.contains("record"));
        CHECK_FALSE(r.contains("line"));
        CHECK(r.at("sha256").get<std::string>().size() == 64);
        hashes.insert(r.at("sha256").get<std::string>());
    }
    // The hash is the input line's, for documents dropped early (malformed, quality) and late
    // (balancing in the second pass).
    for (const std::string victim : {"read.victim", "quality.victim", "toxic.victim"})
        CHECK(hashes.count(sha256_hex(corpus.raw.at(victim))));
    int downsampled = 0;
    for (int i = 0; i < 30; ++i)
        downsampled += static_cast<int>(
            hashes.count(sha256_hex(corpus.raw.at("he" + std::to_string(i) + ".victim"))));
    CHECK(downsampled == s.stages.back().dropped);
}

TEST_CASE("curate: enabled = false turns off everything its stage checks", "[curate]") {
    test::TempDir dir("curate_disabled");
    const Corpus corpus = write_corpus(dir.file("raw.jsonl"));
    // Each switch, and the planted document that stage dropped: now it is kept, or dropped by a
    // later stage, and the stage drops nothing.
    using Switch = void (*)(CurateConfig&);
    const std::vector<std::tuple<std::string, std::string, Switch>> switches{
        {"normalize", "utf8.victim", [](CurateConfig& c) { c.normalize.enabled = false; }},
        {"length", "length.victim", [](CurateConfig& c) { c.length.enabled = false; }},
        {"quality", "quality.victim", [](CurateConfig& c) { c.quality.enabled = false; }},
        {"repetition", "repetition.victim", [](CurateConfig& c) { c.repetition.enabled = false; }},
        {"fineweb", "fineweb.victim", [](CurateConfig& c) { c.fineweb.enabled = false; }},
        {"exact_dedup", "dup.victim", [](CurateConfig& c) { c.dedup.exact = false; }},
        {"near_dedup", "near.victim", [](CurateConfig& c) { c.dedup.near = false; }},
        {"pii", "pii.victim", [](CurateConfig& c) { c.pii.detect.enabled = false; }},
        {"toxicity", "toxic.victim", [](CurateConfig& c) { c.toxicity.enabled = false; }},
        {"bias", "he0.victim", [](CurateConfig& c) { c.bias.enabled = false; }},
    };
    for (const auto& [stage, victim, off] : switches) {
        INFO(stage);
        CurateConfig c = curate_settings();
        off(c);
        const fs::path out = dir.path / stage;
        const CurateSummary s = curate_files({corpus.path}, out.string(), c);
        for (const StageCounts& st : s.stages)
            if (st.name == stage)
                CHECK((!st.enabled && st.in == 0 && st.dropped == 0 && st.drop_reasons.empty()));
        const auto order = [&](const std::string& name) {
            for (std::size_t i = 0; i < s.stages.size(); ++i)
                if (s.stages[i].name == name)
                    return i;
            FAIL("no stage " << name);
            return s.stages.size();
        };
        const std::map<int, std::string> dropped = drops(out);
        for (const auto& [line, by] : dropped)
            CHECK(by != stage);
        // The planted document is kept, or dropped by a later stage.
        const int line = corpus.line_of.at(victim);
        CHECK((dropped.count(line) == 0 || order(dropped.at(line)) > order(stage)));
    }
}
