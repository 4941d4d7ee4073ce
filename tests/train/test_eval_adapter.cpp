// `eval` and `generate` with --adapter (train/adapter.h): a PEFT directory (the fixtures were
// written by PEFT itself) or a run directory gives the loss of the merged export; --compare-base
// prints what two separate evals print; generate's streamed text is its --json text; --chat
// takes the template recorded at training; a full fine-tuning run works as --model or
// --adapter; an adapter for another base is a one-line error naming the file; `inspect`
// describes a GGUF LoRA adapter written by `export --format gguf-lora`.
#include "common/error.h"
#include "model/io/gguf_adapter.h"
#include "tests/cli_util.h"
#include "tests/model/export_test_util.h"
#include "tests/test_util.h"
#include "train/commands/commands.h"
#include "train/export/export.h"
#include "train/provenance.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace slimtune;
using namespace slimtune::export_test;
using Catch::Matchers::Contains;
using nlohmann::json;
using test::run_cli;

namespace {

const fs::path kAdapters = fs::path(SLIMTUNE_SOURCE_DIR) / "tests" / "fixtures" / "adapters";

// A base model with a tokenizer (a reference checkpoint widened to it), the PEFT adapter made
// for that checkpoint, and data in three record formats.
struct Setup {
    test::TempDir tmp{"eval_adapter"};
    fs::path base, adapter, data;
    Setup(const std::string& model, const std::string& adapter_name)
        : base(tmp.path / "base"), adapter(kAdapters / adapter_name), data(tmp.path / "d.jsonl") {
        exportable_fixture(model, base);
        std::ofstream(data) << R"({"text": "The patient was discharged after three days."})"
                            << "\n"
                            << R"({"messages": [{"role": "user", "content": "Hello"},)"
                            << R"( {"role": "assistant", "content": "Hi there, how are you?"}]})"
                            << "\n"
                            << R"({"prompt": "Dose:", "completion": " two tablets daily."})"
                            << "\n";
    }
    // A training run directory: the adapter in adapter/, with a provenance record.
    fs::path run_dir(const json& provenance, const std::string& name = "run") const {
        const fs::path run = tmp.path / name;
        fs::remove_all(run);
        fs::create_directories(run);
        fs::copy(adapter, run / "adapter", fs::copy_options::recursive);
        std::ofstream(run / "adapter" / train::kProvenanceFile) << provenance.dump();
        return run;
    }
    std::vector<std::string> args(std::vector<std::string> extra) const {
        std::vector<std::string> a = {"--model", base.string(), "--data", data.string()};
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    }
    json eval(std::vector<std::string> extra) const {
        extra.push_back("--json");
        return json::parse(run_cli(train::run_eval, args(extra)));
    }
};

fs::path export_to(const train::ExportOptions& o) {
    std::ostringstream progress;
    train::export_model(o, progress);
    return o.out;
}

fs::path merged_export(const Setup& s, const std::string& adapter) {
    train::ExportOptions o;
    o.model_dir = s.base.string();
    o.adapter_dir = adapter;
    o.format = "hf";
    o.out = (s.tmp.path / "merged").string();
    return export_to(o);
}

std::string fixed4(double v) {
    std::ostringstream os;
    os << std::fixed << std::setprecision(4) << v;
    return os.str();
}

// The whitespace-separated fields of the table row starting with `label`.
std::vector<std::string> table_row(const std::string& table, const std::string& label) {
    std::istringstream in(table);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::vector<std::string> fields;
        for (std::string w; words >> w;)
            fields.push_back(w);
        if (!fields.empty() && fields[0] == label)
            return fields;
    }
    FAIL("no row '" << label << "' in:\n" << table);
    return {};
}

// The message of what `command` throws (main prints it as the one line on stderr), checking
// that nothing else went to stderr before it.
template <class E>
std::string error_of(int (*command)(const std::vector<std::string>&),
                     const std::vector<std::string>& args) {
    std::string messages;
    try {
        run_cli(command, args, &messages);
    } catch (const E& e) {
        CHECK(messages == "");
        return e.what();
    }
    FAIL("no error");
    return {};
}

} // namespace

TEST_CASE("eval --adapter: the merged export's loss, from a PEFT directory and a run directory",
          "[eval_adapter]") {
    for (const auto& [model, adapter] :
         {std::pair<std::string, std::string>{"llama_gqa", "llama_gqa_lora"},
          {"gpt2", "gpt2_lora"}}) {
        DYNAMIC_SECTION(model) {
            const Setup s(model, adapter);
            const json merged = json::parse(
                run_cli(train::run_eval, {"--model", merged_export(s, s.adapter.string()).string(),
                                          "--data", s.data.string(), "--json"}));
            const json base = s.eval({});
            const json peft = s.eval({"--adapter", s.adapter.string()});
            const json run = s.eval({"--adapter", s.run_dir({{"train", {{"mode", "lora"}}}})});
            INFO(merged.dump() << "\n" << peft.dump());
            CHECK(peft["examples"] == 3);
            CHECK(peft["tokens"] == merged["tokens"]);
            CHECK(std::abs(peft["loss"].get<double>() - merged["loss"].get<double>()) <= 1e-5);
            // The adapter changes the model (else the equality above proves nothing).
            CHECK(std::abs(peft["loss"].get<double>() - base["loss"].get<double>()) > 1e-3);
            CHECK(run["loss"] == peft["loss"]);
            CHECK(run["adapter"] == (s.tmp.path / "run" / "adapter").string());
        }
    }
}

TEST_CASE("eval --compare-base: one table with the numbers of two separate evals",
          "[eval_adapter]") {
    const Setup s("llama_gqa", "llama_gqa_lora");
    const json base = s.eval({});
    const json tuned = s.eval({"--adapter", s.adapter.string()});
    const json both = s.eval({"--adapter", s.adapter.string(), "--compare-base"});
    for (const char* k : {"loss", "perplexity", "tokens", "examples"}) {
        CHECK(both["base"][k] == base[k]);
        CHECK(both["fine_tuned"][k] == tuned[k]);
    }
    CHECK(both["delta"]["loss"].get<double>() ==
          tuned["loss"].get<double>() - base["loss"].get<double>());
    CHECK(both["base"]["model"] == s.base.string());

    const std::string table =
        run_cli(train::run_eval, s.args({"--adapter", s.adapter.string(), "--compare-base"}));
    INFO(table);
    for (const auto& [label, j] :
         {std::pair<std::string, json>{"base", base}, {"fine-tuned", tuned}}) {
        const std::vector<std::string> row = table_row(table, label);
        REQUIRE(row.size() == 5);
        CHECK(row[1] == fixed4(j["loss"].get<double>()));
        CHECK(row[2] == fixed4(j["perplexity"].get<double>()));
        CHECK(row[3] == std::to_string(j["tokens"].get<int64_t>()));
        CHECK(row[4] == "3");
    }
    const std::vector<std::string> delta = table_row(table, "delta");
    CHECK(delta[1] == (tuned["loss"].get<double>() < base["loss"].get<double>() ? "" : "+") +
                          fixed4(tuned["loss"].get<double>() - base["loss"].get<double>()));
    // Without --compare-base the table has the fine-tuned row alone.
    const std::string one = run_cli(train::run_eval, s.args({"--adapter", s.adapter.string()}));
    CHECK(table_row(one, "fine-tuned") == table_row(table, "fine-tuned"));
    CHECK(one.find("base") == std::string::npos);
}

TEST_CASE("generate: the streamed text is the --json text; --chat takes the recorded template",
          "[eval_adapter]") {
    const Setup s("llama_gqa", "llama_gqa_lora");
    const fs::path run = s.run_dir({{"chat_template", {{"name", "alpaca"}}}});
    auto gen = [&](std::vector<std::string> extra) {
        std::vector<std::string> a = {"--model", s.base.string(), "--max-new-tokens", "24"};
        a.insert(a.end(), extra.begin(), extra.end());
        return run_cli(train::run_generate, a);
    };
    for (const std::vector<std::string>& extra :
         {std::vector<std::string>{"--adapter", s.adapter.string(), "--prompt", "The patient"},
          {"--adapter", run.string(), "--prompt", "Hello", "--chat"},
          {"--adapter", run.string(), "--prompt", "x", "--temperature", "0.9", "--seed", "3"}}) {
        INFO(extra[1] << " " << extra[3]);
        std::vector<std::string> as_json = extra;
        as_json.push_back("--json");
        const json j = json::parse(gen(as_json));
        REQUIRE(!j["text"].get<std::string>().empty());
        CHECK(gen(extra) == j["text"].get<std::string>() + "\n");
    }
    // The run recorded alpaca: --chat renders the prompt with it, not the tokenizer's chatml.
    const json recorded =
        json::parse(gen({"--adapter", run.string(), "--prompt", "Hello", "--chat", "--json"}));
    const json alpaca = json::parse(gen({"--adapter", s.adapter.string(), "--prompt", "Hello",
                                         "--chat", "--chat-template", "alpaca", "--json"}));
    const json chatml = json::parse(
        gen({"--adapter", s.adapter.string(), "--prompt", "Hello", "--chat", "--json"}));
    CHECK(recorded == alpaca);
    CHECK(recorded["prompt_tokens"] != chatml["prompt_tokens"]);
    // A run that recorded none (or predates the record) falls back to the tokenizer's, saying so.
    const fs::path old_run = s.run_dir({{"train", {{"mode", "lora"}}}}, "old_run");
    std::string messages;
    const json fallback =
        json::parse(run_cli(train::run_generate,
                            {"--model", s.base.string(), "--max-new-tokens", "24", "--adapter",
                             old_run.string(), "--prompt", "Hello", "--chat", "--json"},
                            &messages));
    CHECK(fallback == chatml);
    CHECK_THAT(messages,
               Contains("old_run/adapter/slimtune_provenance.json records no chat template: "
                        "chat uses the tokenizer's own"));
    // eval reads chat records with it too.
    const json eval_recorded = s.eval({"--adapter", run.string()});
    CHECK(eval_recorded["loss"] ==
          s.eval({"--adapter", s.adapter.string(), "--chat-template", "alpaca"})["loss"]);
    CHECK(eval_recorded["loss"] != s.eval({"--adapter", s.adapter.string()})["loss"]);
}

TEST_CASE("generate without a tokenizer streams the ids", "[eval_adapter]") {
    const fs::path model = fs::path(SLIMTUNE_SOURCE_DIR) / "tests/fixtures/models/llama_gqa";
    const std::vector<std::string> a = {
        "--model",  model.string(), "--adapter",        (kAdapters / "llama_gqa_lora").string(),
        "--tokens", "1,5,9",        "--max-new-tokens", "6"};
    std::vector<std::string> as_json = a;
    as_json.push_back("--json");
    const json j = json::parse(run_cli(train::run_generate, as_json));
    std::string ids;
    for (const json& id : j["tokens"])
        ids += (ids.empty() ? "" : ",") + std::to_string(id.get<int>());
    CHECK(run_cli(train::run_generate, a) == ids + "\n");
}

TEST_CASE("a full fine-tuning run works as --model and as --adapter", "[eval_adapter]") {
    const Setup s("llama_gqa", "llama_gqa_lora");
    // A stand-in for a full fine-tune's run directory: a whole model in model/.
    const fs::path run = s.tmp.path / "full_run";
    fs::create_directories(run);
    fs::rename(merged_export(s, s.adapter.string()), run / "model");
    std::ofstream(run / "model" / train::kProvenanceFile) << R"({"train": {"mode": "full"}})";
    const json direct =
        json::parse(run_cli(train::run_eval, {"--model", (run / "model").string(), "--data",
                                              s.data.string(), "--json"}));
    const json as_model = json::parse(
        run_cli(train::run_eval, {"--model", run.string(), "--data", s.data.string(), "--json"}));
    const json as_adapter = s.eval({"--adapter", run.string()});
    const json both = s.eval({"--adapter", run.string(), "--compare-base"});
    CHECK(as_model["loss"] == direct["loss"]);
    CHECK(as_adapter["loss"] == direct["loss"]);
    CHECK(as_adapter["model"] == (run / "model").string());
    CHECK(both["fine_tuned"]["loss"] == direct["loss"]);
    CHECK(both["base"]["loss"] == s.eval({})["loss"]);
}

TEST_CASE("a bad --adapter is a one-line error naming the file", "[eval_adapter]") {
    const Setup s("llama_gqa", "llama_gqa_lora");
    // GPT-2's c_attn/c_proj are not layers of a Llama.
    const std::string names = error_of<ConfigError>(
        train::run_eval, s.args({"--adapter", (kAdapters / "gpt2_lora").string()}));
    CHECK_THAT(names, Contains("gpt2_lora/adapter_config.json: lora: targets 'c_attn,c_proj' "
                               "match no linear layer of this llama model"));
    // The same from a run directory, in one line too.
    const fs::path bad_run = s.tmp.path / "bad_run";
    fs::create_directories(bad_run);
    fs::copy(kAdapters / "gpt2_lora", bad_run / "adapter", fs::copy_options::recursive);
    CHECK_THAT(
        error_of<ConfigError>(train::run_generate, {"--model", s.base.string(), "--adapter",
                                                    bad_run.string(), "--prompt", "Hi", "--chat"}),
        Contains("bad_run/adapter/adapter_config.json: lora: targets 'c_attn,c_proj'"));
    // Same names, other shapes: the Llama adapter on a narrower Llama.
    const fs::path smollm = fs::path(SLIMTUNE_SOURCE_DIR) / "tests/fixtures/models/smollm";
    const std::string shapes =
        error_of<FormatError>(train::run_generate, {"--model", smollm.string(), "--adapter",
                                                    s.adapter.string(), "--tokens", "1,2"});
    CHECK_THAT(shapes, Contains("llama_gqa_lora/adapter_model.safetensors: "
                                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight "
                                "has shape [4, 64], expected [4, 48]"));
    // Not an adapter at all, a missing one, and an adapter given as --model.
    const std::string neither =
        error_of<ConfigError>(train::run_eval, s.args({"--adapter", s.tmp.str()}));
    CHECK_THAT(neither,
               Contains("not a PEFT adapter (no adapter_config.json), nor a training run"));
    CHECK_THAT(error_of<ConfigError>(train::run_eval, s.args({"--adapter", s.tmp.file("nowhere")})),
               Contains("nowhere: no such directory"));
    CHECK_THAT(error_of<ConfigError>(train::run_eval,
                                     {"--model", s.adapter.string(), "--data", s.data.string()}),
               Contains("is a PEFT adapter: pass it as --adapter"));
    CHECK_THAT(error_of<ConfigError>(train::run_eval, s.args({"--compare-base"})),
               Contains("--compare-base compares a fine-tuning with its base: pass --adapter"));
    for (const std::string& m : {names, shapes, neither})
        CHECK(m.find('\n') == std::string::npos);
}

TEST_CASE("inspect describes a GGUF LoRA adapter written by export", "[eval_adapter]") {
    const Setup s("llama_gqa", "llama_gqa_lora");
    const json provenance = {{"dataset",
                              {{"train_file", "curated/curated.jsonl"},
                               {"manifest_sha256", "5eed"},
                               {"documents_in", 40},
                               {"documents_out", 34}}},
                             {"train", {{"mode", "lora"}}}};
    train::ExportOptions o;
    o.model_dir = s.base.string();
    o.adapter_dir = s.run_dir(provenance).string(); // a run directory: export resolves it too
    o.format = "gguf-lora";
    o.out = s.tmp.file("notes-lora.gguf");
    const std::string gguf = export_to(o).string();

    const json j = json::parse(run_cli(train::run_inspect, {gguf, "--json"}));
    INFO(j.dump(2));
    CHECK(j["type"] == "adapter");
    CHECK(j["adapter_type"] == "lora");
    CHECK(j["architecture"] == "llama");
    CHECK(j["alpha"] == 8.0);                 // layer 0's q_proj: lora_alpha 8 at rank 4
    CHECK(j["ranks"] == json::array({2, 4})); // rank_pattern: v_proj 2
    REQUIRE(j["targets"].size() == 4);        // q and v of 2 layers
    CHECK(j["targets"][0] ==
          json{{"tensor", "blk.0.attn_q.weight"}, {"rank", 4}, {"in", 64}, {"out", 64}});
    CHECK(j["targets"][1] ==
          json{{"tensor", "blk.0.attn_v.weight"}, {"rank", 2}, {"in", 64}, {"out", 32}});
    CHECK(j["provenance"]["general.name"] == "run");
    CHECK(j["provenance"]["general.dataset.0.manifest_sha256"] == "5eed");
    CHECK(j["provenance"]["general.dataset.0.documents_out"] == "34");
    CHECK(j["provenance"]["general.finetune"] == "lora");
    CHECK(j["provenance"].contains("general.base_model.0.name"));
    CHECK_FALSE(j["provenance"].contains("general.file_type"));

    const std::string text = run_cli(train::run_inspect, {gguf});
    CHECK_THAT(text, Contains("GGUF lora adapter (not a model: llama.cpp applies it to a base "
                              "llama model with --lora)"));
    CHECK_THAT(text, Contains("alpha 8, rank 2, 4; 4 target tensors"));
    CHECK_THAT(text, Contains("  blk.1.attn_v.weight  rank 2, 64 -> 32\n"));
    CHECK_THAT(text, Contains("  general.dataset.0.manifest_sha256 = 5eed\n"));
}

TEST_CASE("inspect prints GGUF metadata values as text", "[eval_adapter]") {
    using io::GgufValue;
    CHECK(io::gguf_value_text(GgufValue::str("notes")) == "notes");
    CHECK(io::gguf_value_text(GgufValue::f32(8.0f)) == "8");
    CHECK(io::gguf_value_text(GgufValue::i8(-3)) == "-3");
    CHECK(io::gguf_value_text(GgufValue::boolean(true)) == "true");
    CHECK(io::gguf_value_text(GgufValue::array_bool({true, false})) == "[true, false]");
    CHECK(io::gguf_value_text(GgufValue::array_str({"a", "b"})) == "[a, b]");
    CHECK(io::gguf_value_text(GgufValue::array_u32({1, 2, 3, 4, 5, 6, 7, 8, 9, 10})) ==
          "[1, 2, 3, 4, 5, 6, 7, 8, ... (10 items)]");
    CHECK(io::gguf_value_text(GgufValue::array_arr(
              {GgufValue::array_i32({1}), GgufValue::array_i32({2, 3})})) == "[[1], [2, 3]]");
}

TEST_CASE("the adapter applies unmerged to 16-bit weights and to a GGUF base", "[eval_adapter]") {
    const Setup s("llama_gqa", "llama_gqa_lora");
    const std::string adapter = s.adapter.string();
    train::ExportOptions o;
    o.model_dir = s.base.string();
    o.types = {io::ExportType::F32};
    o.out = s.tmp.file("base.gguf");
    const std::string gguf = export_to(o).string();
    const json dir = s.eval({"--adapter", adapter});
    const json from_gguf =
        json::parse(run_cli(train::run_eval, {"--model", gguf, "--adapter", adapter, "--data",
                                              s.data.string(), "--json"}));
    CHECK(from_gguf["tokens"] == dir["tokens"]);
    CHECK(std::abs(from_gguf["loss"].get<double>() - dir["loss"].get<double>()) <= 1e-5);

    // BF16 projections kept in 16 bits (a merge would refuse them) give what float32 gives.
    const std::string bf16 =
        (fs::path(SLIMTUNE_SOURCE_DIR) / "tests/fixtures/models/llama_gqa_bf16").string();
    const std::string ids = s.tmp.file("ids.jsonl");
    std::ofstream(ids) << R"({"input_ids": [1, 5, 9, 13, 17, 21, 3]})"
                       << "\n";
    auto eval_bf16 = [&](const char* weights) {
        return json::parse(
            run_cli(train::run_eval, {"--model", bf16, "--adapter", adapter, "--data", ids,
                                      "--weights", weights, "--json"}));
    };
    const test::WidenBf16Scope widen; // exact products (the BF16 dot product rounds activations)
    const json stored = eval_bf16("stored"), widened = eval_bf16("float32");
    CHECK(std::abs(stored["loss"].get<double>() - widened["loss"].get<double>()) <= 1e-5);
}
