// Recipes: INI parsing into typed fields, command-line overrides, the error messages (unknown
// key with a suggestion, wrong type, out of range, duplicates, missing paths), the shipped
// recipes, and to_ini() round trips.
#include "common/error.h"
#include "tests/test_util.h"
#include "train/provenance.h"
#include "train/recipe.h"
#include "train/run_dir.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

using namespace slimtune;
using Catch::Matchers::Contains;
using slimtune::test::TempDir;
using slimtune::train::load_recipe;
using slimtune::train::Recipe;

namespace {

// A temp dir holding a model directory, a training file, a validation file and a PEFT adapter
// directory, and recipes written next to them.
struct Fixture {
    TempDir dir{"recipe"};
    std::string model = dir.file("model"), train = dir.file("train.jsonl"),
                valid = dir.file("valid.jsonl"), adapter = dir.file("adapter");

    Fixture() {
        std::filesystem::create_directories(model);
        std::filesystem::create_directories(adapter);
        std::ofstream(train) << "{\"text\": \"hello\"}\n";
        std::ofstream(valid) << "{\"text\": \"bye\"}\n";
        std::ofstream(adapter + "/adapter_config.json") << "{}\n";
    }
    // Writes `body` after a [model]/[data] header naming the fixture's paths.
    std::string write(const std::string& name, const std::string& body) const {
        const std::string path = dir.file(name);
        std::ofstream(path) << "[model]\npath = " << model << "\n[data]\ntrain = " << train << "\n"
                            << body;
        return path;
    }
    // Writes `text` verbatim.
    std::string write_raw(const std::string& name, const std::string& text) const {
        const std::string path = dir.file(name);
        std::ofstream(path) << text;
        return path;
    }
};

template <class F> std::string config_error(F f) {
    try {
        f();
    } catch (const ConfigError& e) {
        return e.what();
    }
    FAIL("no ConfigError");
    return "";
}

} // namespace

TEST_CASE("recipe: a file parses to typed values, defaults for the rest", "[recipe]") {
    Fixture fx;
    const std::string path = fx.write("x.ini", R"(validation = )" + fx.valid + R"(
shuffle = false   # a trailing comment
text_field = content
chat_template = chatml
[lora]
rank = 16
alpha = 32.5
dropout = 0.1
targets = q_proj, k_proj ,v_proj
layers = 0,2,5
rank_pattern = q_proj=4,v_proj=32
alpha_pattern = q_proj=8
rslora = yes
init = )" + fx.adapter + R"(
[train]
max_steps = 100
epochs = 2.5
batch_size = 8
seq_len = 1024
grad_accum = 2
seed = 18446744073709551615
threads = 3
packing = off
[optim]
name = sgd
lr = 1e-3
betas = 0.8, 0.95
eps = 1e-6
weight_decay = 0.01
momentum = 0.9
max_grad_norm = 0
[sched]
name = linear
warmup_steps = 10
min_lr_ratio = 0.1
[eval]
every = 50
max_batches = 7
[checkpoint]
every = 25
keep = 3
[log]
every = 5
)");
    const Recipe r = load_recipe(path, {});
    CHECK(r.source == path);
    CHECK(r.model.path == fx.model);
    CHECK(r.data.train == fx.train);
    CHECK(r.data.validation == fx.valid);
    CHECK(r.data.validation_split == 0.0);
    CHECK_FALSE(r.data.shuffle);
    CHECK(r.data.examples.record.text_field == "content");
    CHECK(r.data.chat_template == "chatml");
    CHECK(r.trainer.lora.rank == 16);
    CHECK(r.trainer.lora.alpha == 32.5);
    CHECK(r.trainer.lora.dropout == 0.1);
    CHECK(r.trainer.lora.targets == std::vector<std::string>{"q_proj", "k_proj", "v_proj"});
    CHECK(r.trainer.lora.target_regex.empty());
    CHECK(r.trainer.lora.layers == std::vector<int64_t>{0, 2, 5});
    CHECK(r.trainer.lora.rank_pattern ==
          std::map<std::string, int64_t>{{"q_proj", 4}, {"v_proj", 32}});
    CHECK(r.trainer.lora.alpha_pattern == std::map<std::string, double>{{"q_proj", 8.0}});
    CHECK(r.trainer.lora.rslora);
    CHECK(r.trainer.lora_init == fx.adapter);
    CHECK(r.trainer.mode == "lora");
    CHECK(r.train.max_steps == 100);
    CHECK(r.train.epochs == 2.5);
    CHECK(r.data.packing.batch_size == 8);
    CHECK(r.data.packing.seq_len == 1024);
    CHECK(r.train.grad_accum == 2);
    CHECK(r.trainer.seed == 18446744073709551615ull);
    CHECK(r.train.threads == 3);
    CHECK(r.train.output_dir == "runs/x"); // from the recipe's file name
    CHECK_FALSE(r.data.packing.pack);
    CHECK(r.trainer.optimizer.name == "sgd");
    CHECK(r.trainer.optimizer.lr == 1e-3);
    CHECK(r.trainer.optimizer.beta1 == 0.8);
    CHECK(r.trainer.optimizer.beta2 == 0.95);
    CHECK(r.trainer.optimizer.eps == 1e-6);
    CHECK(r.trainer.optimizer.weight_decay == 0.01);
    CHECK(r.trainer.optimizer.momentum == 0.9);
    CHECK(r.trainer.max_grad_norm == 0.0);
    CHECK(r.trainer.schedule.name == "linear");
    CHECK(r.trainer.schedule.warmup_steps == 10);
    CHECK(r.trainer.schedule.min_lr_ratio == 0.1);
    CHECK(r.eval.every == 50);
    CHECK(r.eval.max_batches == 7);
    CHECK(r.checkpoint.every == 25);
    CHECK(r.checkpoint.keep == 3);
    CHECK(r.log.every == 5);

    // Only the required keys: everything else is the documented default.
    Recipe d = load_recipe(fx.write("minimal.ini", ""), {});
    Recipe expected;
    expected.source = d.source;
    expected.model.path = fx.model;
    expected.data.train = fx.train;
    expected.train.output_dir = "runs/minimal";
    CHECK(d == expected);
    CHECK(d.trainer.lora.targets == std::vector<std::string>{"q_proj", "v_proj"});
    CHECK(d.trainer.optimizer.lr == 2e-4);
    CHECK(d.trainer.schedule.name == "cosine");
}

TEST_CASE("recipe: command-line overrides win over the file", "[recipe]") {
    Fixture fx;
    const std::string path = fx.write("x.ini", "[lora]\nrank = 8\n[optim]\nlr = 2e-4\n");
    const Recipe r = load_recipe(path, {"--lora.rank", "32", "--optim.lr=1e-3", "--train.mode",
                                        "full", "--train.trainable=layers.1,norm",
                                        "--train.output_dir", "out/here", "--lora.rank=64"});
    CHECK(r.trainer.lora.rank == 64); // the last one wins
    CHECK(r.trainer.optimizer.lr == 1e-3);
    CHECK(r.trainer.mode == "full");
    CHECK(r.trainer.trainable == std::vector<std::string>{"layers.1", "norm"});
    CHECK(r.train.output_dir == "out/here");
    // Overrides can supply the required keys.
    const std::string bare = fx.write_raw("bare.ini", "[lora]\nrank = 4\n");
    const Recipe b = load_recipe(bare, {"--model.path", fx.model, "--data.train=" + fx.train});
    CHECK(b.model.path == fx.model);
    CHECK(b.trainer.lora.rank == 4);
    // A regex replaces the default targets.
    const Recipe g = load_recipe(path, {"--lora.target_regex", ".*\\.(q|v)_proj"});
    CHECK(g.trainer.lora.target_regex == ".*\\.(q|v)_proj");
    CHECK(g.trainer.lora.targets.empty());
}

TEST_CASE("recipe: unknown keys name the place and the closest key", "[recipe]") {
    Fixture fx;
    const std::string path = fx.write("x.ini", "[lora]\nalpha = 16\nrnak = 8\n");
    auto msg = config_error([&] { load_recipe(path, {}); });
    CHECK_THAT(msg, Contains("unknown key 'lora.rnak'") && Contains(path + ":7") &&
                        Contains("did you mean 'lora.rank'?"));
    // The right name in the wrong section.
    msg = config_error([&] { load_recipe(fx.write("y.ini", "[train]\nlr = 1e-3\n"), {}); });
    CHECK_THAT(msg, Contains("'train.lr'") && Contains("did you mean 'optim.lr'?"));
    // From the command line.
    msg = config_error([&] { load_recipe(fx.write("z.ini", ""), {"--optim.weight_decy", "0"}); });
    CHECK_THAT(msg, Contains("'optim.weight_decy' on the command line") &&
                        Contains("did you mean 'optim.weight_decay'?"));
    // Nothing close: the sections instead.
    msg = config_error([&] { load_recipe(fx.write("w.ini", "[foo]\nbarbaz = 1\n"), {}); });
    CHECK_THAT(msg, Contains("'foo.barbaz'") && Contains("valid sections are model, data"));
    // A template slimtune does not know, a model name that is no Hub id (issue 15).
    CHECK_THROWS_AS(load_recipe(fx.write("t.ini", "[data]\nchat_template = vicuna\n"), {}),
                    UsageError);
    msg = config_error(
        [&] { load_recipe(fx.write("t.ini", "[data]\nchat_template = vicuna\n"), {}); });
    CHECK_THAT(msg, Contains("data.chat_template: unknown template 'vicuna'; expected auto, "
                             "chatml, qwen3, llama3, gemma, llama2, alpaca"));
    msg = config_error([&] { load_recipe(fx.write("n.ini", ""), {"--model.name", "my model"}); });
    CHECK_THAT(msg, Contains("model.name: 'my model' is not a Hugging Face Hub model id"));
    CHECK(
        load_recipe(fx.write("a.ini", "[data]\nchat_template =\n"), {}).data.chat_template.empty());
}

TEST_CASE("recipe: wrong types and out-of-range values name key, value and expectation",
          "[recipe]") {
    Fixture fx;
    struct Case {
        std::string body, key, value, expected;
    };
    const std::vector<Case> cases = {
        {"[lora]\nrank = eight\n", "lora.rank", "'eight'", "an integer in [1, 16384]"},
        {"[lora]\nrank = 0\n", "lora.rank", "'0'", "an integer in [1, 16384]"},
        {"[lora]\nrank = 8.5\n", "lora.rank", "'8.5'", "an integer in [1, 16384]"},
        {"[lora]\nalpha = -1\n", "lora.alpha", "'-1'", "a number > 0"},
        {"[lora]\ndropout = 1\n", "lora.dropout", "'1'", "a number in [0, 1)"},
        {"[lora]\nrslora = maybe\n", "lora.rslora", "'maybe'", "true or false"},
        {"[lora]\nlayers = 0,x\n", "lora.layers", "'0,x'", "integers >= 0"},
        {"[lora]\nrank_pattern = q_proj:4\n", "lora.rank_pattern", "'q_proj:4'", "name=integer"},
        {"[lora]\nalpha_pattern = q_proj=0\n", "lora.alpha_pattern", "'q_proj=0'", "> 0"},
        {"[data]\nvalidation_split = 1.0\n", "data.validation_split", "'1.0'", "[0, 1)"},
        {"[train]\nseq_len = 1\n", "train.seq_len", "'1'", "an integer in [2, 1048576]"},
        {"[train]\nepochs = 0\n", "train.epochs", "'0'", "a number in (0, 1e6]"},
        {"[train]\nthreads = -1\n", "train.threads", "'-1'", "an integer >= 0"},
        {"[train]\nseed = -5\n", "train.seed", "'-5'", "an integer >= 0"},
        {"[train]\nmode = qlora\n", "train.mode", "'qlora'", "one of lora full"},
        {"[optim]\nlr = fast\n", "optim.lr", "'fast'", "a number > 0"},
        {"[optim]\nlr = nan\n", "optim.lr", "'nan'", "a number > 0"},
        {"[optim]\nbetas = 0.9\n", "optim.betas", "'0.9'", "two numbers in [0, 1)"},
        {"[optim]\nbetas = 0.9,1.5\n", "optim.betas", "'0.9,1.5'", "two numbers in [0, 1)"},
        {"[sched]\nname = step\n", "sched.name", "'step'", "one of constant linear cosine"},
        {"[sched]\nmin_lr_ratio = 2\n", "sched.min_lr_ratio", "'2'", "a number in [0, 1]"},
        {"[checkpoint]\nkeep = 0\n", "checkpoint.keep", "'0'", "an integer > 0"},
        {"[log]\nevery = 0\n", "log.every", "'0'", "an integer > 0"},
    };
    for (const auto& c : cases) {
        INFO(c.body);
        const auto msg = config_error([&] { load_recipe(fx.write("t.ini", c.body), {}); });
        CHECK_THAT(msg, Contains(c.key) && Contains(c.value) && Contains(c.expected) &&
                            Contains("t.ini:"));
    }
    const auto msg = config_error([&] {
        load_recipe(fx.write("t.ini", ""), {"--lora.rank", "eight"});
    });
    CHECK_THAT(msg, Contains("command line: lora.rank: not an integer; expected an integer in "
                             "[1, 16384], got 'eight'"));
}

TEST_CASE("recipe: duplicate keys, missing paths and conflicting keys", "[recipe]") {
    Fixture fx;
    auto msg = config_error([&] { load_recipe(fx.dir.file("absent.ini"), {}); });
    CHECK_THAT(msg, Contains("absent.ini"));
    msg = config_error(
        [&] { load_recipe(fx.write("dup.ini", "[lora]\nrank = 8\nalpha = 1\nrank = 16\n"), {}); });
    CHECK_THAT(msg,
               Contains("dup.ini:8") && Contains("lora.rank given twice") && Contains("line 6"));
    msg =
        config_error([&] { load_recipe(fx.write_raw("nomodel.ini", "[data]\ntrain = x\n"), {}); });
    CHECK_THAT(msg, Contains("model.path: required"));
    msg = config_error([&] {
        load_recipe(fx.write("m.ini", ""), {"--model.path", fx.dir.file("nowhere")});
    });
    CHECK_THAT(msg, Contains("model.path: no such directory: " + fx.dir.file("nowhere")));
    msg = config_error([&] {
        load_recipe(fx.write("d.ini", ""), {"--data.train", fx.dir.file("no.jsonl")});
    });
    CHECK_THAT(msg, Contains("data.train: no such file: " + fx.dir.file("no.jsonl")));
    // Describing a run (--print-config) does not need its files yet, but keeps every rule.
    const Recipe described = load_recipe(
        fx.write("d.ini", ""),
        {"--model.path", fx.dir.file("nowhere"), "--data.train", fx.dir.file("no.jsonl")},
        train::RecipeUse::describe);
    CHECK(described.model.path == fx.dir.file("nowhere"));
    msg = config_error([&] {
        load_recipe(fx.write("d.ini", ""), {"--data.train", "", "--model.path", "x"},
                    train::RecipeUse::describe);
    });
    CHECK_THAT(msg, Contains("data.train: required"));
    msg = config_error(
        [&] { load_recipe(fx.write("v.ini", "validation = " + fx.model + "\n"), {}); });
    CHECK_THAT(msg, Contains("data.validation: no such file"));
    msg = config_error([&] {
        load_recipe(fx.write("vs.ini", "validation = " + fx.valid + "\nvalidation_split = 0.1\n"),
                    {});
    });
    CHECK_THAT(msg, Contains("data.validation_split") && Contains("data.validation"));
    msg = config_error(
        [&] { load_recipe(fx.write("i.ini", "[lora]\ninit = " + fx.model + "\n"), {}); });
    CHECK_THAT(msg, Contains("lora.init") && Contains("adapter_config.json"));
    msg = config_error([&] {
        load_recipe(fx.write("re.ini", "[lora]\ntargets = q_proj\ntarget_regex = .*q_proj\n"), {});
    });
    CHECK_THAT(msg, Contains("lora.target_regex") && Contains("lora.targets"));
    msg = config_error(
        [&] { load_recipe(fx.write("al.ini", "[lora]\ntargets = all-linear,q_proj\n"), {}); });
    CHECK_THAT(msg, Contains("lora.targets") && Contains("all-linear"));
    msg = config_error([&] {
        load_recipe(fx.write("w.ini", "[sched]\nwarmup_steps = 5\nwarmup_ratio = 0.1\n"), {});
    });
    CHECK_THAT(msg, Contains("sched.warmup_ratio") && Contains("sched.warmup_steps"));
    msg = config_error([&] { load_recipe(fx.write("tr.ini", "[train]\ntrainable = norm\n"), {}); });
    CHECK_THAT(msg, Contains("train.trainable") && Contains("full"));
    msg = config_error([&] { load_recipe(fx.write("mo.ini", "[optim]\nmomentum = 0.9\n"), {}); });
    CHECK_THAT(msg, Contains("optim.momentum") && Contains("sgd"));
    msg = config_error([&] { load_recipe(fx.write("s.ini", "[lora]\nrank 8\n"), {}); });
    CHECK_THAT(msg, Contains("s.ini"));
    msg = config_error([&] { load_recipe(fx.write("c.ini", ""), {"--lora.rank"}); });
    CHECK_THAT(msg, Contains("--lora.rank needs a value"));
    msg = config_error([&] { load_recipe(fx.write("c.ini", ""), {"lora.rank=4"}); });
    CHECK_THAT(msg, Contains("expected --section.key value"));
}

TEST_CASE("recipe: every shipped recipe parses", "[recipe]") {
    Fixture fx;
    const std::filesystem::path dir = std::string(SLIMTUNE_SOURCE_DIR) + "/recipes";
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".ini")
            names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"gemma-3-1b.ini", "gemma-3-270m.ini", "gpt2.ini",
                                            "llama-3.2-1b.ini", "pretrain-tiny.ini",
                                            "quickstart.ini", "qwen2.5-0.5b.ini",
                                            "smollm2-135m-full.ini", "smollm2-135m.ini"});
    // Pretraining from scratch and the quickstart's tiny model have their own rates and
    // batches (checked below).
    std::erase(names, "pretrain-tiny.ini");
    std::erase(names, "quickstart.ini");
    for (const auto& name : names) {
        INFO(name);
        const Recipe r = load_recipe((dir / name).string(),
                                     {"--model.path", fx.model, "--data.train", fx.train});
        CHECK(r.train.output_dir == "runs/" + std::filesystem::path(name).stem().string());
        CHECK(r.data.packing.batch_size == 4);
        CHECK(r.train.grad_accum == 4);
        CHECK(r.trainer.schedule.name == "cosine");
        CHECK(r.trainer.schedule.warmup_ratio >= 0.03);
        CHECK(r.trainer.schedule.warmup_ratio <= 0.1);
        CHECK(r.trainer.optimizer.lr == (r.trainer.mode == "full" ? 2e-5 : 2e-4));
        // No recipe names a template the model may lack: the tokenizer's own (issue 15).
        CHECK(r.data.chat_template == "auto");
        CHECK_FALSE(r.data.allow_template_markers_as_text);
        CHECK(train::is_hub_model_id(r.model.name));
    }
    const auto pretrain = load_recipe((dir / "pretrain-tiny.ini").string(),
                                      {"--model.path", fx.model, "--data.train", fx.train});
    CHECK(pretrain.trainer.mode == "full");
    CHECK(pretrain.train.output_dir == "runs/pretrain-tiny");
    CHECK(pretrain.trainer.optimizer.lr == 3e-3);
    CHECK(pretrain.data.packing.pack);
    CHECK(pretrain.train.max_steps == 1000);
    const auto quick =
        load_recipe((dir / "quickstart.ini").string(), {"--model.path", fx.model, "--data.train",
                                                        fx.train, "--data.validation", fx.valid});
    CHECK(quick.trainer.mode == "lora");
    CHECK(quick.trainer.lora.rank == 16);
    CHECK(quick.trainer.lora.targets.size() == 7);
    CHECK(quick.trainer.optimizer.lr == 2e-3);
    CHECK(quick.train.output_dir == "quickstart/run");
    CHECK(quick.curate.quality.min_words == 8);
    CHECK(quick.curate.quality.min_alpha_words_ratio == 0.5);
    const auto gpt2 = load_recipe((dir / "gpt2.ini").string(),
                                  {"--model.path", fx.model, "--data.train", fx.train});
    CHECK(gpt2.trainer.lora.rank == 8);
    CHECK(gpt2.trainer.lora.targets == std::vector<std::string>{"c_attn", "c_proj"});
    const auto smol = load_recipe((dir / "smollm2-135m.ini").string(),
                                  {"--model.path", fx.model, "--data.train", fx.train});
    CHECK(smol.trainer.lora.rank == 16);
    CHECK(smol.trainer.lora.targets.size() == 7);
    const auto full = load_recipe((dir / "smollm2-135m-full.ini").string(),
                                  {"--model.path", fx.model, "--data.train", fx.train});
    CHECK(full.trainer.mode == "full");
}

TEST_CASE("recipe: to_ini re-parses to an equal recipe", "[recipe]") {
    Fixture fx;
    const std::string path = fx.write("x.ini", R"(validation = )" + fx.valid + R"(
[lora]
rank = 12
alpha = 0.1
layers = 3,1
rank_pattern = q_proj=4,mlp.down_proj=2
alpha_pattern = q_proj=0.3
target_regex = .*layers\.[0-9]+\.self_attn\.(q|v)_proj
[train]
seed = 7
[optim]
lr = 3e-4
betas = 0.85,0.999
eps = 1.5e-7
[sched]
warmup_ratio = 0.06
min_lr_ratio = 0.05
)");
    for (const auto& overrides : {std::vector<std::string>{},
                                  {"--train.mode", "full", "--train.trainable", "norm,layers.0"},
                                  {"--lora.init", fx.adapter, "--optim.name=sgd",
                                   "--optim.momentum=0.9", "--train.output_dir", "o"}}) {
        const Recipe r = load_recipe(path, overrides);
        const std::string ini = r.to_ini();
        INFO(ini);
        Recipe back = load_recipe(fx.write_raw("back.ini", ini), {});
        CHECK(back.source != r.source);
        back.source = r.source;
        CHECK(back == r);
        CHECK(back.to_ini() == ini);
    }
}

TEST_CASE("recipe: key list and outputs", "[recipe]") {
    Fixture fx;
    const auto keys = train::recipe_key_docs();
    // 61 training keys (model.base_dtype, train.checkpoint_activations; optim.dampening,
    // optim.nesterov; model.name, data.allow_template_markers_as_text; eval.samples,
    // eval.sample_tokens, eval.early_stopping_patience, eval.early_stopping_min_delta,
    // checkpoint.keep_best) + 75 curate
    CHECK(keys.size() == 136);
    CHECK(std::count_if(keys.begin(), keys.end(),
                        [](const train::RecipeKeyDoc& k) { return k.section == "curate"; }) == 75);
    const Recipe r = load_recipe(fx.write("x.ini", "[checkpoint]\nkeep = 3\n"), {});
    const std::string ini = r.to_ini();
    std::set<std::string> sections;
    for (const train::RecipeSection& sec : train::recipe_sections())
        sections.insert(sec.name);
    for (const train::RecipeKeyDoc& k : keys) {
        INFO(k.name);
        CHECK(sections.count(k.section) == 1);
        CHECK(k.name.starts_with(k.section + "."));
        CHECK(ini.find("[" + k.section + "]") != std::string::npos);
        CHECK(ini.find("\n" + k.name.substr(k.section.size() + 1) + " =") != std::string::npos);
        CHECK(!k.expected.empty());
        CHECK(!k.help.empty());
    }
    const auto rank = std::find_if(keys.begin(), keys.end(), [](const train::RecipeKeyDoc& k) {
        return k.name == "lora.rank";
    });
    REQUIRE(rank != keys.end());
    CHECK(rank->default_value == "8");
    CHECK(rank->expected == "an integer in [1, 16384]");
    // An unknown section names the valid ones, from the same table.
    CHECK_THROWS_WITH(load_recipe(fx.write("s.ini", "[lroa]\nzzz = 1\n"), {}),
                      Contains("valid sections are model, data, lora") && Contains("curate"));
    const Recipe d =
        load_recipe(fx.write("d.ini", "[data]\nrole_map = human = user, bot=assistant\n"
                                      "format = sharegpt\non_bad_line = skip\n"),
                    {});
    CHECK(d.data.examples.record.role_map ==
          std::map<std::string, std::string>{{"bot", "assistant"}, {"human", "user"}});
    CHECK(d.data.examples.record.format == data::DatasetFormat::sharegpt);
    CHECK(d.data.examples.skip_bad_lines);
    CHECK_THROWS_WITH(load_recipe(fx.write("e.ini", "[data]\nrole_map = human\n"), {}),
                      Contains("data.role_map") && Contains("name=value"));
    CHECK_THROWS_WITH(load_recipe(fx.write("f.ini", "[data]\noverlong = cut\n"), {}),
                      Contains("data.overlong") && Contains("truncate drop"));
    const std::string out = train::describe_outputs(r);
    CHECK_THAT(out, Contains("runs/x/metrics.jsonl") && Contains("runs/x/checkpoints/step-N.h5") &&
                        Contains("newest 3") && Contains("runs/x/adapter/adapter_config.json") &&
                        Contains("adapter_model.safetensors") && Contains("runs/x/recipe.ini"));
}

TEST_CASE("recipe: the [curate] section, alone or in a training recipe", "[recipe]") {
    Fixture fx;
    // A curate-only recipe needs no model or data; overrides win.
    const Recipe r = load_recipe(fx.write("c.ini", "[curate]\nquality.min_words = 5\n"
                                                   "repetition.top_ngram_max = 2=0.3,3=0.25\n"
                                                   "bias.skew_pairs = male:female,old:young\n"
                                                   "pii.extra = EMPLOYEE=EMP-[0-9]{6}\n"),
                                 {"--curate.dedup.bands", "20"}, train::RecipeUse::curate);
    CHECK(r.curate.quality.min_words == 5);
    CHECK(r.curate.repetition.top_ngram_max ==
          std::vector<std::pair<int, double>>{{2, 0.3}, {3, 0.25}});
    CHECK(r.curate.bias.skew_pairs.size() == 2);
    REQUIRE(r.curate.pii.detect.extra.size() == 1);
    CHECK(r.curate.pii.detect.extra[0].regex == "EMP-[0-9]{6}");
    CHECK(r.curate.dedup.minhash.bands == 20);
    // No recipe file: the defaults and the overrides.
    const Recipe d = load_recipe("", {"--curate.pii.policy=drop"}, train::RecipeUse::curate);
    CHECK(d.curate.pii.policy == "drop");
    CHECK(d.curate.quality.min_words == 50);
    // The section prints and reads back.
    const std::string ini = r.to_ini("curate");
    CHECK_THAT(ini,
               Contains("[curate]") && Contains("quality.min_words = 5") && !Contains("[model]"));
    CHECK(load_recipe(fx.write("back.ini", ini), {}, train::RecipeUse::curate)
              .curate.bias.skew_pairs == r.curate.bias.skew_pairs);
    CHECK(train::curate_settings(r)["dedup.bands"] == "20");
    // Bad values name the key.
    CHECK_THROWS_WITH(
        load_recipe("", {"--curate.repetition.top_ngram_max", "2=1.5"}, train::RecipeUse::curate),
        Contains("curate.repetition.top_ngram_max") && Contains("out of range"));
    CHECK_THROWS_WITH(
        load_recipe("", {"--curate.bias.skew_pairs", "male"}, train::RecipeUse::curate),
        Contains("group_a:group_b"));
    CHECK_THROWS_WITH(load_recipe("", {"--curate.quality.min_wrds", "3"}, train::RecipeUse::curate),
                      Contains("did you mean 'curate.quality.min_words'"));
}

TEST_CASE("recipe: samples, early stopping and the best checkpoint need validation data",
          "[recipe]") {
    Fixture fx;
    const std::string path = fx.write("v.ini", "");
    for (const std::string key :
         {"eval.samples", "eval.early_stopping_patience", "checkpoint.keep_best"}) {
        INFO(key);
        const std::string value = key == "checkpoint.keep_best" ? "true" : "2";
        CHECK_THAT(config_error([&] {
                       load_recipe(path, {"--" + key, value, "--eval.every", "5"});
                   }),
                   Contains(key + ": needs validation data; set data.validation or "
                                  "data.validation_split"));
        CHECK_NOTHROW(load_recipe(
            path, {"--" + key, value, "--eval.every", "5", "--data.validation_split", "0.1"}));
    }
    CHECK_THAT(config_error([&] {
                   load_recipe(path, {"--eval.early_stopping_patience", "3", "--data.validation",
                                      fx.valid});
               }),
               Contains("eval.early_stopping_patience: needs evaluations during the run; set "
                        "eval.every"));
}
