// A run's output directory and what a run writes besides its adapter: a reused directory is
// refused (and --overwrite replaces only a run's own files), a resume refuses a changed recipe
// and says when the run is finished, early stopping keeps the best weights, samples.jsonl holds
// decoded continuations, data/validation.jsonl the held-out records, log.every thins the
// metrics, and steps without a loss-bearing token are counted.
#include "common/error.h"
#include "model/io/safetensors.h"
#include "tests/test_util.h"
#include "tests/train/run_util.h"
#include "train/checkpoint_h5.h"
#include "train/early_stopping.h"
#include "train/evaluate.h"
#include "train/run.h"
#include "train/run_dir.h"
#include "train/samples.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

using namespace slimtune;
using nlohmann::json;
using slimtune::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const std::string& path) {
    std::vector<std::string> lines;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The llama_gqa checkpoint (vocabulary 160) with the tiny_letters tokenizer (35 ids) beside it:
// a model directory whose examples and samples are text.
std::string model_with_tokenizer(const TempDir& dir) {
    const fs::path m = dir.file("model");
    fs::create_directories(m);
    for (const char* f : {"config.json", "model.safetensors"})
        fs::copy_file(test::kModelFixtures + "llama_gqa/" + f, m / f);
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
        fs::copy_file(std::string(SLIMTUNE_SOURCE_DIR) + "/tests/fixtures/tokenizer/tiny_letters/" +
                          f,
                      m / f);
    return m.string();
}

} // namespace

TEST_CASE("a reused output directory is refused; a resume refuses a changed recipe",
          "[train][run_dir]") {
    TempDir dir("run_dir");
    const std::string data = test::curated(dir, "train", test::random_id_records(40, 9));
    const std::string out = dir.file("run");
    train::Recipe a = test::tiny_recipe(data, out);
    a.checkpoint.every = 4;
    a.eval.every = 4;
    a.data.validation_split = 0.1;
    std::ostringstream log;
    REQUIRE(train::run_training(a, {}, log).steps == 8);
    const std::string adapter = test::read_text(out + "/adapter/adapter_model.safetensors");
    const std::string metrics = test::read_text(out + "/metrics.jsonl");

    // The original failure: run B, another recipe, into A's directory. It must not start.
    train::Recipe b = a;
    b.trainer.optimizer.lr = 1e-2;
    CHECK_THROWS_WITH(train::run_training(b, {}, log),
                      Catch::Contains(out +
                                      ": not empty (adapter/ (4 entries), "
                                      "checkpoints/ (2 entries), data/ (1 entry), "
                                      "metrics.jsonl, recipe.ini, tokens/ (1 entry)); "
                                      "continue that run with --resume " +
                                      out + ", replace it with --overwrite"));
    // Nor may it continue A's checkpoint under its own recipe.
    CHECK_THROWS_WITH(
        train::run_training(b, {.resume = true}, log),
        Catch::Contains(out + "/checkpoints/step-8.h5: the recipe differs from the one this run "
                              "was trained with: optim.lr 0.005 -> 0.01; a resume may change "
                              "only train.max_steps, train.epochs"));
    b.trainer.lora.rank = 8;
    CHECK_THROWS_WITH(train::run_training(b, {.resume = true}, log),
                      Catch::Contains("lora.rank 4 -> 8, optim.lr 0.005 -> 0.01"));
    CHECK(test::read_text(out + "/adapter/adapter_model.safetensors") == adapter);
    CHECK(test::read_text(out + "/metrics.jsonl") == metrics);

    // A resume of the finished run says so and changes nothing; a higher max_steps extends it.
    const auto finished = train::run_training(a, {.resume = true}, log);
    CHECK(finished.nothing_to_do ==
          out +
              ": the run is finished (step 8 of 8); to train longer, resume with a higher "
              "train.max_steps (slimtune train --resume " +
              out + " --train.max_steps 16) or train.epochs");
    CHECK(test::read_text(out + "/metrics.jsonl") == metrics);
    train::Recipe longer = a;
    longer.train.max_steps = 12;
    longer.log.every = 2; // log.* and train.max_steps may change
    CHECK(train::run_training(longer, {.resume = true}, log).steps == 12);
    CHECK(test::read_json_lines(out + "/metrics.jsonl").back()["step"] == 12);

    // --overwrite never deletes what is not a run's own: refused, nothing removed.
    std::ofstream(out + "/notes.txt") << "mine\n";
    CHECK_THROWS_WITH(train::run_training(b, {.overwrite = true}, log),
                      Catch::Contains(out + ": --overwrite removes only a run's own files, and "
                                            "this directory also holds notes.txt"));
    CHECK(fs::exists(out + "/checkpoints/step-12.h5"));
    fs::remove(out + "/notes.txt");

    // With it, B replaces A: nothing of A is left.
    b.train.max_steps = 6;
    b.checkpoint.every = 3;
    std::ostringstream overwrite_log;
    CHECK(train::run_training(b, {.overwrite = true}, overwrite_log).steps == 6);
    CHECK_THAT(overwrite_log.str(), Catch::Contains("overwrite: removed adapter/ (4 entries), "
                                                    "checkpoints/ (2 entries), data/ (1 entry), "
                                                    "metrics.jsonl, recipe.ini, tokens/"));
    CHECK(test::entry_names(out + "/checkpoints") ==
          std::vector<std::string>{"step-3.h5", "step-6.h5"});
    const auto b_metrics = test::read_json_lines(out + "/metrics.jsonl");
    CHECK(b_metrics.back()["step"] == 6);
    CHECK(std::count_if(b_metrics.begin(), b_metrics.end(),
                        [](const json& j) { return j["step"] == 8; }) == 0);
    CHECK_THAT(train::read_train_checkpoint(out + "/checkpoints/step-6.h5").recipe,
               Catch::Contains("lr = 0.01"));
}

TEST_CASE("a resume writes the output a stopped run never wrote, without training further",
          "[train][run_dir]") {
    TempDir dir("run_output");
    const std::string data = test::curated(dir, "train", test::random_id_records(40, 9));
    const std::string out = dir.file("run");
    train::Recipe a = test::tiny_recipe(data, out);
    a.checkpoint.every = 4;
    std::ostringstream log;
    REQUIRE(train::run_training(a, {}, log).steps == 8);
    const std::string adapter = test::read_text(out + "/adapter/adapter_model.safetensors");

    // Killed after the final checkpoint, before adapter/ was written: the resume writes the
    // same adapter and trains no further step.
    fs::remove_all(out + "/adapter");
    const auto again = train::run_training(a, {.resume = true}, log);
    CHECK(again.nothing_to_do.empty());
    CHECK(again.steps == 8);
    CHECK(test::read_text(out + "/adapter/adapter_model.safetensors") == adapter);
    // With the adapter there, the run is finished.
    CHECK_FALSE(train::run_training(a, {.resume = true}, log).nothing_to_do.empty());

    // A run stopped at step 4 ends there with train.max_steps lowered to 4: the step-4 weights.
    const std::string out2 = dir.file("run2");
    train::Recipe b = test::tiny_recipe(data, out2);
    b.checkpoint.every = 4;
    REQUIRE(train::run_training(b, {.stop_after = 4}, log).interrupted);
    CHECK_FALSE(fs::exists(out2 + "/adapter"));
    b.train.max_steps = 4;
    const auto ended = train::run_training(b, {.resume = true}, log);
    CHECK(ended.steps == 4);
    CHECK(ended.weights_step == 4);
    CHECK(fs::exists(out2 + "/adapter/adapter_model.safetensors"));
}

TEST_CASE("the keys a resume may change are the documented ones", "[train][run_dir]") {
    CHECK(train::resume_may_change() ==
          std::vector<std::string>{"train.max_steps", "train.epochs", "train.threads",
                                   "train.output_dir", "data.train", "data.manifest", "model.name",
                                   "eval.*", "checkpoint.*", "log.*", "curate.*"});
    train::Recipe before, after;
    after.eval.every = 3;
    after.trainer.schedule.warmup_steps = 7;
    const auto diff = train::recipe_differences(before, after);
    REQUIRE(diff.size() == 2);
    CHECK((diff[0].key == "sched.warmup_steps" && diff[0].before == "0" && diff[0].after == "7"));
    CHECK(diff[1].key == "eval.every");
    // A stored recipe reads back equal, and keys of another version are ignored.
    const train::Recipe back =
        train::recipe_from_ini(after.to_ini() + "\n[future]\nkey = 1\n", "stored");
    CHECK(train::recipe_differences(after, back).empty());
}

TEST_CASE("early stopping follows transformers' rule", "[train][early_stopping]") {
    train::BestValidation best;
    CHECK(best.observe(2, 3.0, 0.1));
    CHECK_FALSE(best.observe(4, 2.95, 0.1)); // better, but not by more than min_delta
    CHECK(best.evals_since() == 1);
    CHECK(best.observe(6, 2.8, 0.1));
    CHECK_FALSE(best.observe(8, 2.9, 0.1));
    CHECK_FALSE(best.exhausted(2));
    CHECK_FALSE(best.observe(10, 2.85, 0.1));
    CHECK(best.exhausted(2));
    CHECK_FALSE(best.exhausted(0)); // 0: off
    std::map<std::string, double> metrics;
    best.save(metrics);
    const train::BestValidation back = train::BestValidation::load(metrics);
    CHECK((back.loss() == 2.8 && back.step() == 6 && back.evals_since() == 2));
}

TEST_CASE("early stopping ends a run whose validation loss rises, from the best weights",
          "[train][early_stopping]") {
    TempDir dir("early");
    // 6 training sequences seen over and over at a high learning rate: the model learns them
    // by heart, and its loss on other random sequences climbs after the first steps.
    const std::string data = test::curated(dir, "train", test::random_id_records(6, 21));
    const std::string validation = dir.file("validation.jsonl");
    {
        std::ofstream v(validation);
        for (const std::string& line : test::random_id_records(6, 22))
            v << line << "\n";
    }
    train::Recipe r = test::tiny_recipe(data, dir.file("run"));
    r.data.validation = validation;
    r.trainer.optimizer.lr = 5e-2;
    r.train.max_steps = 40;
    r.eval.every = 1;
    r.eval.early_stopping_patience = 3;
    r.checkpoint.every = 1;
    r.checkpoint.keep = 1; // rotation would delete the best checkpoint, but for keep_best
    r.checkpoint.keep_best = true;
    std::ostringstream log;
    const train::RunResult result = train::run_training(r, {}, log);

    // Where the rule says the run must stop, from the losses it logged.
    std::vector<std::pair<int64_t, double>> evals;
    for (const json& j : test::read_json_lines(dir.file("run/metrics.jsonl")))
        if (j.contains("eval_loss"))
            evals.emplace_back(j["step"].get<int64_t>(), j["eval_loss"].get<double>());
    REQUIRE(evals.size() >= 4);
    double best = evals[0].second;
    int64_t best_step = evals[0].first, expected_stop = 0, since = 0;
    for (size_t i = 1; i < evals.size() && expected_stop == 0; ++i) {
        if (evals[i].second < best) {
            best = evals[i].second;
            best_step = evals[i].first;
            since = 0;
        } else if (++since == 3) {
            expected_stop = evals[i].first;
        }
    }
    INFO(log.str());
    REQUIRE(expected_stop > 0);
    CHECK(expected_stop < 40); // it did stop early
    CHECK(result.early_stopped);
    CHECK(result.steps == expected_stop);
    CHECK(evals.back().first == expected_stop); // no evaluation after the stop
    CHECK(result.weights_step == best_step);
    CHECK_THAT(log.str(),
               Catch::Contains("early stopping at step " + std::to_string(expected_stop) +
                               ": no better validation loss for 3 evaluations"));
    CHECK_THAT(log.str(), Catch::Contains("the result holds the best weights, of step " +
                                          std::to_string(best_step)));

    // The best checkpoint survived rotation (keep = 1), beside the newest.
    const std::string best_ck = "step-" + std::to_string(best_step) + ".h5";
    CHECK(test::entry_names(dir.file("run/checkpoints")) ==
          std::vector<std::string>{best_ck, "step-" + std::to_string(expected_stop) + ".h5"});
    // The adapter holds the best checkpoint's weights, not the last ones.
    const train::TrainCheckpoint ck =
        train::read_train_checkpoint(dir.file("run/checkpoints/" + best_ck));
    const auto adapter =
        io::SafetensorsFile::open(dir.file("run/adapter/adapter_model.safetensors"));
    for (const train::NamedArray& t : ck.tensors) {
        const auto dot = t.name.rfind('.');
        const std::string key =
            "base_model.model." + t.name.substr(0, dot) + "." + t.name.substr(dot + 1) + ".weight";
        CHECK(adapter.read_f32(key) == t.values);
    }
    const json prov =
        json::parse(test::read_text(dir.file("run/adapter/slimtune_provenance.json")));
    CHECK(prov["train"]["early_stopped"] == true);
    CHECK(prov["train"]["weights_of_step"] == best_step);
    CHECK(prov["train"]["best_step"] == best_step);
    CHECK(prov["train"]["best_eval_loss"].get<double>() == Approx(best));

    // A resume says the run has ended, and how to go on.
    const auto again = train::run_training(r, {.resume = true}, log);
    CHECK_THAT(again.nothing_to_do,
               Catch::Contains("the run stopped early at step " + std::to_string(expected_stop)));
}

TEST_CASE("samples.jsonl holds N decoded greedy continuations of held-out prompts per "
          "evaluation",
          "[train][samples]") {
    TempDir dir("samples");
    const std::string model = model_with_tokenizer(dir);
    std::vector<std::string> records;
    for (const char* p : {"when is the round", "who reads the notes", "what is checked",
                          "where is the key", "how are notes signed", "who is on call"})
        records.push_back(json{{"prompt", p}, {"completion", " at eight and then again"}}.dump());
    const std::string data = test::curated(dir, "train", records);
    train::Recipe r = test::tiny_recipe(data, dir.file("run"));
    r.model.path = model;
    r.data.validation_split = 0.34; // 3 of 6 held out
    r.data.packing.seq_len = 64;
    r.trainer.optimizer.lr = 2e-2;
    r.train.max_steps = 4;
    r.eval.every = 2;
    r.eval.samples = 2;
    r.eval.sample_tokens = 8;
    std::ostringstream log;
    train::run_training(r, {}, log);

    const auto samples = test::read_json_lines(dir.file("run/samples.jsonl"));
    REQUIRE(samples.size() == 4); // 2 per evaluation: step 2 and the last, step 4
    const auto held = test::read_json_lines(dir.file("run/data/validation.jsonl"));
    REQUIRE(held.size() == 3);
    const data::Tokenizer tok = data::Tokenizer::load(model);
    std::string decoded;
    for (size_t i = 0; i < samples.size(); ++i) {
        const json& s = samples[i];
        CHECK(s["step"] == (i < 2 ? 2 : 4));
        CHECK(s["example"] == i % 2);
        // The prompt is the held-out record's prompt (the completion is what is learned).
        const std::string prompt = held[i % 2]["prompt"];
        CHECK(s["prompt"].get<std::string>().find(prompt) != std::string::npos);
        CHECK(s["prompt"].get<std::string>().find("eight") == std::string::npos);
        // The text is the generated ids, decoded.
        const auto tokens = s["tokens"].get<std::vector<int32_t>>();
        CHECK(!tokens.empty());
        CHECK(s["text"] == train::decode_known(tok, tokens, true));
        decoded += s["text"].get<std::string>();
    }
    CHECK(decoded.size() >= 4); // letters, once the ids in the tokenizer's range are learned
    CHECK_THAT(log.str(), Catch::Contains("sample: "));
}

TEST_CASE("a prompt is an example's tokens before its first loss-bearing label",
          "[train][samples]") {
    const std::vector<int32_t> ids = {1, 7, 8, 9, 4, 5, 2};
    const std::vector<int32_t> masked = {-100, -100, -100, -100, 4, 5, 2};
    CHECK(std::vector<int32_t>(train::example_prompt({ids, masked}).begin(),
                               train::example_prompt({ids, masked}).end()) ==
          std::vector<int32_t>{1, 7, 8, 9});
    // Learned whole (a text record): the first half stands in.
    CHECK(train::example_prompt({ids, ids}).size() == 3);
}

TEST_CASE("training writes its held-out records and counts those that repeat training ones",
          "[train][validation]") {
    TempDir dir("validation");
    const std::vector<std::string> records = test::random_id_records(40, 9);
    const std::string data = test::curated(dir, "train", records);
    const std::vector<std::string> curated_lines = lines_of(data);

    // The split: ceil(0.1 x 40) = 4 records of data.train, as they stand there.
    train::Recipe split = test::tiny_recipe(data, dir.file("split"));
    split.data.validation_split = 0.1;
    split.train.max_steps = 1;
    std::ostringstream log;
    train::run_training(split, {}, log);
    const std::vector<std::string> held = lines_of(dir.file("split/data/validation.jsonl"));
    REQUIRE(held.size() == 4);
    for (const std::string& line : held)
        CHECK(std::count(curated_lines.begin(), curated_lines.end(), line) == 1);
    CHECK(std::set<std::string>(held.begin(), held.end()).size() == 4);
    CHECK_THAT(log.str(), !Catch::Contains("validation examples are also training examples"));
    // It scores as the run's own validation did: `eval --data` and `export --eval-data` read it.
    Model m = load_model(test::kModelFixtures + "llama_gqa");
    CHECK(train::dataset_loss(m, dir.file("split/data/validation.jsonl"), {}).examples == 4);
    const json split_prov =
        json::parse(test::read_text(dir.file("split/adapter/slimtune_provenance.json")));
    CHECK(split_prov["validation"]["examples"] == 4);
    CHECK(split_prov["validation"]["overlap_with_train"] == 0);

    // A validation file with two training records in it: reported, and recorded.
    const std::string validation = dir.file("validation.jsonl");
    {
        std::ofstream v(validation);
        v << curated_lines[3] << "\n\n"
          << test::random_id_records(1, 77)[0] << "\n"
          << curated_lines[10] << "\n";
    }
    train::Recipe file = test::tiny_recipe(data, dir.file("file"));
    file.data.validation = validation;
    file.train.max_steps = 1;
    std::ostringstream file_log;
    train::run_training(file, {}, file_log);
    CHECK_THAT(file_log.str(), Catch::Contains("warning: 2 of 3 validation examples are also "
                                               "training examples"));
    CHECK(lines_of(dir.file("file/data/validation.jsonl")) ==
          std::vector<std::string>{curated_lines[3], test::random_id_records(1, 77)[0],
                                   curated_lines[10]});
    const json prov =
        json::parse(test::read_text(dir.file("file/adapter/slimtune_provenance.json")));
    CHECK(prov["validation"]["overlap_with_train"] == 2);
    CHECK(prov["validation"]["from"] == validation);
}

TEST_CASE("log.every thins metrics.jsonl; throughput counts all and loss-bearing tokens; steps "
          "without one are counted",
          "[train][metrics]") {
    TempDir dir("metrics");
    // Half the records learn nothing (every label masked); one record per step.
    std::vector<std::string> records = test::random_id_records(20, 31);
    for (size_t i = 0; i < records.size(); i += 2) {
        json j = json::parse(records[i]);
        j["labels"] = std::vector<int>(j["input_ids"].size(), -100);
        records[i] = j.dump();
    }
    const std::string data = test::curated(dir, "train", records);
    train::Recipe r = test::tiny_recipe(data, dir.file("every"));
    r.data.packing.batch_size = 1;
    r.data.packing.pack = false;
    r.train.grad_accum = 1;
    r.train.max_steps = 8;
    r.data.validation_split = 0.1;
    r.eval.every = 4;
    std::ostringstream log;
    train::run_training(r, {}, log);
    int64_t empty = 0;
    const auto all = test::read_json_lines(dir.file("every/metrics.jsonl"));
    for (const json& j : all)
        if (j.contains("loss")) {
            CHECK(j["tokens"].get<int64_t>() > j["trainable_tokens"].get<int64_t>());
            CHECK(j["tokens_per_s"].get<double>() >= j["trainable_tokens_per_s"].get<double>());
            empty += j["trainable_tokens"] == 0;
        }
    REQUIRE(empty > 0);
    CHECK_THAT(log.str(), Catch::Contains("warning: " + std::to_string(empty) +
                                          " of 8 steps had no loss-bearing token"));
    // The header, before step 1: PEFT's parameter line (rank 4 on q_proj (64 in, 64 out),
    // v_proj (64, 32) and down_proj (64, 64) in 2 blocks: 2 x 4 x (128 + 96 + 128) = 2,816;
    // the model's own 69,952 are embeddings 2 x 160 x 64, per block 5 x 64 x 64 + 2 x 32 x 64
    // + 2 x 64 norm weights, and the final norm), the effective batch, the data, the steps.
    const std::string text = log.str();
    CHECK_THAT(text, Catch::Contains("trainable params: 2,816 || all params: 72,768 || "
                                     "trainable%: 3.8698\n"));
    CHECK_THAT(text, Catch::Contains(
                         "effective batch: 1 sequences x 1 micro-batches x 32 tokens = 32 tokens "
                         "per step\ndata: 18 training examples ("));
    CHECK(text.find("trainable params") < text.find("step 1/8"));

    // log.every = 3: steps 3 and 6 and the last, and every evaluation.
    r.train.output_dir = dir.file("thin");
    r.log.every = 3;
    train::run_training(r, {}, log);
    std::vector<std::string> kinds;
    for (const json& j : test::read_json_lines(dir.file("thin/metrics.jsonl")))
        kinds.push_back((j.contains("eval_loss") ? "eval " : "step ") + j["step"].dump());
    CHECK(kinds == std::vector<std::string>{"step 3", "eval 4", "step 6", "step 8", "eval 8"});
}
