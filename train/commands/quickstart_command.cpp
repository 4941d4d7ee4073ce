// `slimtune quickstart` (the main job on the embedded default) and `slimtune report` (the run
// report of a training run or a quickstart directory).
#include "common/error.h"
#include "data/sources/gcide.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/quickstart.h"
#include "train/report.h"

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <unistd.h>

namespace slimtune::train {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// Where the embedded default lives: an installed tree (<prefix>/share/slimtune beside
// <prefix>/bin/slimtune, so a relocated prefix works), else the source tree it was built from.
fs::path data_dir() {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path installed = exe.parent_path().parent_path() / "share" / "slimtune";
        if (fs::exists(installed / "embedded", ec))
            return installed;
    }
    return SLIMTUNE_SOURCE_DIR;
}

void print_outputs(const QuickstartResult& r, const QuickstartOptions& o) {
    const fs::path out(o.out);
    std::printf("\noutputs in %s:\n", o.out.c_str());
    std::printf("  data/       the raw medical senses (medical-raw.jsonl) and the held-out sets\n");
    std::printf("  curated/    curated.jsonl, report.md, manifest.json (%lld of %lld documents "
                "kept, PII redacted in %lld)\n",
                static_cast<long long>(r.curated_documents),
                static_cast<long long>(r.raw_documents), static_cast<long long>(r.pii_documents));
    std::printf("  run/        metrics.jsonl, checkpoints/, adapter/ (%lld steps)\n",
                static_cast<long long>(r.steps));
    for (const GgufExportReport& g : r.gguf)
        std::printf("  %s  %s, %.1f MB\n", fs::relative(g.path, out).c_str(), g.type.c_str(),
                    static_cast<double>(g.file_bytes) / 1e6);
    std::printf("  %s  the model card\n", fs::relative(r.model_card, out).c_str());
    std::printf("  %s/  the PEFT adapter\n", fs::relative(r.peft_dir, out).c_str());
    std::printf("  quickstart.json, report.html, loss.svg\n");
}

} // namespace

int run_quickstart_command(const std::vector<std::string>& args) {
    QuickstartOptions o;
    const fs::path data = data_dir();
    int threads = 0;
    constexpr QuickstartBudget quick = quickstart_budget(true);
    const std::string quick_help =
        "the same path in about two minutes: " + std::to_string(quick.max_steps) +
        " training steps, " + std::to_string(quick.eval_tokens) +
        " scored tokens per held-out set, " + std::to_string(quick.sample_tokens) +
        "-token samples";
    po::options_description opts(
        "slimtune quickstart [--out DIR] [--quick]: the main job on the embedded default, with "
        "no download. Curates the medical senses of Debian's GCIDE dictionary, fine-tunes a LoRA "
        "adapter on them over slimtune's own pretrained base model, compares base and "
        "fine-tuned on held-out medical and general text, exports Q8_0 and Q4_K_M GGUF and the "
        "PEFT adapter with a model card, generates samples from the Q4_K_M file and writes "
        "report.html");
    opts.add_options()("out", po::value(&o.out)->default_value("quickstart"),
                       "output directory")("quick", po::bool_switch(&o.quick), quick_help.c_str())(
        "overwrite", po::bool_switch(&o.overwrite), "replace an earlier quickstart in --out")(
        "base",
        po::value(&o.base)->default_value((data / "embedded" / "tiny-gcide").string(),
                                          "<share>/embedded/tiny-gcide"),
        "the base model directory (<share>: PREFIX/share/slimtune when installed, else the "
        "source tree)")(
        "recipe",
        po::value(&o.recipe)->default_value((data / "recipes" / "quickstart.ini").string(),
                                            "<share>/recipes/quickstart.ini"),
        "curation and training settings")(
        "dictionary", po::value(&o.dictionary)->default_value(data::gcide::kDebianPath),
        "the dictd file of GCIDE (dict-gcide)")(
        "llama-cpp", po::value(&o.llama_cpp)->value_name("DIR"),
        "the directory of llama.cpp's libllama.so (and its libggml*.so), to also generate the "
        "samples with llama.cpp; by default libllama.so is looked for on the loader's path "
        "(LD_LIBRARY_PATH, ldconfig), and \"none\" skips it")(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads (0: all cores)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    set_threads(threads);
    const QuickstartResult r = run_quickstart(o, std::cerr);
    print_outputs(r, o);
    const HeldOutScore& domain = r.scores.front();
    const bool met = -domain.change() >= kQuickstartDomainGain;
    std::printf("\nheld-out medical perplexity %.2f -> %.2f (%+.1f %%; goal: at least %.0f %% "
                "lower): %s\nreport: %s\n",
                domain.base_perplexity(), domain.tuned_perplexity(), 100.0 * domain.change(),
                100.0 * kQuickstartDomainGain, met ? "met" : "NOT met", r.report.c_str());
    return 0;
}

int run_report(const std::vector<std::string>& args) {
    std::string dir;
    po::options_description opts(
        "slimtune report DIR: report.html (self-contained, charts as inline SVG) and loss.svg "
        "for a training run directory or a quickstart directory");
    opts.add_options()("dir", po::value(&dir)->required(), "the run or quickstart directory");
    po::positional_options_description positional;
    positional.add("dir", 1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &positional))
        return 0;
    const ReportFiles f = write_report(dir);
    std::printf("wrote %s and %s\n", f.html.c_str(), f.svg.c_str());
    return 0;
}

} // namespace slimtune::train
