// Issue 15, items 1, 4 and 12: what a run records and every export then uses.
//  - train/serve chat-template parity: a named template whose markers are not special tokens
//    of the tokenizer is refused (ChatML on a Llama-3 tokenizer); with the recipe key that
//    allows it, the run records the template, and the GGUF, the ollama Modelfile, the model
//    card's perplexity and an hf export carry it instead of the tokenizer's own;
//  - the card and the provenance quote the manifest's curation settings, not the recipe's
//    [curate] section;
//  - the adapter card is a PEFT card for the Hub, base_model names the model, and the
//    provenance hashes the base weights.
#include "common/error.h"
#include "common/text.h"
#include "data/chat_template.h"
#include "data/curate/manifest.h"
#include "model/io/gguf.h"
#include "model/lora.h"
#include "tests/data/npm_tokenizers.h"
#include "tests/model/export_test_util.h"
#include "tests/test_util.h"
#include "train/evaluate.h"
#include "train/export/export.h"
#include "train/export/ollama_modelfile.h"
#include "train/model_card.h"
#include "train/provenance.h"
#include "train/run.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

using namespace slimtune;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Chat records for the exportable fixtures' 300-token tokenizer.
const char* kChats[] = {
    R"({"messages": [{"role": "user", "content": "What is a normal resting heart rate?"}, {"role": "assistant", "content": "Between 60 and 100 beats per minute."}]})",
    R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Define APR."}, {"role": "assistant", "content": "The yearly cost of a loan."}]})",
    R"({"messages": [{"role": "user", "content": "Is the clinic open on Sunday?"}, {"role": "assistant", "content": "No, it opens Monday to Saturday."}]})",
    R"({"messages": [{"role": "user", "content": "My card was declined."}, {"role": "assistant", "content": "Was it at a shop or online?"}]})",
    R"({"messages": [{"role": "user", "content": "How do I reset my password?"}, {"role": "assistant", "content": "Use the link on the sign-in page."}]})",
    R"({"messages": [{"role": "user", "content": "When should I take the tablets?"}, {"role": "assistant", "content": "Twice a day, with food."}]})",
};

// `lines` as DIR/curated.jsonl with a manifest.json that vouches for it; `extra` keys join the
// manifest (what curation recorded: profile, settings).
std::string write_curated(const fs::path& dir, const json& extra) {
    fs::create_directories(dir);
    const std::string data = (dir / "curated.jsonl").string();
    {
        std::ofstream out(data);
        for (const char* line : kChats)
            out << line << "\n";
    }
    const int64_t n = std::size(kChats);
    json manifest = {
        {"format", data::curate::kManifestFormat},
        {"version", data::curate::kManifestVersion},
        {"slimtune_version", "test"},
        {"outputs", {{"curated.jsonl", {{"sha256", data::curate::sha256_file(data)}}}}},
        {"counts", {{"documents_in", n}, {"documents_out", n}}},
        {"stages", json::array()}};
    manifest.update(extra);
    std::ofstream(dir / "manifest.json") << manifest.dump(2);
    return data;
}

train::Recipe tiny_recipe(const fs::path& model, const std::string& data, const fs::path& out) {
    train::Recipe r;
    r.model.path = model.string();
    r.data.train = data;
    r.trainer.mode = "lora";
    r.trainer.lora = {.rank = 4, .alpha = 8.0, .targets = {"q_proj", "v_proj"}};
    r.train.max_steps = 3;
    r.data.packing.batch_size = 2;
    r.data.packing.seq_len = 256;
    r.train.output_dir = out.string();
    r.curate.quality.min_words = 5; // never applied: the manifest says 50
    return r;
}

json read_json(const fs::path& p) {
    return json::parse(read_file(p));
}

std::string gguf_chat_template(const fs::path& gguf) {
    return io::GgufFile::open(gguf.string())
        .at("tokenizer.chat_template", io::GgufValueType::STRING)
        .as_str();
}

// The float32 perplexity a model card states ("... the float32 model in memory scores X.").
double card_f32_perplexity(const std::string& card) {
    const std::string key = "the float32 model in memory scores ";
    const std::size_t at = card.find(key);
    REQUIRE(at != std::string::npos);
    return std::stod(card.substr(at + key.size()));
}

} // namespace

TEST_CASE("train refuses a named template whose markers are not special tokens (issue 15)",
          "[train][chat_template]") {
    test::TempDir tmp("template_refused");
    // A Llama-3 model directory: the reference checkpoint with Meta's tokenizer files.
    const fs::path model = tmp.path / "llama3";
    fs::create_directories(model);
    for (const char* f : {"config.json", "model.safetensors"})
        fs::copy_file(export_test::fixture_dir("llama_gqa") / f, model / f);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
        fs::copy_file(test::npm_tokenizer_dir("llama3") / f, model / f);
    train::Recipe r = tiny_recipe(model, write_curated(tmp.path / "curated", json::object()), tmp.path / "run");
    r.data.chat_template = "chatml"; // what recipes/smollm2-135m.ini used to pin

    std::ostringstream log;
    REQUIRE_THROWS_AS(train::run_training(r, {}, log), ConfigError);
    try {
        train::run_training(r, {}, log);
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        CHECK_THAT(msg, Contains("marker <|im_start|> is not a special token of tokenizer " +
                                 (model / "tokenizer.json").string()) &&
                            Contains("(it encodes as 6 ordinary tokens)") &&
                            Contains("the tokenizer's own: llama3") &&
                            Contains("data.allow_template_markers_as_text = true"));
        CHECK(msg.find('\n') == std::string::npos);
    }
    CHECK_THAT(log.str(), Contains("chat template: chatml (data.chat_template)\n") &&
                              Contains("tokenizer's own chat template: llama3 ("));
    CHECK_FALSE(fs::exists(tmp.path / "run")); // refused before anything is written
}

TEST_CASE("the template a run trained with is the one every export writes (issue 15)",
          "[train][chat_template][export]") {
    test::TempDir tmp("template_parity");
    const fs::path base = tmp.path / "base";
    export_test::exportable_fixture("llama_gqa", base); // its tokenizer's own template: chatml
    const std::string data =
        write_curated(tmp.path / "curated",
                      {{"profile", "sft"},
                       {"settings", {{"quality.min_words", "50"}, {"pii.policy", "redact"}}}});
    train::Recipe r = tiny_recipe(base, data, tmp.path / "clinic");
    r.data.chat_template = "llama3"; // its markers are ordinary text to this tokenizer...
    r.data.allow_template_markers_as_text = true; // ...which the recipe allows
    r.model.name = "slimtune-test/tiny-llama";
    std::ostringstream log;
    const train::RunResult result = train::run_training(r, {}, log);
    REQUIRE(result.steps == 3);
    CHECK(result.last_loss > 1.0); // the replies were learned (none cut off by seq_len)
    CHECK_THAT(log.str(),
               Contains("chat template: llama3 (data.chat_template)\n") &&
                   Contains("tokenizer's own chat template: chatml (") &&
                   Contains("warning: chat template llama3: marker <|start_header_id|> is not"));

    const fs::path adapter = result.output;
    const json prov = read_json(adapter / train::kProvenanceFile);
    CHECK(prov["chat_template"] == json{{"name", "llama3"}, {"tokenizer_default", "chatml"}});
    CHECK(train::trained_chat_template(train::read_provenance(adapter.string())) == "llama3");

    SECTION("the provenance and the adapter card quote the manifest's curation settings") {
        const json& cur = prov["dataset"]["curation"];
        CHECK(cur["profile"] == "sft");
        CHECK(cur["settings"]["quality.min_words"] == "50");
        CHECK(cur["settings_from"] == "manifest");
        CHECK_THAT(prov["recipe"].get<std::string>(),
                   Contains("[lora]") && !Contains("[curate]") && !Contains("min_words"));
        const std::string card = read_file(adapter / "README.md");
        CHECK_THAT(card, Contains("| curation profile | sft |") &&
                             Contains("[curate]\npii.policy = redact\nquality.min_words = 50\n") &&
                             !Contains("min_words = 5\n"));
    }
    SECTION("a PEFT card for the Hub, a loadable base model name, the base weights' hash") {
        const std::string card = read_file(adapter / "README.md");
        CHECK_THAT(card, StartsWith("---\nbase_model: slimtune-test/tiny-llama\n"
                                    "library_name: peft\npipeline_tag: text-generation\ntags:\n"
                                    "- base_model:adapter:slimtune-test/tiny-llama\n- lora\n"
                                    "- slimtune\n---\n\n# clinic\n"));
        CHECK_THAT(card, Contains("| chat template | llama3 (trained with) |"));
        CHECK(read_json(adapter / "adapter_config.json")["base_model_name_or_path"] ==
              "slimtune-test/tiny-llama");
        CHECK(prov["base_model_id"] == "slimtune-test/tiny-llama");
        CHECK(prov["base_model"] == base.string());
        const std::string sha = data::curate::sha256_file((base / "model.safetensors").string());
        CHECK(prov["base_model_sha256"] == json{{"model.safetensors", sha}});
        CHECK_THAT(card, Contains("`model.safetensors` `" + sha + "`"));
    }
    SECTION("GGUF, Modelfile and the card's perplexity use the trained template") {
        std::ostringstream progress;
        train::export_model({.model_dir = base.string(),
                             .adapter_dir = adapter.string(),
                             .format = "ollama",
                             .types = {io::ExportType::F32},
                             .out = (tmp.path / "ollama").string(),
                             .eval_data = data},
                            progress);
        const data::Tokenizer tok = data::Tokenizer::load(base);
        const data::ChatTemplate llama3 =
            data::chat_template_for("llama3", tok.config(), tok.source());
        CHECK(gguf_chat_template(tmp.path / "ollama" / "clinic-F32.gguf") ==
              data::chat_template_jinja(llama3));
        const std::string modelfile = read_file(tmp.path / "ollama" / "Modelfile");
        CHECK(modelfile == train::ollama_modelfile("./clinic-F32.gguf", llama3));
        CHECK_THAT(modelfile, Contains("<|start_header_id|>") && !Contains("<|im_start|>"));
        CHECK_THAT(progress.str(), Contains("chat template: llama3 (trained with, recorded in " +
                                            (adapter / train::kProvenanceFile).string() + ")"));

        // The card scores the data as training read it: with llama3, not the tokenizer's chatml.
        Model merged = load_model(base.string());
        load_peft_adapter(merged, adapter.string());
        lora_merge(merged);
        auto perplexity = [&](const char* tmpl) {
            const data::ExampleOptions eo =
                data::example_options({}, tmpl, &tok, merged.cfg.vocab_size);
            return train::dataset_loss(merged, data, eo).perplexity;
        };
        const std::string card = read_file(tmp.path / "ollama" / "README.md");
        const double stated = card_f32_perplexity(card);
        CHECK(stated == Approx(perplexity("llama3")).epsilon(1e-4));
        CHECK(std::abs(perplexity("chatml") / stated - 1.0) > 1e-3); // 0.7 % here
        CHECK_THAT(card, Contains("| chat template | llama3 (trained with, recorded in "));
    }
    SECTION("--chat-template overrides the record, and says so") {
        std::ostringstream progress;
        train::export_model({.model_dir = base.string(),
                             .adapter_dir = adapter.string(),
                             .format = "ollama",
                             .types = {io::ExportType::F16},
                             .out = (tmp.path / "override").string(),
                             .chat_template = "chatml"},
                            progress);
        const data::Tokenizer tok = data::Tokenizer::load(base);
        CHECK(gguf_chat_template(tmp.path / "override" / "clinic-F16.gguf") ==
              tok.config().chat_template); // the tokenizer's own text, as it is
        CHECK_THAT(read_file(tmp.path / "override" / "Modelfile"), Contains("<|im_start|>"));
        CHECK_THAT(
            progress.str(),
            Contains("chat template: chatml (--chat-template; the run trained with llama3)"));
    }
    SECTION("hf carries the template in tokenizer_config.json, peft in its provenance") {
        std::ostringstream progress;
        train::export_model({.model_dir = base.string(),
                             .adapter_dir = adapter.string(),
                             .format = "hf",
                             .out = (tmp.path / "hf").string()},
                            progress);
        const data::Tokenizer tok = data::Tokenizer::load(base);
        const std::string llama3 = data::chat_template_jinja(
            data::chat_template_for("llama3", tok.config(), tok.source()));
        CHECK(read_json(tmp.path / "hf" / "tokenizer_config.json")["chat_template"] == llama3);
        CHECK(data::Tokenizer::load(tmp.path / "hf").config().chat_template == llama3);
        CHECK_THAT(read_file(tmp.path / "hf" / "README.md"),
                   Contains("library_name: transformers") &&
                       Contains("base_model: slimtune-test/tiny-llama"));

        train::export_model({.model_dir = base.string(),
                             .adapter_dir = adapter.string(),
                             .format = "peft",
                             .out = (tmp.path / "peft").string()},
                            progress);
        CHECK(train::trained_chat_template(train::read_provenance((tmp.path / "peft").string())) ==
              "llama3");
        CHECK(read_json(tmp.path / "peft" / "adapter_config.json")["base_model_name_or_path"] ==
              "slimtune-test/tiny-llama");
        CHECK_THAT(read_file(tmp.path / "peft" / "README.md"),
                   StartsWith("---\nbase_model: slimtune-test/tiny-llama\nlibrary_name: peft\n"));
    }
}

TEST_CASE("a full fine-tune's tokenizer files carry the template it trained with",
          "[train][chat_template]") {
    test::TempDir tmp("template_full");
    export_test::exportable_fixture("llama_gqa", tmp.path / "model");
    const data::Tokenizer tok = data::Tokenizer::load(tmp.path / "model");
    const std::string own = tok.config().chat_template;
    train::write_trained_chat_template((tmp.path / "model").string(), &tok,
                                       {{"chat_template", {{"name", "chatml"}}}});
    CHECK(read_json(tmp.path / "model" / "tokenizer_config.json")["chat_template"] == own);
    train::write_trained_chat_template((tmp.path / "model").string(), &tok,
                                       {{"chat_template", {{"name", "gemma"}}}});
    CHECK(read_json(tmp.path / "model" / "tokenizer_config.json")["chat_template"] ==
          data::chat_template_jinja(data::chat_template_by_name("gemma", tok.config())));
}

TEST_CASE("curation settings come from the manifest, old manifests included", "[provenance]") {
    const json now = train::curation_record({{"profile", "sft"},
                                             {"settings", {{"quality.min_words", "50"}}},
                                             {"stages", json::array()}});
    CHECK(now == json{{"profile", "sft"},
                      {"settings", {{"quality.min_words", "50"}}},
                      {"settings_from", "manifest"}});
    // Version-1 manifests: each stage's settings under curate.* keys.
    const json stages = train::curation_record(
        {{"stages",
          {{{"name", "quality"}, {"settings", {{"curate.quality.min_words", "50"}}}},
           {{"name", "pii"}, {"settings", {{"curate.pii.policy", "drop"}}}}}}});
    CHECK(stages["settings"] == json{{"quality.min_words", "50"}, {"pii.policy", "drop"}});
    CHECK(stages["settings_from"] == "manifest stages");
    CHECK(stages["profile"].is_null());
    const json none = train::curation_record({{"stages", json::array()}});
    CHECK(none["settings"].is_null());
    CHECK(none["settings_from"] == "not recorded");

    train::ModelCard card{.name = "x", .base_model = "base", .format = "gguf"};
    card.provenance = {{"dataset", {{"curation", none}}},
                       {"recipe", "[lora]\nrank = 4\n\n[curate]\nquality.min_words = 5\n"}};
    const std::string md = train::model_card_markdown(card);
    CHECK_THAT(md, Contains("Curation settings: not recorded") && Contains("rank = 4") &&
                       !Contains("min_words = 5"));
    CHECK_THAT(md, StartsWith("---\nlibrary_name: gguf\npipeline_tag: text-generation\ntags:\n"
                              "- gguf\n- slimtune\n---\n")); // no base_model: not a Hub id
}

TEST_CASE("base model: Hub ids, config.json's _name_or_path, a loadable PEFT base",
          "[provenance]") {
    for (const char* ok :
         {"gpt2", "HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-0.5B", "org_1/model.v2"})
        CHECK(train::is_hub_model_id(ok));
    for (const char* bad : {"", "/fsx/models/x", "./x", "models/../x", "a/b/c", "org/-x",
                            "org/x--y", "org/x.git", "a b"})
        CHECK_FALSE(train::is_hub_model_id(bad));

    test::TempDir tmp("base_model");
    fs::copy_file(export_test::fixture_dir("llama_gqa") / "model.safetensors",
                  tmp.path / "model.safetensors");
    auto with_name_or_path = [&](const std::string& v) {
        std::ofstream(tmp.path / "config.json") << json{{"_name_or_path", v}}.dump();
    };
    with_name_or_path("HuggingFaceTB/SmolLM2-135M");
    train::BaseModel b = train::describe_base_model(tmp.str(), "");
    CHECK(b.hub_id == "HuggingFaceTB/SmolLM2-135M");
    CHECK(b.weights_sha256.at("model.safetensors") ==
          data::curate::sha256_file((tmp.path / "model.safetensors").string()));
    CHECK(train::describe_base_model(tmp.str(), "org/chosen").hub_id == "org/chosen");
    with_name_or_path("/fsx/checkpoints/run-7"); // a local path of whoever saved it
    CHECK(train::describe_base_model(tmp.str(), "").hub_id.empty());
    CHECK_THROWS_WITH(train::describe_base_model(tmp.str(), "my model"),
                      "model.name: 'my model' is not a Hugging Face Hub model id (expected "
                      "org/name)");

    CHECK(train::peft_base_model("org/m", "models/m") == "org/m");
    const std::string local = train::peft_base_model("", "models/m");
    CHECK(fs::path(local).is_absolute());
    CHECK_THAT(local, Contains("models/m"));
}
