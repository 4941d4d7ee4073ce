// A run, top to bottom (run_training at the end of this file):
//   1. the curation gate: the data must come with a manifest that vouches for it
//   2. the output directory: empty for a new run (or --overwrite), the checkpoint's recipe
//      compared with this one for a resume (train/run_dir.h); then the base model's hash and
//      the chat template (printed, checked, recorded), before anything is written
//   3. the model, its tokenizer and the training data; the held-out records written out
//   4. the trainer, started fresh or resumed from the newest checkpoint; the header
//   5. the step loop: metrics, progress, evaluation (samples, early stopping) and checkpoints
//      every N steps, stop requests
//   6. the end: a last evaluation and checkpoint, the adapter (with its card) or model (from
//      the best weights when early stopping ended the run) and its provenance
#include "train/run.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/text.h"
#include "data/curate/manifest.h"
#include "data/training_data.h"
#include "model/io/save_model.h"
#include "train/checkpoint_h5.h"
#include "train/early_stopping.h"
#include "train/model_card.h"
#include "train/progress.h"
#include "train/provenance.h"
#include "train/run_dir.h"
#include "train/samples.h"
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Where the next training batch comes from: batch `batch` of epoch `epoch`'s plan.
struct DataCursor {
    int64_t epoch = 0, batch = 0;
};

// What the data's curation says, carried into checkpoints, the adapter and exports.
struct Provenance {
    std::string manifest_sha256;
    json record = json::object(); // slimtune_provenance.json
};

void append_line(const std::string& path, const json& j) {
    std::ofstream out(path, std::ios::app);
    out << j.dump() << "\n";
    if (!out)
        throw Error(path + ": cannot append");
}

// 1. The curation gate, before anything is written: data.train must be vouched for by its
// manifest; its summary becomes the run's provenance.
Provenance check_curation(const Recipe& r) {
    const data::curate::CuratedData d = data::curate::verify_curated(r.data.train, r.data.manifest);
    json stages = json::array();
    for (const json& st : d.manifest.value("stages", json::array()))
        if (st.is_object())
            stages.push_back({{"name", st.value("name", "")},
                              {"enabled", st.value("enabled", false)},
                              {"dropped", st.value("dropped", 0)},
                              {"modified", st.value("modified", 0)},
                              {"added", st.value("added", 0)}});
    const json counts = d.manifest.value("counts", json::object());
    Provenance p{.manifest_sha256 = d.manifest_sha256};
    p.record["dataset"] = {
        {"train_file", r.data.train},
        {"manifest", d.manifest_path},
        {"manifest_sha256", d.manifest_sha256},
        {"curated_sha256", d.manifest["outputs"]["curated.jsonl"].value("sha256", "")},
        {"documents_in", counts.value("documents_in", 0)},
        {"documents_out", counts.value("documents_out", 0)},
        {"curated_by", d.manifest.value("slimtune_version", "")},
        {"stages", stages},
        // What the data was curated with, as its manifest says (the recipe's [curate] section
        // is not applied by training).
        {"curation", curation_record(d.manifest)}};
    return p;
}

// The base model: its directory, Hub id (model.name, else config.json) and weights' SHA-256.
void record_base_model(const Recipe& r, Provenance& prov) {
    const BaseModel b = describe_base_model(r.model.path, r.model.name);
    prov.record["base_model"] = b.path;
    prov.record["base_model_id"] = b.hub_id;
    prov.record["base_model_sha256"] = b.weights_sha256;
}

// The model directory's tokenizer, when it has one (pre-tokenized data needs none).
std::unique_ptr<data::Tokenizer> load_tokenizer(const Recipe& r) {
    std::error_code ec;
    const fs::path mdir(r.model.path);
    if (fs::exists(mdir / "tokenizer.json", ec) || fs::exists(mdir / "vocab.json", ec))
        return std::make_unique<data::Tokenizer>(data::Tokenizer::load(r.model.path));
    return nullptr;
}

// 3. The training data, read with the tokenizer (none: pre-tokenized) into stores under
// output_dir/tokens.
data::TrainingData
open_data(const Recipe& r, const Model& model, const data::Tokenizer* tok, std::ostream& progress) {
    const data::ExampleOptions eo =
        data::example_options(r.data.examples, r.data.chat_template, tok, model.cfg.vocab_size);
    return data::TrainingData::open(r.data, eo, r.trainer.seed, run_path(r, kTokensDir), progress);
}

// The held-out records, written as they were read (export --eval-data and eval --data take
// them), and how many repeat a training example (a warning, and a field of the provenance).
void record_validation(const data::TrainingData& d,
                       const Recipe& r,
                       Provenance& prov,
                       std::ostream& progress) {
    const std::string path = run_path(r, kValidationRecords);
    if (!d.write_validation_records(path))
        return;
    const int64_t overlap = d.validation_overlap();
    if (overlap > 0)
        progress << "warning: " << overlap << " of " << d.validation_size()
                 << " validation examples are also training examples (the same tokens): the "
                    "validation loss will look better than it is\n";
    prov.record["validation"] = {
        {"records", path},
        {"from", r.data.validation.empty()
                     ? "data.validation_split = " + std::to_string(r.data.validation_split) +
                           " of " + r.data.train
                     : r.data.validation},
        {"examples", d.validation_size()},
        {"overlap_with_train", overlap}};
}

// The optimizer steps of the run: train.max_steps, else train.epochs over the first epoch's
// batches (each step takes grad_accum of them).
struct StepPlan {
    int64_t per_epoch = 0, total = 0;
};

StepPlan plan_steps(const Recipe& r, const data::PackPlan& first_epoch, std::ostream& progress) {
    const data::PackingStats& packed = first_epoch.stats;
    if (packed.truncated + packed.dropped + packed.skipped > 0)
        progress << r.data.train << ": " << packed.truncated << " examples over "
                 << r.data.packing.seq_len << " tokens truncated, " << packed.dropped
                 << " dropped (data.overlong), " << packed.skipped
                 << " shorter than 2 tokens skipped\n";
    if (first_epoch.batches() == 0)
        throw ConfigError(r.data.train + ": no training sequences left after packing");
    const auto batches = static_cast<int64_t>(first_epoch.batches());
    StepPlan s{.per_epoch = (batches + r.train.grad_accum - 1) / r.train.grad_accum};
    s.total =
        r.train.max_steps > 0
            ? r.train.max_steps
            : static_cast<int64_t>(std::ceil(r.train.epochs * static_cast<double>(s.per_epoch)));
    s.total = std::max<int64_t>(s.total, 1);
    return s;
}

// What a bit-exact resume needs, taken from the trainer.
TrainCheckpoint checkpoint_of(Trainer& trainer,
                              DataCursor cursor,
                              const Recipe& r,
                              const Provenance& prov,
                              const RunResult& result,
                              const BestValidation& best) {
    TrainCheckpoint ck;
    ck.step = trainer.steps_done();
    ck.optimizer_steps = trainer.optimizer().steps();
    ck.rng_state = {trainer.dropout_rng().seed, trainer.dropout_rng().offset};
    ck.data_cursor = {cursor.epoch, cursor.batch};
    ck.recipe = r.to_ini();
    ck.dataset_manifest_sha256 = prov.manifest_sha256;
    ck.slimtune_version = SLIMTUNE_VERSION_STRING;
    ck.metrics["loss"] = result.last_loss;
    if (result.eval_loss)
        ck.metrics["eval_loss"] = *result.eval_loss;
    best.save(ck.metrics);
    if (result.early_stopped)
        ck.metrics["early_stopped"] = 1;
    for (const optim::ParamRef& p : trainer.params())
        ck.tensors.push_back(
            {p.name, p.tensor.shape(),
             std::vector<float>(p.tensor.values().begin(), p.tensor.values().end())});
    for (const optim::NamedBuffer& b : trainer.optimizer().state())
        ck.optimizer_state.push_back({b.name, {static_cast<int64_t>(b.values.size())}, b.values});
    return ck;
}

// A checkpoint's trainable weights, copied into the trainer's tensors.
void restore_weights(Trainer& trainer, const TrainCheckpoint& ck, const std::string& path) {
    for (const optim::ParamRef& p : trainer.params()) {
        const auto it = std::find_if(ck.tensors.begin(), ck.tensors.end(),
                                     [&](const NamedArray& a) { return a.name == p.name; });
        if (it == ck.tensors.end() || it->values.size() != static_cast<size_t>(p.tensor.numel()))
            throw FormatError(path + ": no tensor '" + p.name + "' of the right size");
        Tensor dst = p.tensor; // a handle: writes go to the trainer's tensor
        std::memcpy(dst.data(), it->values.data(), it->values.size() * sizeof(float));
    }
}

// 4. Resume: the checkpoint's weights, optimizer state, RNG, data cursor, last losses and
// early-stopping state go back into the trainer, `result` and `best`; metrics and samples
// logged after it are dropped (the steps that wrote them run again).
DataCursor resume(Trainer& trainer,
                  const ResumePoint& from,
                  const Recipe& r,
                  RunResult& result,
                  BestValidation& best,
                  std::ostream& progress) {
    const TrainCheckpoint& ck = from.checkpoint;
    for (const std::string& why : from.skipped)
        progress << "skipped an unreadable checkpoint: " << why << "\n";
    restore_weights(trainer, ck, from.path);
    std::vector<optim::NamedBuffer> state;
    for (const NamedArray& a : ck.optimizer_state)
        state.push_back({a.name, a.values});
    trainer.optimizer().load_state(state, ck.optimizer_steps);
    if (ck.rng_state.size() != 2 || ck.data_cursor.size() != 2)
        throw FormatError(from.path + ": bad rng_state or data_cursor");
    trainer.dropout_rng() = Rng(ck.rng_state[0], ck.rng_state[1]);
    trainer.set_steps_done(ck.step);
    if (const auto it = ck.metrics.find("loss"); it != ck.metrics.end())
        result.last_loss = it->second;
    if (const auto it = ck.metrics.find("eval_loss"); it != ck.metrics.end())
        result.eval_loss = it->second;
    best = BestValidation::load(ck.metrics);
    drop_logs_after(r, ck.step);
    progress << "resuming " << from.path << " at step " << ck.step << "\n";
    return {ck.data_cursor[0], ck.data_cursor[1]};
}

// How the step loop ended.
enum class LoopEnd { completed, stopped, early_stopped };

// The state of a run between steps, and what it does besides stepping.
class StepLoop {
public:
    StepLoop(const Recipe& r,
             const Provenance& prov,
             const data::TrainingData& data,
             const data::Tokenizer* tokenizer,
             const Model& model,
             Trainer& trainer,
             DataCursor cursor,
             data::PackPlan plan, // of cursor.epoch
             BestValidation best,
             std::ostream& progress)
        : r_(r), prov_(prov), data_(data), model_(model), trainer_(trainer), cursor_(cursor),
          plan_(std::move(plan)), validation_(data.validation_batches(r.eval.max_batches)),
          samples_(
              data, tokenizer, r.eval.samples, r.eval.sample_tokens, run_path(r, kSamplesFile)),
          best_(best), metrics_(run_path(r, kMetricsFile)), progress_(progress),
          bar_(progress, trainer.total_steps(), r.log.every) {}

    // 5. Steps until the end of the run, a stop request or early stopping (each after a
    // checkpoint), then the warning about steps that had nothing to learn from.
    LoopEnd run(const RunControl& control, RunResult& result) {
        const int64_t first_step = trainer_.steps_done();
        const LoopEnd end = run_steps(control, result);
        bar_.break_line();
        if (empty_steps_ > 0)
            progress_ << "warning: " << empty_steps_ << " of " << trainer_.steps_done() - first_step
                      << " steps had no loss-bearing token (every label of their batches is "
                         "masked) and changed nothing; check data.train_on and whether "
                         "train.seq_len cuts off the completions\n";
        return end;
    }

    // The validation loss, logged, fed to early stopping, and the samples; true when it is the
    // best so far. Nothing without validation data.
    bool evaluate(RunResult& result) {
        if (validation_.empty())
            return false;
        int64_t n = 0;
        const double loss = trainer_.evaluate(validation_, &n);
        const int64_t step = trainer_.steps_done();
        append_line(metrics_, {{"step", step},
                               {"eval_loss", loss},
                               {"eval_ppl", std::exp(loss)},
                               {"eval_tokens", n}});
        result.eval_loss = loss;
        const bool improved = best_.observe(step, loss, r_.eval.early_stopping_min_delta);
        progress_ << "eval at step " << step << ": loss " << loss << ", perplexity "
                  << std::exp(loss);
        if (!improved)
            progress_ << " (best " << *best_.loss() << " at step " << best_.step() << ", "
                      << best_.evals_since()
                      << (best_.evals_since() == 1 ? " evaluation ago)" : " evaluations ago)");
        progress_ << "\n";
        const std::vector<Sample> samples = samples_.write(model_, step);
        if (!samples.empty() && !samples.front().prompt_text.empty())
            progress_ << "sample: " << printable(samples.front().prompt_text, 120) << " -> "
                      << printable(samples.front().text, 200) << "\n";
        return improved;
    }

    void save(const std::string& why, const RunResult& result) {
        const std::optional<int64_t> keep_best =
            r_.checkpoint.keep_best && best_.loss() ? std::optional(best_.step()) : std::nullopt;
        const std::string path = save_checkpoint_in_run(
            r_.train.output_dir, checkpoint_of(trainer_, cursor_, r_, prov_, result, best_),
            r_.checkpoint.keep, keep_best);
        progress_ << why << ": checkpoint " << path << "\n";
    }

    const BestValidation& best() const { return best_; }

private:
    LoopEnd run_steps(const RunControl& control, RunResult& result) {
        const auto t0 = Clock::now();
        int64_t tokens_seen = 0, trainable_seen = 0;
        const int64_t first_step = trainer_.steps_done(), total = trainer_.total_steps();
        while (trainer_.steps_done() < total) {
            const StepStats s = trainer_.step(next_micro_batches());
            tokens_seen += s.tokens;
            trainable_seen += s.trainable_tokens;
            empty_steps_ += s.trainable_tokens == 0;
            result.last_loss = s.loss;
            const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
            const auto per_s = [&](int64_t n) {
                return elapsed > 0 ? static_cast<double>(n) / elapsed : 0.0;
            };
            const Throughput speed{per_s(tokens_seen), per_s(trainable_seen)};
            if (s.step % r_.log.every == 0 || s.step == total)
                append_line(metrics_, {{"step", s.step},
                                       {"loss", s.loss},
                                       {"lr", s.lr},
                                       {"grad_norm", s.grad_norm},
                                       {"tokens", s.tokens},
                                       {"trainable_tokens", s.trainable_tokens},
                                       {"epoch", cursor_.epoch},
                                       {"tokens_per_s", speed.tokens_per_s},
                                       {"trainable_tokens_per_s", speed.trainable_tokens_per_s}});
            bar_.step(s, speed, s.step - first_step, elapsed);
            if (s.step == total)
                return LoopEnd::completed;
            bool improved = false;
            if (r_.eval.every > 0 && s.step % r_.eval.every == 0) {
                bar_.break_line();
                improved = evaluate(result);
            }
            // One checkpoint per step at most, named after its most telling reason.
            result.early_stopped = best_.exhausted(r_.eval.early_stopping_patience);
            const bool stop = (control.stop && control.stop->load()) ||
                              (control.stop_after > 0 && s.step - first_step >= control.stop_after);
            const bool due = r_.checkpoint.every > 0 && s.step % r_.checkpoint.every == 0;
            if (result.early_stopped || stop || due || (improved && r_.checkpoint.keep_best)) {
                bar_.break_line();
                save(result.early_stopped ? "early stop"
                     : stop               ? "interrupted"
                     : due                ? "step " + std::to_string(s.step)
                                          : "best",
                     result);
            }
            if (result.early_stopped)
                return LoopEnd::early_stopped;
            if (stop)
                return LoopEnd::stopped;
        }
        return LoopEnd::completed;
    }

    // The grad_accum micro-batches of the next step, crossing into the next epoch as needed.
    std::vector<data::TokenBatch> next_micro_batches() {
        std::vector<data::TokenBatch> micro;
        for (int64_t k = 0; k < r_.train.grad_accum; ++k) {
            if (cursor_.batch >= static_cast<int64_t>(plan_.batches())) {
                cursor_ = {cursor_.epoch + 1, 0};
                plan_ = data_.epoch_plan(cursor_.epoch);
            }
            micro.push_back(data_.train_batch(plan_, static_cast<size_t>(cursor_.batch++)));
        }
        return micro;
    }

    const Recipe& r_;
    const Provenance& prov_;
    const data::TrainingData& data_;
    const Model& model_;
    Trainer& trainer_;
    DataCursor cursor_;
    data::PackPlan plan_;
    const std::vector<data::TokenBatch> validation_;
    const SampleWriter samples_;
    BestValidation best_;
    const std::string metrics_;
    std::ostream& progress_;
    StepProgress bar_;
    int64_t empty_steps_ = 0; // steps of this invocation without a loss-bearing token
};

// 6. When early stopping ended the run and checkpoint.keep_best kept the best checkpoint, its
// weights go back into the model: the result is the best model, not the last. Returns the
// step whose weights the result holds.
int64_t choose_final_weights(Trainer& trainer,
                             const BestValidation& best,
                             const Recipe& r,
                             const RunResult& result,
                             std::ostream& progress) {
    const int64_t last = trainer.steps_done();
    if (!result.early_stopped)
        return last;
    progress << "early stopping at step " << last << ": no better validation loss for "
             << best.evals_since() << " evaluations (best " << *best.loss() << " at step "
             << best.step() << ")";
    const std::string best_path = checkpoint_in_run(r.train.output_dir, best.step());
    std::error_code ec;
    if (!r.checkpoint.keep_best || !fs::exists(best_path, ec)) {
        progress << "; the result holds the last weights (checkpoint.keep_best keeps the best)\n";
        return last;
    }
    restore_weights(trainer, read_train_checkpoint(best_path), best_path);
    progress << "; the result holds the best weights, of step " << best.step() << "\n";
    return best.step();
}

// The result, with the dataset's provenance in the safetensors header and beside it.
std::string write_result(Model& model,
                         const Trainer& trainer,
                         const Recipe& r,
                         const data::Tokenizer* tok,
                         Provenance prov,
                         const RunResult& result,
                         const BestValidation& best) {
    const std::map<std::string, std::string> metadata{
        {"slimtune.dataset_manifest_sha256", prov.manifest_sha256}};
    const bool lora = trainer.config().mode == "lora";
    const std::string out = run_path(r, lora ? kAdapterDir : kModelDir);
    // Every file of the result is written into a stage and swapped in at once: a run killed
    // in between leaves the previous result whole (new weights never sit beside an old config).
    StagedDirectory stage(out);
    if (lora) {
        save_peft_adapter(model, trainer.config().lora, stage.path(),
                          peft_base_model(base_model_id(prov.record), r.model.path), metadata);
    } else {
        io::save_hf_model(model, r.model.path, stage.path(), metadata);
        write_trained_chat_template(stage.path(), tok, prov.record);
    }
    prov.record["train"] = {{"steps", result.steps},
                            {"last_loss", result.last_loss},
                            {"eval_loss", result.eval_loss ? json(*result.eval_loss) : json()},
                            {"mode", trainer.config().mode},
                            {"early_stopped", result.early_stopped},
                            {"best_eval_loss", best.loss() ? json(*best.loss()) : json()},
                            {"best_step", best.loss() ? json(best.step()) : json()},
                            {"weights_of_step", result.weights_step}};
    prov.record["recipe"] = without_ini_section(r.to_ini(), "curate");
    write_file_atomic(stage.file(kProvenanceFile),
                      [&](std::ostream& os) { os << prov.record.dump(2) << "\n"; });
    if (lora)
        write_adapter_card(stage.path(), fs::path(r.train.output_dir).filename().string(),
                           prov.record);
    if (lora)
        stage.publish();
    else
        stage.publish(io::is_hf_weight_file); // the new weights replace the old set whole
    return out;
}

} // namespace

RunResult run_training(const Recipe& r, const RunControl& control, std::ostream& progress) {
    if (r.train.output_dir.empty())
        throw ConfigError("train.output_dir is empty");
    Provenance prov = check_curation(r);
    // 2. The output directory, checked before anything is printed; changed only once every
    // check has passed.
    std::optional<ResumePoint> from;
    std::optional<NewRunDir> fresh;
    if (control.resume)
        from = open_resume_point(r, prov.manifest_sha256);
    else
        fresh = check_new_run_dir(r.train.output_dir, control.overwrite);
    record_base_model(r, prov);
    const std::unique_ptr<data::Tokenizer> tok = load_tokenizer(r);
    prov.record["chat_template"] = choose_training_chat_template(r.data, tok.get(), progress);
    if (fresh)
        prepare_new_run(*fresh, progress);
    if (from) // what a run killed in the middle of a write left behind
        for (const std::string& dir :
             {r.train.output_dir, (fs::path(r.train.output_dir) / "checkpoints").string()})
            if (const auto stale = remove_stale_temporaries(dir); !stale.empty())
                progress << "resume: removed " << short_list(stale) << " from " << dir
                         << " (temporaries of a killed run)\n";

    Model model = load_model(r.model.path);
    const data::TrainingData data = open_data(r, model, tok.get(), progress);
    data::PackPlan plan = data.epoch_plan(0);
    const StepPlan steps = plan_steps(r, plan, progress);
    RunResult result;
    if (from) {
        result.nothing_to_do = resume_has_ended(*from, r, steps.total);
        if (!result.nothing_to_do.empty()) {
            result.steps = from->checkpoint.step;
            return result;
        }
    }
    record_validation(data, r, prov, progress);
    Trainer trainer(model, r.trainer, steps.total);
    DataCursor cursor;
    BestValidation best;
    if (from)
        cursor = resume(trainer, *from, r, result, best, progress);
    else
        std::ofstream(run_path(r, kMetricsFile), std::ios::trunc);
    write_file_atomic(run_path(r, kRecipeFile), [&](std::ostream& os) { os << r.to_ini(); });
    if (cursor.epoch != 0)
        plan = data.epoch_plan(cursor.epoch);
    print_run_header(progress, {.params = count_params(model, trainer),
                                .base = trainer.base_note(),
                                .batch_size = r.data.packing.batch_size,
                                .grad_accum = r.train.grad_accum,
                                .seq_len = r.data.packing.seq_len,
                                .train_examples = static_cast<int64_t>(data.train_size()),
                                .validation_examples = static_cast<int64_t>(data.validation_size()),
                                .tokens_per_epoch = plan.stats.tokens,
                                .steps_per_epoch = steps.per_epoch,
                                .total_steps = steps.total});

    StepLoop loop(r, prov, data, tok.get(), model, trainer, cursor, std::move(plan), best,
                  progress);
    const LoopEnd end = loop.run(control, result);
    result.steps = trainer.steps_done();
    if (end == LoopEnd::stopped) {
        result.interrupted = true;
        return result;
    }
    if (end == LoopEnd::completed) {
        loop.evaluate(result);
        loop.save("done", result);
    }
    result.weights_step = choose_final_weights(trainer, loop.best(), r, result, progress);
    result.output = write_result(model, trainer, r, tok.get(), prov, result, loop.best());
    progress << "wrote " << result.output << "\n";
    return result;
}

} // namespace slimtune::train
