// Curation profiles (issue 15, item 5): fine-tuning data curated with the pretraining rules lost
// every short Q&A pair (gopher_min_words = 50) and one-sentence answers (the top n-gram rules);
// the sft profile keeps them, pretrain keeps datatrove's rules, and "auto" picks the profile
// from the records.
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/curate/pipeline.h"
#include "data/curate/profile.h"
#include "tests/data/curate/corpus_util.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace slimtune;
using namespace slimtune::data;
using namespace slimtune::data::curate;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

using test::read_jsonl;

// Short clinical Q&A in every conversational shape (the issue's data, in miniature).
const std::vector<std::string> kShortPairs{
    R"({"prompt": "When can the patient go home?", "completion": "The patient was discharged home."})",
    R"({"messages": [{"role": "user", "content": "What dose of paracetamol for an adult?"}, {"role": "assistant", "content": "1 g every 6 hours, at most 4 g a day."}]})",
    R"({"instruction": "Summarise the note.", "input": "Pt stable, afebrile, eating well.", "output": "Stable and recovering."})",
    R"({"conversations": [{"from": "human", "value": "Is the wound healing?"}, {"from": "gpt", "value": "Yes, the wound is clean and dry."}]})",
    R"({"prompt": [{"role": "user", "content": "Who reviews the X-ray?"}], "completion": [{"role": "assistant", "content": "The radiologist on call."}]})",
    R"({"prompt": "Allergies?", "completion": "None known."})"};

std::string write_lines(const test::TempDir& dir,
                        const std::string& name,
                        const std::vector<std::string>& lines) {
    const std::string path = dir.file(name);
    std::ofstream out(path);
    for (const std::string& l : lines)
        out << l << "\n";
    return path;
}

} // namespace

TEST_CASE("curate profile: short Q&A pairs pass under sft, fail under pretrain", "[curate]") {
    test::TempDir dir("curate_profile_pairs");
    const std::string raw = write_lines(dir, "pairs.jsonl", kShortPairs);
    // The original failure: datatrove's rules drop 6 of 6 by gopher_min_words.
    const CurateSummary pretrain = curate_files({raw}, dir.file("pretrain"), CurateConfig{});
    CHECK(pretrain.documents_out == 0);
    CHECK(pretrain.stages[3].name == "quality");
    CHECK(pretrain.stages[3].drop_reasons ==
          std::map<std::string, int64_t>{{"gopher_min_words", 6}});
    // sft keeps every pair, unchanged.
    const CurateSummary sft = curate_files({raw}, dir.file("sft"), profile_config("sft"));
    CHECK(sft.documents_out == 6);
    const auto curated = read_jsonl(dir.file("sft/curated.jsonl"));
    REQUIRE(curated.size() == 6);
    CHECK(curated[0].at("completion") == "The patient was discharged home.");
    CHECK(curated[4].at("completion").at(0).at("content") == "The radiologist on call.");
    // The manifest records the profile.
    CHECK(verify_curated(dir.file("sft/curated.jsonl")).manifest.at("profile") == "sft");
}

TEST_CASE("curate profile: the discharged-home sentence with quality off", "[curate]") {
    // Reported: with quality.enabled = false, "The patient was discharged home." still failed
    // gopher_top_2gram (a repetition rule, 34 % for a bigram seen once). The repetition stage
    // now checks documents of repetition.min_words words (50) or more only.
    test::TempDir dir("curate_profile_sentence");
    const std::string raw =
        write_lines(dir, "notes.jsonl", {R"({"text": "The patient was discharged home."})"});
    CurateConfig c; // pretrain
    c.quality.enabled = false;
    const CurateSummary s = curate_files({raw}, dir.file("out"), c);
    CHECK(s.documents_out == 1);
    CHECK(s.stages[4].name == "repetition");
    CHECK((s.stages[4].in == 1 && s.stages[4].dropped == 0));
    // datatrove's behaviour is one key away.
    c.repetition.min_words = 0;
    const CurateSummary every = curate_files({raw}, dir.file("every"), c);
    CHECK(every.stages[4].drop_reasons == std::map<std::string, int64_t>{{"gopher_top_2gram", 1}});
}

TEST_CASE("curate profile: the values of each profile", "[curate]") {
    const CurateConfig pretrain = profile_config("pretrain");
    CHECK(pretrain.profile == "pretrain");
    CHECK(pretrain.quality.min_words == 50); // datatrove's Gopher defaults
    CHECK(pretrain.quality.min_stop_words == 2);
    CHECK(pretrain.quality.min_alpha_words_ratio == 0.8);
    const CurateConfig sft = profile_config("sft");
    CHECK(sft.profile == "sft");
    CHECK(sft.quality.min_words == 1);
    CHECK(sft.quality.min_stop_words == 0);
    CHECK(sft.quality.min_alpha_words_ratio == 0);
    CHECK(sft.repetition.min_words == pretrain.repetition.min_words);
    CHECK_THROWS_WITH(profile_config("chat"), Contains("'chat'") && Contains("sft or pretrain"));
    // "auto" must be resolved before curating.
    CurateConfig unresolved;
    unresolved.profile = "auto";
    CHECK_THROWS_WITH(check_curate_config(unresolved), Contains("curate.profile"));
}

TEST_CASE("curate profile: auto is chosen from the records", "[curate]") {
    test::TempDir dir("curate_profile_auto");
    const RecordOptions any;
    const std::string chat = write_lines(dir, "chat.jsonl", kShortPairs);
    const std::string text = write_lines(
        dir, "text.jsonl", {R"({"text": "a page"})", R"({"text": "another page"})", "{broken"});
    const std::string ids = write_lines(dir, "ids.jsonl", {R"({"input_ids": [1, 2]})"});
    CHECK(choose_profile({chat}, any).profile == "sft");
    CHECK_THAT(choose_profile({chat}, any).reason, Contains("6 chat") && Contains("0 text"));
    CHECK(choose_profile({text}, any).profile == "pretrain");
    CHECK(choose_profile({ids}, any).profile == "pretrain");
    // Over all inputs: 6 conversational records against 2 text ones.
    CHECK(choose_profile({text, chat, ids}, any).profile == "sft");
    // A named format decides alone.
    CHECK(choose_profile({chat}, {.format = DatasetFormat::text}).profile == "pretrain");
    CHECK(choose_profile({text}, {.format = DatasetFormat::alpaca}).profile == "sft");
    // A missing input is left for curate_files to report.
    CHECK(choose_profile({dir.file("none.jsonl"), chat}, any).profile == "sft");
}

TEST_CASE("curate: TRL conversational prompt/completion records", "[curate]") {
    test::TempDir dir("curate_trl");
    const std::string raw = write_lines(
        dir, "trl.jsonl",
        {R"({"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Who do I call?"}], "completion": [{"role": "assistant", "content": "Mail ward.clerk@example.org or call +44 20 7946 0958."}]})",
         R"({"prompt": [{"role": "user", "content": "x"}], "completion": "y"})"});
    CurateConfig c = profile_config("sft");
    c.skip_bad_lines = true;
    const CurateSummary s = curate_files({raw}, dir.file("out"), c);
    CHECK(s.documents_out == 1);
    CHECK(s.bad_lines == 1); // a completion that is not a list of turns, like its prompt
    const auto curated = read_jsonl(dir.file("out/curated.jsonl"));
    REQUIRE(curated.size() == 1);
    CHECK(curated[0].at("completion").at(0).at("content") == "Mail <EMAIL> or call <PHONE>.");
    CHECK(curated[0].at("prompt").at(1).at("role") == "user"); // roles untouched
    CHECK(s.pii_by_type == std::map<std::string, int64_t>{{"EMAIL", 1}, {"PHONE", 1}});
}
