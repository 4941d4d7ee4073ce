// The recipe `slimtune curate` runs with (issue 15, items 4 and 5): the profile's values, chosen
// from the records unless named (curate.profile, --profile, or [curate] profile in a recipe),
// with every key the user sets winning over the profile; and the manifest recording the
// settings as applied, under the names of the [curate] section.
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/curate/pipeline.h"
#include "tests/test_util.h"
#include "train/curate_keys.h"
#include "train/recipe.h"

#include <catch2/catch.hpp>
#include <fstream>

using namespace slimtune;
using Catch::Matchers::Contains;
using slimtune::test::TempDir;
using slimtune::train::load_curate_recipe;

namespace {

std::string write(const TempDir& dir, const std::string& name, const std::string& body) {
    const std::string path = dir.file(name);
    std::ofstream(path) << body;
    return path;
}

const char* kChat =
    R"({"messages": [{"role": "user", "content": "Allergies?"}, {"role": "assistant", "content": "None known."}]})"
    "\n";
const char* kText = R"({"text": "The patient was discharged home."})"
                    "\n";

} // namespace

TEST_CASE("curate recipe: the profile from the records, or as named", "[curate][recipe]") {
    TempDir dir("curate_keys_profile");
    const std::string chat = write(dir, "chat.jsonl", kChat);
    const std::string text = write(dir, "text.jsonl", kText);
    // auto: sft for chat records, pretrain for text.
    auto sft = load_curate_recipe("", {}, {chat});
    CHECK(sft.profile.profile == "sft");
    CHECK(sft.recipe.curate.profile == "sft");
    CHECK(sft.recipe.curate.quality.min_words == 1);
    auto pre = load_curate_recipe("", {}, {text});
    CHECK(pre.recipe.curate.profile == "pretrain");
    CHECK(pre.recipe.curate.quality.min_words == 50);
    // Named on the command line, or in a recipe's [curate] section.
    CHECK(load_curate_recipe("", {"--curate.profile", "pretrain"}, {chat})
              .recipe.curate.quality.min_words == 50);
    const std::string recipe = write(dir, "r.ini", "[curate]\nprofile = sft\n");
    const auto named = load_curate_recipe(recipe, {}, {text});
    CHECK(named.recipe.curate.quality.min_stop_words == 0);
    CHECK_THAT(named.profile.reason, Contains("curate.profile"));
    // No input (--print-config alone): pretrain's values.
    CHECK(load_curate_recipe("", {}, {}).recipe.curate.profile == "pretrain");
    CHECK_THROWS_WITH(load_curate_recipe("", {"--curate.profile", "chat"}, {chat}),
                      Contains("curate.profile") && Contains("sft"));
}

TEST_CASE("curate recipe: a key the user sets wins over the profile", "[curate][recipe]") {
    TempDir dir("curate_keys_override");
    const std::string chat = write(dir, "chat.jsonl", kChat);
    // In a recipe, before or after the profile key, and on the command line.
    const std::string recipe = write(dir, "r.ini",
                                     "[curate]\nquality.min_words = 5\nprofile = sft\n"
                                     "quality.min_stop_words = 1\n");
    const auto r =
        load_curate_recipe(recipe, {"--curate.quality.max_bullet_lines_ratio", "0.5"}, {chat});
    CHECK(r.recipe.curate.quality.min_words == 5);
    CHECK(r.recipe.curate.quality.min_stop_words == 1);
    CHECK(r.recipe.curate.quality.max_bullet_lines_ratio == 0.5);
    CHECK(r.recipe.curate.quality.min_alpha_words_ratio == 0); // the rest: sft's
    // Under pretrain too.
    CHECK(load_curate_recipe("", {"--curate.profile=pretrain", "--curate.quality.min_words=7"}, {})
              .recipe.curate.quality.min_words == 7);
}

TEST_CASE("curate recipe: the manifest records the settings applied", "[curate][recipe]") {
    // The model card used to quote the training recipe's [curate] section (min_words 5) while the
    // data had been curated with 50: the manifest now holds what curation applied.
    TempDir dir("curate_keys_manifest");
    const std::string chat = write(dir, "chat.jsonl", kChat);
    const auto r = load_curate_recipe("", {"--curate.quality.min_words", "3"}, {chat});
    const data::curate::CurateRunOptions run{.version = "test",
                                             .settings = train::curate_settings(r.recipe)};
    data::curate::curate_files({chat}, dir.file("out"), r.recipe.curate, run);
    const nlohmann::json m = data::curate::verify_curated(dir.file("out/curated.jsonl")).manifest;
    CHECK(m.at("profile") == "sft");
    const nlohmann::json& settings = m.at("settings");
    CHECK(settings.at("profile") == "sft");
    CHECK(settings.at("quality.min_words") == "3");
    CHECK(settings.at("quality.min_stop_words") == "0");
    CHECK(settings.at("repetition.min_words") == "50");
    CHECK(settings.at("pii.rejected") == "redact");
    // Every [curate] key, named as in the section (and as --print-config prints it).
    const std::string ini = r.recipe.to_ini("curate");
    int keys = 0;
    for (const auto& [key, value] : settings.items()) {
        ++keys;
        const std::string v = value.get<std::string>();
        CHECK_THAT(ini, Contains("\n" + key + " =" + (v.empty() ? "" : " " + v) + "\n"));
    }
    CHECK(keys == static_cast<int>(train::curate_keys().size()));
    // The report's settings use the same names.
    std::ifstream report(dir.file("out/report.json"));
    const nlohmann::json rep = nlohmann::json::parse(report);
    CHECK(rep.at("stages").at(3).at("settings").at("quality.min_words") == "3");
}
