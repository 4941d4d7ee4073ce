// Training throughput of slimtune's Trainer on a Hugging Face checkpoint: tokens/s of full
// optimizer steps (forward, backward, clipping, AdamW) on random token batches, LoRA or full
// fine-tuning, plus peak RSS (VmHWM). The PyTorch peer is bench/torch_train.py;
// bench/run_train.sh runs both. Prints and writes (--json) one object with the same keys as the
// peer's.
//
//   bench_train --model DIR --mode lora|full [--targets q_proj,v_proj] [--rank 8] [--alpha 16]
//               [--batch 4] [--seq 256] [--steps 5] [--warmup 2] [--threads 2]
//               [--base-dtype float32|bfloat16|auto] [--checkpoint-activations] [--json OUT]
//
// --base-dtype sets TrainerConfig::base_dtype (the storage of the frozen linear weights and the
// precision of their matmuls; default float32 here, where the Trainer's own default is auto) and
// --checkpoint-activations sets TrainerConfig::checkpoint_activations (recompute each block in
// backward). The FLOPs per token count the model's work only, never the recomputation.
#include "common/error.h"
#include "common/process.h"
#include "model/lora.h"
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <sstream>
#include <string>

using namespace slimtune;
using Clock = std::chrono::steady_clock;

// The process's peak resident set (VmHWM of /proc/self/status) in MiB; 0 when unreadable.
static double peak_rss_mib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) {
            std::istringstream in(line.substr(6));
            double kib = 0;
            in >> kib;
            return kib / 1024.0;
        }
    return 0;
}

// The whole of `v` as an integer / a number; throws std::invalid_argument otherwise.
static int64_t whole_int(const std::string& v) {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used != v.size())
        throw std::invalid_argument(v);
    return x;
}
static double whole_double(const std::string& v) {
    size_t used = 0;
    const double x = std::stod(v, &used);
    if (used != v.size() || !std::isfinite(x))
        throw std::invalid_argument(v);
    return x;
}

int main(int argc, char** argv) {
    slimtune::keep_freed_memory_resident(); // as the slimtune CLI does
    std::string model_dir, mode = "lora", targets = "q_proj,v_proj", json_out;
    int64_t rank = 8, batch = 4, seq = 256, steps = 5, warmup = 2;
    double alpha = 16;
    int threads = 2;
    std::string base_dtype = "float32";
    bool checkpoint_activations = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--checkpoint-activations") {
            checkpoint_activations = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "bench_train: option '%s' needs a value\n", a.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        try {
            if (a == "--model")
                model_dir = v;
            else if (a == "--mode")
                mode = v;
            else if (a == "--targets")
                targets = v;
            else if (a == "--base-dtype")
                base_dtype = v;
            else if (a == "--json")
                json_out = v;
            else if (a == "--rank")
                rank = whole_int(v);
            else if (a == "--alpha")
                alpha = whole_double(v);
            else if (a == "--batch")
                batch = whole_int(v);
            else if (a == "--seq")
                seq = whole_int(v);
            else if (a == "--steps")
                steps = whole_int(v);
            else if (a == "--warmup")
                warmup = whole_int(v);
            else if (a == "--threads")
                threads = static_cast<int>(std::clamp<int64_t>(whole_int(v), -1, 4096));
            else {
                std::fprintf(stderr, "bench_train: unknown option '%s'\n", a.c_str());
                return 2;
            }
        } catch (const std::exception&) {
            std::fprintf(stderr, "bench_train: bad value '%s' for %s\n", v.c_str(), a.c_str());
            return 2;
        }
    }
    if (model_dir.empty() || steps < 1 || warmup < 0 || batch < 1 || seq < 2 || threads < 1 ||
        rank < 1) {
        std::fprintf(stderr, "bench_train: --model is required; --steps, --batch, --threads, "
                             "--rank >= 1, --seq >= 2, --warmup >= 0\n");
        return 2;
    }
    if (base_dtype != "float32" && base_dtype != "bfloat16" && base_dtype != "auto") {
        std::fprintf(stderr, "bench_train: --base-dtype '%s' is not float32, bfloat16 or auto\n",
                     base_dtype.c_str());
        return 2;
    }
    if (mode != "lora" && mode != "full") {
        std::fprintf(stderr, "bench_train: --mode '%s' is not lora or full\n", mode.c_str());
        return 2;
    }
    try {
        omp_set_num_threads(threads);
        Model m = load_model(model_dir);
        if (m.cfg.max_positions > 0 && seq > m.cfg.max_positions)
            throw Error("--seq " + std::to_string(seq) + " exceeds the model's " +
                        std::to_string(m.cfg.max_positions) + " positions");
        train::TrainerConfig cfg;
        cfg.mode = mode;
        for (size_t at = 0; at <= targets.size();) {
            const size_t comma = std::min(targets.find(',', at), targets.size());
            if (comma > at)
                cfg.lora.targets.push_back(targets.substr(at, comma - at));
            at = comma + 1;
        }
        cfg.lora.rank = rank;
        cfg.lora.alpha = alpha;
        cfg.optimizer.lr = 1e-4;
        cfg.schedule.name = "constant";
        cfg.max_grad_norm = 1.0;
        cfg.base_dtype = base_dtype;
        cfg.checkpoint_activations = checkpoint_activations;
        train::Trainer trainer(m, cfg, steps + warmup);
        // Random ids, labels = ids (every position but the last predicts the next token).
        Rng rng(1234);
        data::TokenBatch b;
        b.batch = batch;
        b.seq = seq;
        for (int64_t r = 0; r < batch; ++r)
            for (int64_t t = 0; t < seq; ++t) {
                b.ids.push_back(
                    static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(m.cfg.vocab_size)));
                b.positions.push_back(static_cast<int32_t>(t));
                b.doc_ids.push_back(0);
            }
        for (int64_t i = 0; i < batch * seq; ++i) {
            const bool last = (i + 1) % seq == 0;
            b.targets.push_back(last ? -100 : b.ids[static_cast<size_t>(i + 1)]);
            b.counted += !last;
        }
        const std::vector<data::TokenBatch> one = {b};
        std::vector<double> times;
        double first_loss = 0, last_loss = 0;
        for (int64_t s = 0; s < warmup + steps; ++s) {
            const auto t0 = Clock::now();
            const auto st = trainer.step(one);
            const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
            if (s == 0)
                first_loss = st.loss;
            last_loss = st.loss;
            if (s >= warmup)
                times.push_back(dt);
        }
        std::vector<double> sorted = times;
        std::sort(sorted.begin(), sorted.end());
        const double median = sorted[sorted.size() / 2];
        // FLOPs per token: every matmul weight N (head included, once): full 6N, LoRA 4N
        // (frozen base: forward plus the input-gradient half of backward), plus causal
        // attention 6 L T d.
        int64_t n_matmul = 0;
        for (const NamedLinear& l : model_linears(m))
            n_matmul += l.linear->weight.numel();
        n_matmul += m.head().numel();
        int64_t trainable = 0;
        for (const auto& p : trainer.params())
            trainable += p.tensor.numel();
        const double attn = 6.0 * static_cast<double>(m.cfg.n_layer) * static_cast<double>(seq) *
                            static_cast<double>(m.cfg.n_head * m.cfg.head_dim);
        const double flops = (mode == "full" ? 6.0 : 4.0) * static_cast<double>(n_matmul) + attn;
        const std::string name = model_dir.substr(model_dir.find_last_of('/') + 1);
        const nlohmann::json out = {
            {"model", name},
            {"mode", mode},
            {"targets", targets},
            {"rank", rank},
            {"batch", batch},
            {"seq", seq},
            {"threads", threads},
            {"base_dtype", base_dtype},
            {"checkpoint_activations", checkpoint_activations},
            {"base_note", trainer.base_note()},
            {"tokens_per_s", static_cast<double>(batch * seq) / median},
            {"step_s_median", median},
            {"step_s_all", times},
            {"peak_rss_mb", peak_rss_mib()},
            {"trainable_params", trainable},
            {"matmul_params", n_matmul},
            {"flops_per_token", flops},
            {"flops_formula", mode == "full" ? "6*N + 6*L*T*d" : "4*N + 6*L*T*d"},
            {"first_loss", first_loss},
            {"last_loss", last_loss}};
        std::printf("%s\n", out.dump().c_str());
        if (!json_out.empty()) {
            std::ofstream f(json_out);
            f << out.dump(2) << "\n";
            if (!f)
                throw Error(json_out + ": cannot write");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: %s\n", e.what());
        return 1;
    }
    return 0;
}
