// `slimtune demo`: the pipeline end to end on bundled data. It curates the bundled corpus (with
// a planted duplicate, PII and a malformed line that curation must catch), checks the manifest
// as training does, and trains a small byte-level transformer on the curated text, end to end on
// the autograd, ops and kernels (embedding, blocks, final norm, tied head through the fused
// linear cross-entropy). It is the path that exists until checkpoints, tokenizers and recipes
// arrive; its optimizer is a plain Adam kept local on purpose (optim/ brings the real one).
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/curate/pipeline.h"
#include "model/autograd.h"
#include "model/block.h"
#include "model/kernels/gemm.h"
#include "model/ops/ops.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/demo_corpus.h"

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <unistd.h>

namespace slimtune::train {

namespace po = boost::program_options;

namespace {

struct DemoModel {
    BlockConfig cfg;
    Tensor wte; // (256, C), tied with the output head
    std::vector<BlockParams> blocks;
    Tensor norm_f; // (C)

    void for_each_param(const std::function<void(Tensor&)>& f) {
        f(wte);
        f(norm_f);
        for (auto& b : blocks)
            block_for_each_param(b, [&](const std::string&, Tensor& t) { f(t); });
    }
};

// Adam (Kingma & Ba) with bias correction, for the demo only.
struct DemoAdam {
    float lr;
    std::vector<std::vector<float>> m, v;
    int64_t step = 0;

    void update(DemoModel& model) {
        ++step;
        const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
        const float c1 = 1.0f - std::pow(b1, static_cast<float>(step));
        const float c2 = 1.0f - std::pow(b2, static_cast<float>(step));
        size_t i = 0;
        model.for_each_param([&](Tensor& p) {
            if (m.size() <= i) {
                m.emplace_back(static_cast<size_t>(p.numel()), 0.0f);
                v.emplace_back(static_cast<size_t>(p.numel()), 0.0f);
            }
            float* w = p.data();
            const float* g = p.grad();
            for (int64_t j = 0; j < p.numel(); ++j) {
                m[i][j] = b1 * m[i][j] + (1 - b1) * g[j];
                v[i][j] = b2 * v[i][j] + (1 - b2) * g[j] * g[j];
                w[j] -= lr * (m[i][j] / c1) / (std::sqrt(v[i][j] / c2) + eps);
            }
            p.zero_grad();
            ++i;
        });
    }
};

// Curates the bundled corpus into `dir` and returns the curated text. One document per
// paragraph, plus what a real export from a records system carries: a paragraph repeated with
// different case and spacing, a contact paragraph with an e-mail address and a phone number,
// and a truncated line.
std::string curated_demo_text(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    using nlohmann::json;
    fs::create_directories(dir);
    const fs::path raw = dir / "raw.jsonl";
    {
        std::ofstream out(raw);
        std::string first;
        const std::string corpus = kDemoCorpus;
        for (std::size_t at = 0, end; at < corpus.size(); at = end + 1) {
            end = corpus.find('\n', at);
            const std::string para = corpus.substr(at, end - at);
            out << json{{"text", para}}.dump() << "\n";
            if (first.empty())
                first = para;
        }
        std::string again = first; // lower case, doubled spaces: the same text once simplified
        again[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(again[0])));
        for (std::size_t sp = again.find(". "); sp != std::string::npos;
             sp = again.find(". ", sp + 3))
            again.insert(sp + 1, " ");
        out << json{{"text", again}}.dump() << "\n"
            << json{{"text", "Requests for a copy of a record are answered within thirty days. "
                             "The request should give the name of the patient, the date of "
                             "the visit and the name of the ward, and say which part of the "
                             "record is needed and why. Write to records.office@example.org "
                             "or call the records office on +44 20 7946 0958 on any weekday "
                             "morning, and keep the reference number that the office gives."}}
                   .dump()
            << "\n"
            << "{\"text\": \"The night shift hands over at\n";
    }
    data::curate::CurateConfig cfg;
    cfg.skip_bad_lines = true;
    cfg.quality.min_words = 20; // paragraphs, not web pages
    const data::curate::CurateSummary s =
        data::curate::curate_files({raw.string()}, (dir / "curated").string(), cfg);
    const auto curated = (dir / "curated" / "curated.jsonl").string();
    const data::curate::CuratedData gate = data::curate::verify_curated(curated);
    int64_t pii = 0;
    for (const auto& [type, n] : s.pii_by_type)
        pii += n;
    int64_t dups = 0;
    for (const auto& st : s.stages)
        if (st.name == "exact_dedup" || st.name == "near_dedup")
            dups += st.dropped;
    std::fprintf(stderr,
                 "curate: %lld documents in, %lld kept; %lld duplicate, %lld malformed line "
                 "skipped, %lld PII spans redacted; manifest %.12s...\n",
                 static_cast<long long>(s.documents_in), static_cast<long long>(s.documents_out),
                 static_cast<long long>(dups), static_cast<long long>(s.bad_lines),
                 static_cast<long long>(pii), gate.manifest_sha256.c_str());
    std::string text;
    std::ifstream in(curated);
    for (std::string line; std::getline(in, line);)
        text += json::parse(line).at("text").get<std::string>() + "\n";
    return text;
}

// The curated demo text, its curation outputs kept in `out_dir` (else in a temporary directory,
// removed).
std::string demo_corpus(const std::string& out_dir) {
    const bool keep = !out_dir.empty();
    const std::filesystem::path dir = keep ? std::filesystem::path(out_dir)
                                           : std::filesystem::temp_directory_path() /
                                                 ("slimtune-demo-" + std::to_string(::getpid()));
    std::string corpus;
    try {
        corpus = curated_demo_text(dir);
    } catch (...) {
        if (!keep)
            std::filesystem::remove_all(dir);
        throw;
    }
    if (!keep)
        std::filesystem::remove_all(dir);
    return corpus;
}

// A small Llama-style byte-level model with seeded weights, its embedding tied to the head.
DemoModel make_demo_model(int64_t hidden, int64_t layers, Rng& rng) {
    DemoModel model;
    model.cfg = {.hidden = hidden,
                 .n_head = hidden / 16,
                 .n_head_kv = std::max<int64_t>(1, hidden / 32),
                 .head_dim = 16,
                 .intermediate = hidden * 8 / 3,
                 .norm = NormKind::Rms,
                 .mlp = MlpKind::SwiGlu,
                 .bias = false,
                 .rope = true,
                 .rope_theta = 10000.0,
                 .rotary_dim = 0,
                 .norm_eps = 1e-5f};
    std::vector<float> wte(static_cast<size_t>(256 * hidden));
    for (auto& x : wte)
        x = 0.02f * rng.next_normal();
    model.wte = Tensor::from({256, hidden}, std::move(wte), true);
    for (int64_t l = 0; l < layers; ++l)
        model.blocks.push_back(block_init(model.cfg, layers, rng, true));
    model.norm_f = Tensor::full({hidden}, 1.0f, true);
    return model;
}

} // namespace

int run_demo(const std::vector<std::string>& args) {
    int64_t steps = 0, batch = 0, seq = 0, layers = 0, hidden = 0;
    int threads = 0;
    uint64_t seed = 0;
    std::string out_dir;
    float lr = 0;
    po::options_description opts("slimtune demo: train a small byte-level model on bundled text");
    opts.add_options()("steps", po::value(&steps)->default_value(300), "optimizer steps")(
        "batch", po::value(&batch)->default_value(8),
        "sequences per step")("seq", po::value(&seq)->default_value(64), "tokens per sequence")(
        "layers", po::value(&layers)->default_value(2), "transformer blocks")(
        "hidden", po::value(&hidden)->default_value(64), "model width (a multiple of 16)")(
        "lr", po::value(&lr)->default_value(3e-3f), "Adam learning rate")(
        "seed", po::value(&seed)->default_value(1234), "random seed (init and batches)")(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS)")(
        "out", po::value(&out_dir),
        "keep the curation outputs (curated.jsonl, report.md, manifest.json ...) in this "
        "directory (default: a temporary one, removed)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    if (steps < 1 || batch < 1 || seq < 2 || layers < 1 || hidden < 16 || hidden % 16 != 0 ||
        !(lr > 0))
        throw UsageError("need steps >= 1, batch >= 1, seq >= 2, layers >= 1, hidden a "
                         "positive multiple of 16 and lr > 0");
    set_threads(threads);

    const std::string corpus = demo_corpus(out_dir);
    const int64_t n_bytes = static_cast<int64_t>(corpus.size());
    if (seq + 1 >= n_bytes)
        throw UsageError("--seq must be below " + std::to_string(n_bytes - 1));

    Rng rng(seed);
    DemoModel model = make_demo_model(hidden, layers, rng);
    int64_t n_params = 0;
    model.for_each_param([&](Tensor& t) { n_params += t.numel(); });

    std::fprintf(stderr,
                 "slimtune demo: %lld parameters, %lld blocks, width %lld, %lld bytes of text; "
                 "%d threads, GEMM %s\n",
                 static_cast<long long>(n_params), static_cast<long long>(layers),
                 static_cast<long long>(hidden), static_cast<long long>(n_bytes),
                 omp_get_max_threads(), kernels::gemm_backend());

    std::vector<int32_t> positions(static_cast<size_t>(batch * seq));
    for (int64_t i = 0; i < batch * seq; ++i)
        positions[static_cast<size_t>(i)] = static_cast<int32_t>(i % seq);
    DemoAdam adam{lr, {}, {}};
    float first = 0, last = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t step = 1; step <= steps; ++step) {
        std::vector<int32_t> ids, targets;
        for (int64_t b = 0; b < batch; ++b) {
            const int64_t start =
                static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(n_bytes - seq - 1));
            for (int64_t t = 0; t < seq; ++t) {
                ids.push_back(static_cast<unsigned char>(corpus[static_cast<size_t>(start + t)]));
                targets.push_back(
                    static_cast<unsigned char>(corpus[static_cast<size_t>(start + t + 1)]));
            }
        }
        Tensor h = reshape(embedding(model.wte, ids), {batch, seq, hidden});
        for (const auto& blk : model.blocks)
            h = block_forward(model.cfg, blk, h,
                              {.batch = batch, .seq = seq, .positions = positions, .doc_ids = {}});
        h = reshape(rms_norm(h, model.norm_f, model.cfg.norm_eps), {batch * seq, hidden});
        Tensor loss = linear_cross_entropy(h, model.wte, targets);
        const float l = loss.item();
        if (!std::isfinite(l))
            throw NumericsError("loss is " + std::to_string(l) + " at step " +
                                std::to_string(step) + " (lower --lr)");
        backward(loss);
        adam.update(model);
        if (step == 1)
            first = l;
        last = l;
        if (step == 1 || step % 10 == 0 || step == steps) {
            const double secs =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            std::fprintf(stderr, "step %5lld/%lld  loss %.4f  %.0f tokens/s\n",
                         static_cast<long long>(step), static_cast<long long>(steps),
                         static_cast<double>(l), static_cast<double>(step * batch * seq) / secs);
        }
    }
    std::printf("demo: loss %.3f -> %.3f over %lld steps (a uniform guess is %.3f)\n",
                static_cast<double>(first), static_cast<double>(last),
                static_cast<long long>(steps), std::log(256.0));
    return last < first ? 0 : 1;
}

} // namespace slimtune::train
