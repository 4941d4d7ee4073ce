// A run, top to bottom (run_training at the end of this file):
//   1. the curation gate: the data must come with a manifest that vouches for it; the base
//      model's hash and the chat template (printed, checked, recorded), before anything is written
//   2. the model, its tokenizer and the training data (tokenized into memory-mapped stores)
//   3. the trainer, started fresh or resumed from the newest checkpoint
//   4. the step loop: metrics, progress, evaluation and checkpoints every N steps, stop requests
//   5. the end: a last evaluation and checkpoint, the adapter (with its card) or model, and its
//      provenance
#include "train/run.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/training_data.h"
#include "model/io/save_model.h"
#include "train/checkpoint_h5.h"
#include "train/model_card.h"
#include "train/progress.h"
#include "train/provenance.h"
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

std::string short_hash(const std::string& sha256) {
    return sha256.empty() ? std::string("(none)") : sha256.substr(0, 12) + "...";
}

std::string metrics_path(const Recipe& r) {
    return (fs::path(r.train.output_dir) / "metrics.jsonl").string();
}

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

// 2. The training data, read with the tokenizer (none: pre-tokenized) into stores under
// output_dir/tokens.
data::TrainingData
open_data(const Recipe& r, const Model& model, const data::Tokenizer* tok, std::ostream& progress) {
    const data::ExampleOptions eo =
        data::example_options(r.data.examples, r.data.chat_template, tok, model.cfg.vocab_size);
    return data::TrainingData::open(r.data, eo, r.trainer.seed,
                                    (fs::path(r.train.output_dir) / "tokens").string(), progress);
}

// The optimizer steps of the run: train.max_steps, else train.epochs over the first epoch's
// batches (each step takes grad_accum of them).
int64_t total_steps(const Recipe& r, const data::PackPlan& first_epoch, std::ostream& progress) {
    const data::PackingStats& packed = first_epoch.stats;
    if (packed.truncated + packed.dropped + packed.skipped > 0)
        progress << r.data.train << ": " << packed.truncated << " examples over "
                 << r.data.packing.seq_len << " tokens truncated, " << packed.dropped
                 << " dropped (data.overlong), " << packed.skipped
                 << " shorter than 2 tokens skipped\n";
    if (first_epoch.batches() == 0)
        throw ConfigError(r.data.train + ": no training sequences left after packing");
    const auto per_epoch = static_cast<int64_t>(first_epoch.batches());
    const int64_t steps_per_epoch = (per_epoch + r.train.grad_accum - 1) / r.train.grad_accum;
    const int64_t total = r.train.max_steps > 0
                              ? r.train.max_steps
                              : static_cast<int64_t>(std::ceil(
                                    r.train.epochs * static_cast<double>(steps_per_epoch)));
    return std::max<int64_t>(total, 1);
}

// What a bit-exact resume needs, taken from the trainer.
TrainCheckpoint checkpoint_of(Trainer& trainer,
                              DataCursor cursor,
                              const Recipe& r,
                              const Provenance& prov,
                              const RunResult& result) {
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
    for (const optim::ParamRef& p : trainer.params())
        ck.tensors.push_back(
            {p.name, p.tensor.shape(),
             std::vector<float>(p.tensor.values().begin(), p.tensor.values().end())});
    for (const optim::NamedBuffer& b : trainer.optimizer().state())
        ck.optimizer_state.push_back({b.name, {static_cast<int64_t>(b.values.size())}, b.values});
    return ck;
}

// 3. Resume: the newest checkpoint's weights, optimizer state, RNG, data cursor and last
// losses go back into the trainer and `result`; metrics logged after it are dropped (the steps
// that wrote them run again).
DataCursor resume(Trainer& trainer,
                  const Recipe& r,
                  const Provenance& prov,
                  RunResult& result,
                  std::ostream& progress) {
    const auto latest = latest_checkpoint(r.train.output_dir);
    if (!latest)
        throw ConfigError(r.train.output_dir + ": no checkpoint to resume from");
    const TrainCheckpoint ck = read_train_checkpoint(*latest);
    if (ck.dataset_manifest_sha256 != prov.manifest_sha256)
        throw ConfigError(*latest + ": was trained on the dataset of manifest " +
                          short_hash(ck.dataset_manifest_sha256) + ", but " + r.data.train +
                          " now comes with " + short_hash(prov.manifest_sha256) +
                          "; resume needs the same curated data");
    for (const optim::ParamRef& p : trainer.params()) {
        const auto it = std::find_if(ck.tensors.begin(), ck.tensors.end(),
                                     [&](const NamedArray& a) { return a.name == p.name; });
        if (it == ck.tensors.end() || it->values.size() != static_cast<size_t>(p.tensor.numel()))
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
    trainer.set_steps_done(ck.step);
    if (const auto it = ck.metrics.find("loss"); it != ck.metrics.end())
        result.last_loss = it->second;
    if (const auto it = ck.metrics.find("eval_loss"); it != ck.metrics.end())
        result.eval_loss = it->second;

    const std::string metrics = metrics_path(r);
    std::ifstream old_metrics(metrics);
    std::string kept, line;
    while (std::getline(old_metrics, line)) {
        const json j = json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("step", int64_t{0}) <= ck.step)
            kept += line + "\n";
    }
    write_file_atomic(metrics, [&](std::ostream& os) { os << kept; });
    progress << "resuming " << *latest << " at step " << ck.step << "\n";
    return {ck.data_cursor[0], ck.data_cursor[1]};
}

// The state of a run between steps, and what it does besides stepping.
class StepLoop {
public:
    StepLoop(const Recipe& r,
             const Provenance& prov,
             const data::TrainingData& data,
             Trainer& trainer,
             DataCursor cursor,
             data::PackPlan plan, // of cursor.epoch
             std::ostream& progress)
        : r_(r), prov_(prov), data_(data), trainer_(trainer), cursor_(cursor),
          plan_(std::move(plan)), validation_(data.validation_batches(r.eval.max_batches)),
          metrics_(metrics_path(r)), progress_(progress),
          bar_(progress, trainer.total_steps(), r.log.every) {}

    // 4. Steps until the end of the run or a stop; true when stopped early (after a checkpoint).
    bool run(const RunControl& control, RunResult& result) {
        const auto t0 = Clock::now();
        int64_t tokens_seen = 0;
        const int64_t first_step = trainer_.steps_done(), total = trainer_.total_steps();
        while (trainer_.steps_done() < total) {
            const StepStats s = trainer_.step(next_micro_batches());
            tokens_seen += s.tokens;
            result.last_loss = s.loss;
            const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
            const double tps = elapsed > 0 ? static_cast<double>(tokens_seen) / elapsed : 0.0;
            append_line(metrics_, {{"step", s.step},
                                   {"loss", s.loss},
                                   {"lr", s.lr},
                                   {"grad_norm", s.grad_norm},
                                   {"tokens", s.tokens},
                                   {"epoch", cursor_.epoch},
                                   {"tokens_per_s", tps}});
            bar_.step(s.step, s.loss, s.lr, s.grad_norm, tps, s.step - first_step, elapsed);
            if (s.step == total)
                break;
            if (r_.eval.every > 0 && s.step % r_.eval.every == 0) {
                bar_.break_line();
                result.eval_loss = evaluate();
            }
            if (r_.checkpoint.every > 0 && s.step % r_.checkpoint.every == 0)
                save("step " + std::to_string(s.step), result);
            const bool stop = (control.stop && control.stop->load()) ||
                              (control.stop_after > 0 && s.step - first_step >= control.stop_after);
            if (stop) {
                bar_.break_line();
                save("interrupted", result);
                return true;
            }
        }
        bar_.break_line();
        return false;
    }

    // The validation loss, logged; nullopt without validation data.
    std::optional<double> evaluate() {
        if (validation_.empty())
            return std::nullopt;
        int64_t n = 0;
        const double loss = trainer_.evaluate(validation_, &n);
        append_line(metrics_, {{"step", trainer_.steps_done()},
                               {"eval_loss", loss},
                               {"eval_ppl", std::exp(loss)},
                               {"eval_tokens", n}});
        progress_ << "eval at step " << trainer_.steps_done() << ": loss " << loss
                  << ", perplexity " << std::exp(loss) << "\n";
        return loss;
    }

    void save(const std::string& why, const RunResult& result) {
        const std::string path = save_checkpoint_in_run(
            r_.train.output_dir, checkpoint_of(trainer_, cursor_, r_, prov_, result),
            r_.checkpoint.keep);
        progress_ << why << ": checkpoint " << path << "\n";
    }

private:
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
    Trainer& trainer_;
    DataCursor cursor_;
    data::PackPlan plan_;
    const std::vector<data::TokenBatch> validation_;
    const std::string metrics_;
    std::ostream& progress_;
    StepProgress bar_;
};

// 5. The result, with the dataset's provenance in the safetensors header and beside it.
std::string write_result(Model& model,
                         const Trainer& trainer,
                         const Recipe& r,
                         const data::Tokenizer* tok,
                         Provenance prov,
                         const RunResult& result) {
    const std::map<std::string, std::string> metadata{
        {"slimtune.dataset_manifest_sha256", prov.manifest_sha256}};
    const bool lora = trainer.config().mode == "lora";
    const std::string out = (fs::path(r.train.output_dir) / (lora ? "adapter" : "model")).string();
    if (lora) {
        save_peft_adapter(model, trainer.config().lora, out,
                          peft_base_model(base_model_id(prov.record), r.model.path), metadata);
    } else {
        io::save_hf_model(model, r.model.path, out, metadata);
        write_trained_chat_template(out, tok, prov.record);
    }
    prov.record["train"] = {{"steps", result.steps},
                            {"last_loss", result.last_loss},
                            {"eval_loss", result.eval_loss ? json(*result.eval_loss) : json()},
                            {"mode", trainer.config().mode}};
    prov.record["recipe"] = without_ini_section(r.to_ini(), "curate");
    write_file_atomic((fs::path(out) / kProvenanceFile).string(),
                      [&](std::ostream& os) { os << prov.record.dump(2) << "\n"; });
    if (lora)
        write_adapter_card(out, fs::path(r.train.output_dir).filename().string(), prov.record);
    return out;
}

} // namespace

RunResult run_training(const Recipe& r, const RunControl& control, std::ostream& progress) {
    if (r.train.output_dir.empty())
        throw ConfigError("train.output_dir is empty");
    Provenance prov = check_curation(r);
    record_base_model(r, prov);
    const std::unique_ptr<data::Tokenizer> tok = load_tokenizer(r);
    prov.record["chat_template"] = choose_training_chat_template(r.data, tok.get(), progress);
    std::error_code ec;
    fs::create_directories(r.train.output_dir, ec);
    if (ec)
        throw Error(r.train.output_dir + ": cannot create directory: " + ec.message());

    Model model = load_model(r.model.path);
    const data::TrainingData data = open_data(r, model, tok.get(), progress);
    data::PackPlan plan = data.epoch_plan(0);
    Trainer trainer(model, r.trainer, total_steps(r, plan, progress));

    RunResult result;
    DataCursor cursor;
    if (control.resume)
        cursor = resume(trainer, r, prov, result, progress);
    else
        std::ofstream(metrics_path(r), std::ios::trunc);
    write_file_atomic((fs::path(r.train.output_dir) / "recipe.ini").string(),
                      [&](std::ostream& os) { os << r.to_ini(); });
    if (cursor.epoch != 0)
        plan = data.epoch_plan(cursor.epoch);

    StepLoop loop(r, prov, data, trainer, cursor, std::move(plan), progress);
    result.interrupted = loop.run(control, result);
    result.steps = trainer.steps_done();
    if (result.interrupted)
        return result;
    result.eval_loss = loop.evaluate();
    loop.save("done", result);
    result.output = write_result(model, trainer, r, tok.get(), prov, result);
    progress << "wrote " << result.output << "\n";
    return result;
}

} // namespace slimtune::train
