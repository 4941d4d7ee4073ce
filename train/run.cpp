#include "train/run.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/examples.h"
#include "data/token_store.h"
#include "model/io/save_model.h"
#include "train/checkpoint_h5.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <omp.h>
#include <ostream>
#include <unistd.h>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<bool> g_stop{false};

// 0..n-1 in a seeded Fisher-Yates order: the same order on every run and every resume.
std::vector<size_t> seeded_permutation(size_t n, Rng rng) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    for (size_t i = n; i > 1; --i)
        std::swap(order[i - 1], order[rng.next_u64() % i]);
    return order;
}

data::PackingOptions packing_options(const RunConfig& c) {
    return {.seq_len = c.seq_len,
            .batch_size = c.batch_size,
            .pack = c.packing,
            .drop_overlong = c.drop_overlong};
}

// The packing plan of one epoch: the training examples (`pool`, indices into the store) in
// their seeded order. A pure function of the epoch number, so a resumed run rebuilds exactly
// the batches it left. Batches are built one at a time from the memory-mapped store.
data::PackPlan epoch_plan(const data::TokenStore& store,
                          const std::vector<size_t>& pool,
                          const RunConfig& c,
                          int64_t epoch) {
    std::vector<size_t> order = pool;
    if (c.shuffle) {
        const std::vector<size_t> perm =
            seeded_permutation(pool.size(), Rng(c.trainer.seed ^ 0x73687566666c65ULL,
                                                static_cast<uint64_t>(epoch) << 40));
        for (size_t j = 0; j < perm.size(); ++j)
            order[j] = pool[perm[j]];
    }
    return data::plan_packing(
        order, [&](size_t i) { return store.length(i); }, packing_options(c));
}

std::function<data::ExampleView(size_t)> views_of(const data::TokenStore& store) {
    return [&store](size_t i) { return data::ExampleView{store.ids(i), store.labels(i)}; };
}

std::string format_duration(double s) {
    char buf[32];
    const auto t = static_cast<long long>(s);
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t / 60) % 60);
    else
        std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
    return buf;
}

void append_line(const std::string& path, const json& j) {
    std::ofstream out(path, std::ios::app);
    out << j.dump() << "\n";
    if (!out)
        throw Error(path + ": cannot append");
}

} // namespace

void request_stop() {
    g_stop = true;
}

RunResult run_training(const RunConfig& c, bool resume, std::ostream& progress) {
    g_stop = false;
    if (c.threads > 0)
        omp_set_num_threads(c.threads);
    if (c.output_dir.empty())
        throw ConfigError("train.output_dir is empty");
    // The curation gate, before anything is written.
    std::string manifest_sha256;
    json provenance = json::object();
    if (c.require_curated) {
        const data::curate::CuratedData d = data::curate::verify_curated(c.train_file, c.manifest);
        manifest_sha256 = d.manifest_sha256;
        json stages = json::array();
        for (const json& st : d.manifest.value("stages", json::array()))
            if (st.is_object())
                stages.push_back({{"name", st.value("name", "")},
                                  {"enabled", st.value("enabled", false)},
                                  {"dropped", st.value("dropped", 0)},
                                  {"modified", st.value("modified", 0)},
                                  {"added", st.value("added", 0)}});
        provenance["dataset"] = {
            {"train_file", c.train_file},
            {"manifest", d.manifest_path},
            {"manifest_sha256", d.manifest_sha256},
            {"curated_sha256", d.manifest["outputs"]["curated.jsonl"].value("sha256", "")},
            {"documents_in", d.manifest.value("counts", json::object()).value("documents_in", 0)},
            {"documents_out", d.manifest.value("counts", json::object()).value("documents_out", 0)},
            {"curated_by", d.manifest.value("slimtune_version", "")},
            {"stages", stages}};
    }
    provenance["base_model"] = c.model_path;
    std::error_code ec;
    fs::create_directories(c.output_dir, ec);
    if (ec)
        throw Error(c.output_dir + ": cannot create directory: " + ec.message());

    Model model = load_model(c.model_path);
    LoraConfig lora_cfg = c.trainer.lora;
    if (!c.lora_init.empty()) {
        if (c.trainer.mode != "lora")
            throw ConfigError("lora.init is set but train.mode is " + c.trainer.mode);
        lora_cfg = load_peft_adapter(model, c.lora_init);
    }

    // Tokenizer and chat template, when the model directory has them (pre-tokenized data
    // needs neither).
    std::unique_ptr<data::Tokenizer> tok;
    const fs::path mdir(c.model_path);
    if (fs::exists(mdir / "tokenizer.json", ec) || fs::exists(mdir / "vocab.json", ec))
        tok = std::make_unique<data::Tokenizer>(data::Tokenizer::load(c.model_path));
    data::ExampleOptions eo{.record = {.format = data::parse_dataset_format(c.format),
                                       .text_field = c.text_field,
                                       .role_map = c.role_map},
                            .tokenizer = tok.get(),
                            .chat_template = std::nullopt,
                            .vocab_size = model.cfg.vocab_size,
                            .train_on_all = c.train_on_all,
                            .skip_bad_lines = c.skip_bad_lines};
    if (tok && !c.chat_template.empty())
        eo.chat_template = data::chat_template_by_name(c.chat_template, tok->config());
    else if (tok && !tok->config().chat_template.empty())
        try {
            eo.chat_template = data::detect_chat_template(tok->config(), tok->source());
        } catch (const ConfigError&) {
            // Only chat examples need it; they report the missing template themselves.
        }
    // Tokenized once, in one streaming pass, into a memory-mapped store in the run directory:
    // memory does not grow with the dataset.
    fs::create_directories(fs::path(c.output_dir) / "tokens", ec);
    auto read_examples = [&](const std::string& path, const char* store_name) {
        data::ExampleStats st;
        data::TokenStore ex = data::TokenStore::build(
            path, eo, (fs::path(c.output_dir) / "tokens" / store_name).string(), &st);
        std::string formats;
        for (const auto& [name, n] : st.formats)
            formats += (formats.empty() ? "" : ", ") + std::to_string(n) + " " + name;
        progress << path << ": " << st.examples << " examples (" << formats << ")";
        if (st.bad_lines > 0) // skipped by data.on_bad_line = skip: counted, never silent
            progress << ", " << st.bad_lines
                     << " malformed lines skipped; the first: " << st.first_bad;
        progress << "\n";
        return ex;
    };
    const data::TokenStore train_store = read_examples(c.train_file, "train.bin");
    std::optional<data::TokenStore> val_file_store;
    std::vector<size_t> train_pool, val_pool; // example indices into their store
    if (!c.validation_file.empty()) {
        val_file_store.emplace(read_examples(c.validation_file, "validation.bin"));
        val_pool.resize(val_file_store->size());
        std::iota(val_pool.begin(), val_pool.end(), size_t{0});
    }
    {
        // A seeded split: the same examples are held out on every run and every resume.
        const size_t n = train_store.size();
        std::vector<bool> held(n, false);
        if (c.validation_file.empty() && c.validation_split > 0.0) {
            const auto want =
                static_cast<size_t>(std::ceil(c.validation_split * static_cast<double>(n)));
            const std::vector<size_t> idx =
                seeded_permutation(n, Rng(c.trainer.seed ^ 0x76616c6964ULL));
            for (size_t i = 0; i < want && i < idx.size(); ++i)
                held[idx[i]] = true;
        }
        for (size_t i = 0; i < n; ++i)
            (held[i] ? val_pool : train_pool).push_back(i);
    }
    if (train_pool.empty())
        throw ConfigError(c.train_file + ": no training examples");
    // Validation batches are built once (a validation set is small) and capped by
    // eval.max_batches.
    const data::TokenStore& val_store = val_file_store ? *val_file_store : train_store;
    std::vector<data::TokenBatch> val_batches;
    if (!val_pool.empty()) {
        const data::PackPlan vp = data::plan_packing(
            val_pool, [&](size_t i) { return val_store.length(i); }, packing_options(c));
        size_t nb = vp.batches();
        if (c.eval_max_batches > 0)
            nb = std::min(nb, static_cast<size_t>(c.eval_max_batches));
        for (size_t b = 0; b < nb; ++b)
            val_batches.push_back(data::make_batch(vp, b, views_of(val_store)));
    }

    data::PackPlan plan = epoch_plan(train_store, train_pool, c, 0);
    const data::PackingStats packed = plan.stats;
    if (packed.truncated + packed.dropped + packed.skipped > 0)
        progress << c.train_file << ": " << packed.truncated << " examples over " << c.seq_len
                 << " tokens truncated, " << packed.dropped << " dropped (data.overlong), "
                 << packed.skipped << " shorter than 2 tokens skipped\n";
    if (plan.batches() == 0)
        throw ConfigError(c.train_file + ": no training sequences left after packing");
    const auto per_epoch = static_cast<int64_t>(plan.batches());
    const int64_t steps_per_epoch = (per_epoch + c.grad_accum - 1) / c.grad_accum;
    const int64_t total =
        c.max_steps > 0
            ? c.max_steps
            : static_cast<int64_t>(std::ceil(c.epochs * static_cast<double>(steps_per_epoch)));
    TrainerConfig tc = c.trainer;
    tc.lora = lora_cfg;
    tc.total_steps = std::max<int64_t>(total, 1);
    if (c.warmup_ratio > 0.0) // as transformers: ceil(total * ratio)
        tc.schedule.warmup_steps =
            static_cast<int64_t>(std::ceil(c.warmup_ratio * static_cast<double>(tc.total_steps)));
    Trainer trainer(model, tc);

    const std::string metrics = (fs::path(c.output_dir) / "metrics.jsonl").string();
    int64_t epoch = 0, cursor = 0; // next batch: batch `cursor` of `epoch`
    if (resume) {
        const auto latest = latest_checkpoint(c.output_dir);
        if (!latest)
            throw ConfigError(c.output_dir + ": no checkpoint to resume from");
        const TrainCheckpoint ck = read_train_checkpoint(*latest);
        if (ck.dataset_manifest_sha256 != manifest_sha256)
            throw ConfigError(*latest + ": was trained on the dataset of manifest " +
                              (ck.dataset_manifest_sha256.empty()
                                   ? std::string("(none)")
                                   : ck.dataset_manifest_sha256.substr(0, 12) + "...") +
                              ", but " + c.train_file + " now comes with " +
                              (manifest_sha256.empty() ? std::string("(none)")
                                                       : manifest_sha256.substr(0, 12) + "...") +
                              "; resume needs the same curated data");
        for (const optim::ParamRef& p : trainer.params()) {
            const auto it = std::find_if(ck.tensors.begin(), ck.tensors.end(),
                                         [&](const NamedArray& a) { return a.name == p.name; });
            if (it == ck.tensors.end() ||
                it->values.size() != static_cast<size_t>(p.tensor.numel()))
                throw FormatError(*latest + ": no tensor '" + p.name +
                                  "' of the right size (was the recipe changed?)");
            Tensor dst = p.tensor; // a handle: writes go to the trainer's tensor
            std::memcpy(dst.data(), it->values.data(), it->values.size() * sizeof(float));
        }
        std::vector<optim::NamedBuffer> state;
        for (const NamedArray& a : ck.optimizer_state)
            state.push_back({a.name, a.values});
        trainer.optimizer().load_state(state, ck.optimizer_steps);
        if (ck.rng_state.size() != 2 || ck.data_cursor.size() != 2)
            throw FormatError(*latest + ": bad rng_state or data_cursor");
        trainer.dropout_rng() = Rng(ck.rng_state[0], ck.rng_state[1]);
        epoch = ck.data_cursor[0];
        cursor = ck.data_cursor[1];
        trainer.set_steps_done(ck.step);
        // Metrics logged after the checkpoint by the run that stopped are replayed now.
        std::ifstream old_metrics(metrics);
        std::string kept, line;
        while (std::getline(old_metrics, line)) {
            const json j = json::parse(line, nullptr, false);
            if (!j.is_discarded() && j.value("step", int64_t{0}) <= ck.step)
                kept += line + "\n";
        }
        write_file_atomic(metrics, [&](std::ostream& os) { os << kept; });
        if (epoch > 0)
            plan = epoch_plan(train_store, train_pool, c, epoch);
        progress << "resuming " << *latest << " at step " << ck.step << "\n";
    } else {
        std::ofstream(metrics, std::ios::trunc);
    }
    write_file_atomic((fs::path(c.output_dir) / "recipe.ini").string(),
                      [&](std::ostream& os) { os << c.recipe_text; });

    auto save = [&](const std::string& why) {
        TrainCheckpoint ck;
        ck.step = trainer.steps_done();
        ck.optimizer_steps = trainer.optimizer().steps();
        ck.schedule_position = static_cast<double>(trainer.steps_done());
        ck.rng_state = {trainer.dropout_rng().seed, trainer.dropout_rng().offset};
        ck.data_cursor = {epoch, cursor};
        ck.recipe = c.recipe_text;
        ck.dataset_manifest_sha256 = manifest_sha256;
        ck.slimtune_version = SLIMTUNE_VERSION_STRING;
        for (const optim::ParamRef& p : trainer.params())
            ck.tensors.push_back(
                {p.name, p.tensor.shape(),
                 std::vector<float>(p.tensor.values().begin(), p.tensor.values().end())});
        for (const optim::NamedBuffer& b : trainer.optimizer().state())
            ck.optimizer_state.push_back(
                {b.name, {static_cast<int64_t>(b.values.size())}, b.values});
        const std::string path = save_checkpoint_in_run(c.output_dir, ck, c.checkpoint_keep);
        progress << why << ": checkpoint " << path << "\n";
    };
    auto run_eval = [&]() -> std::optional<double> {
        if (val_batches.empty())
            return std::nullopt;
        int64_t n = 0;
        const double loss = trainer.evaluate(val_batches, &n);
        append_line(metrics, {{"step", trainer.steps_done()},
                              {"eval_loss", loss},
                              {"eval_ppl", std::exp(loss)},
                              {"eval_tokens", n}});
        progress << "eval at step " << trainer.steps_done() << ": loss " << loss << ", perplexity "
                 << std::exp(loss) << "\n";
        return loss;
    };

    const bool tty = &progress == &std::cout && isatty(STDOUT_FILENO);
    RunResult result;
    const auto t0 = Clock::now();
    int64_t tokens_seen = 0;
    const int64_t first_step = trainer.steps_done();
    std::vector<data::TokenBatch> micro;
    while (trainer.steps_done() < total) {
        micro.clear();
        for (int64_t k = 0; k < c.grad_accum; ++k) {
            if (cursor >= static_cast<int64_t>(plan.batches())) {
                ++epoch;
                cursor = 0;
                plan = epoch_plan(train_store, train_pool, c, epoch);
            }
            micro.push_back(
                data::make_batch(plan, static_cast<size_t>(cursor++), views_of(train_store)));
        }
        const StepStats s = trainer.step(micro);
        tokens_seen += s.tokens;
        result.last_loss = s.loss;
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        const double tps = elapsed > 0 ? static_cast<double>(tokens_seen) / elapsed : 0.0;
        append_line(metrics, {{"step", s.step},
                              {"loss", s.loss},
                              {"lr", s.lr},
                              {"grad_norm", s.grad_norm},
                              {"tokens", s.tokens},
                              {"epoch", epoch},
                              {"tokens_per_s", tps}});
        const int64_t done = s.step - first_step, left = total - s.step;
        const double eta =
            done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(left) : 0;
        if (tty) {
            const int width = 24;
            const int filled = static_cast<int>(width * s.step / total);
            char line[256];
            std::snprintf(line, sizeof line,
                          "\rstep %lld/%lld [%.*s%*s] loss %.4f lr %.2e %.0f tok/s ETA %s ",
                          static_cast<long long>(s.step), static_cast<long long>(total), filled,
                          "########################", width - filled, "", s.loss, s.lr, tps,
                          format_duration(eta).c_str());
            progress << line << std::flush;
        } else if (s.step % c.log_every == 0 || s.step == total) {
            char line[256];
            std::snprintf(line, sizeof line,
                          "step %lld/%lld loss %.4f lr %.3e grad_norm %.3f tokens/s %.0f ETA %s\n",
                          static_cast<long long>(s.step), static_cast<long long>(total), s.loss,
                          s.lr, s.grad_norm, tps, format_duration(eta).c_str());
            progress << line;
        }
        if (c.eval_every > 0 && s.step % c.eval_every == 0 && s.step < total) {
            if (tty)
                progress << "\n";
            result.eval_loss = run_eval();
        }
        if (c.checkpoint_every > 0 && s.step % c.checkpoint_every == 0 && s.step < total)
            save("step " + std::to_string(s.step));
        if (g_stop || (c.stop_after > 0 && s.step - first_step >= c.stop_after && s.step < total)) {
            if (tty)
                progress << "\n";
            save("interrupted");
            result.interrupted = true;
            result.steps = trainer.steps_done();
            return result;
        }
    }
    if (tty)
        progress << "\n";
    result.steps = trainer.steps_done();
    result.eval_loss = run_eval();
    save("done");
    // Provenance travels with the result: in the safetensors header and beside it.
    const std::map<std::string, std::string> metadata{
        {"slimtune.dataset_manifest_sha256", manifest_sha256}};
    if (trainer.config().mode == "lora") {
        result.output = (fs::path(c.output_dir) / "adapter").string();
        save_peft_adapter(model, lora_cfg, result.output, c.model_path, metadata);
    } else {
        result.output = (fs::path(c.output_dir) / "model").string();
        io::save_hf_model(model, c.model_path, result.output, metadata);
    }
    provenance["train"] = {{"steps", result.steps},
                           {"last_loss", result.last_loss},
                           {"eval_loss", result.eval_loss ? json(*result.eval_loss) : json()},
                           {"mode", trainer.config().mode}};
    provenance["recipe"] = c.recipe_text;
    write_file_atomic((fs::path(result.output) / "slimtune_provenance.json").string(),
                      [&](std::ostream& os) { os << provenance.dump(2) << "\n"; });
    progress << "wrote " << result.output << "\n";
    return result;
}

} // namespace slimtune::train
