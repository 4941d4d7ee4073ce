// Inference throughput of a Hugging Face checkpoint: a 256-token prompt in one forward pass
// (logits for every position), then 64 greedy tokens with the KV cache. The peer is
// bench/torch_forward.py; bench/run_forward.sh runs both and prints the ratios.
//
//   bench_forward --model DIR [--json FILE] [--threads N] [--prompt 256] [--gen 64]
#include "common/process.h"
#include "model/autograd.h"
#include "model/kernels/gemm.h"
#include "model/transformer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <omp.h>
#include <string>

using namespace slimtune;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int32_t argmax_last(const Model& m, const Tensor& h) {
    Tensor logits = model_last_logits(m, h);
    const auto v = logits.values();
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

} // namespace

int main(int argc, char** argv) {
    slimtune::keep_freed_memory_resident(); // as the slimtune CLI does
    std::string model_dir, json_out;
    int threads = 2;
    int64_t n_prompt = 256, n_gen = 64;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_forward: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--model")
            model_dir = value();
        else if (a == "--json")
            json_out = value();
        else if (a == "--threads" || a == "--prompt" || a == "--gen") {
            const std::string v = value();
            size_t used = 0;
            long long n = 0;
            try {
                n = std::stoll(v, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != v.size() || used == 0 || n < 1) {
                std::fprintf(stderr, "bench_forward: %s needs a positive integer, got '%s'\n",
                             a.c_str(), v.c_str());
                return 2;
            }
            if (a == "--threads")
                threads = static_cast<int>(n);
            else if (a == "--prompt")
                n_prompt = n;
            else
                n_gen = n;
        } else {
            std::fprintf(stderr, "bench_forward: unknown option '%s'\n", a.c_str());
            return 2;
        }
    }
    if (model_dir.empty()) {
        std::fprintf(stderr, "usage: bench_forward --model DIR [--json FILE] [--threads N]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    try {
        const Model m = load_model(model_dir);
        NoGradGuard no_grad;
        std::vector<int32_t> ids(static_cast<size_t>(n_prompt)), pos(ids.size());
        for (int64_t i = 0; i < n_prompt; ++i)
            ids[static_cast<size_t>(i)] = static_cast<int32_t>((i * 7919) % m.cfg.vocab_size);
        std::iota(pos.begin(), pos.end(), 0);
        const TokenLayout prompt{.batch = 1, .seq = n_prompt, .positions = pos, .doc_ids = {}};

        double best_prompt = 1e30;
        for (int rep = 0; rep < 6; ++rep) { // 1 warm-up + best of 5
            const auto t0 = std::chrono::steady_clock::now();
            Tensor logits = model_logits(m, model_hidden(m, ids, prompt));
            const double s = seconds_since(t0);
            if (rep > 0)
                best_prompt = std::min(best_prompt, s);
        }

        double best_gen = 1e30;
        for (int rep = 0; rep < 3; ++rep) {
            std::vector<KvCache> caches = model_caches(m, n_prompt + n_gen);
            int32_t next = argmax_last(m, model_hidden(m, ids, prompt, &caches));
            const auto t0 = std::chrono::steady_clock::now();
            for (int64_t step = 0; step < n_gen; ++step) {
                const int32_t p = static_cast<int32_t>(n_prompt + step);
                const std::vector<int32_t> one = {next}, one_pos = {p};
                Tensor h = model_hidden(
                    m, one, {.batch = 1, .seq = 1, .positions = one_pos, .doc_ids = {}}, &caches);
                next = argmax_last(m, h);
            }
            best_gen = std::min(best_gen, seconds_since(t0));
        }
        const double prompt_tps = static_cast<double>(n_prompt) / best_prompt;
        const double gen_tps = static_cast<double>(n_gen) / best_gen;
        std::printf("slimtune %s  threads %d  gemm %s\n", model_dir.c_str(), threads,
                    kernels::gemm_backend());
        std::printf("prompt %lld tokens: %.1f tokens/s\n", static_cast<long long>(n_prompt),
                    prompt_tps);
        std::printf("generation %lld tokens: %.1f tokens/s\n", static_cast<long long>(n_gen),
                    gen_tps);
        if (!json_out.empty()) {
            std::ofstream out(json_out);
            out << nlohmann::json{{"model", model_dir},
                                  {"prompt_tokens_per_s", prompt_tps},
                                  {"gen_tokens_per_s", gen_tps},
                                  {"threads", threads},
                                  {"backend", kernels::gemm_backend()}}
                       .dump()
                << "\n";
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_forward: %s\n", e.what());
        return 1;
    }
    return 0;
}
