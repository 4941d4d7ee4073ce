// The quickstart's phases, in order: output directory, domain data, curation, fine-tuning,
// held-out comparison, export, samples, summary and report.
#include "train/quickstart.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/text.h"
#include "data/curate/pipeline.h"
#include "data/examples.h"
#include "data/sources/gcide.h"
#include "data/tokenizer/tokenizer.h"
#include "model/generate.h"
#include "model/io/gguf.h"
#include "model/io/gguf_model.h"
#include "model/llama_cpp/library.h"
#include "model/llama_cpp/runtime.h"
#include "model/transformer.h"
#include "train/adapter.h"
#include "train/curate_keys.h"
#include "train/evaluate.h"
#include "train/export/export.h"
#include "train/gguf_tokenizer.h"
#include "train/report.h"
#include "train/run.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <omp.h>
#include <optional>
#include <ostream>
#include <span>

namespace slimtune::train {

namespace fs = std::filesystem;

double HeldOutScore::base_perplexity() const {
    return std::exp(base_loss);
}
double HeldOutScore::tuned_perplexity() const {
    return std::exp(tuned_loss);
}
double HeldOutScore::change() const {
    return tuned_perplexity() / base_perplexity() - 1.0;
}

namespace {

// What every phase reads and writes.
struct Layout {
    fs::path out, data, curated, run, export_dir;
    std::string raw_medical() const { return (data / "medical-raw.jsonl").string(); }
    std::string medical_heldout() const { return (data / "medical-heldout.jsonl").string(); }
    std::string general_heldout() const { return (data / "general-heldout.jsonl").string(); }
    std::string curated_file() const { return (curated / "curated.jsonl").string(); }
};

// The entries a quickstart writes in its output directory: what --overwrite may remove.
const char* const kOutputs[] = {"data",        "curated", "run", "export", "quickstart.json",
                                "report.html", "loss.svg"};

// ---- output directory ----
Layout prepare_output(const QuickstartOptions& o) {
    if (o.out.empty())
        throw ConfigError("quickstart: --out is required");
    const fs::path out(o.out);
    std::error_code ec;
    if (fs::exists(out, ec) && !fs::is_empty(out, ec)) {
        if (!fs::exists(out / "quickstart.json", ec) && !fs::exists(out / "data", ec))
            throw ConfigError(o.out + ": the directory holds other files; choose an empty or "
                                      "new --out");
        if (!o.overwrite)
            throw ConfigError(o.out + ": holds an earlier quickstart; pass --overwrite to "
                                      "replace it, or choose another --out");
        for (const char* name : kOutputs)
            if (fs::remove_all(out / name, ec); ec)
                throw Error((out / name).string() + ": cannot remove: " + ec.message());
    }
    Layout l{out, out / "data", out / "curated", out / "run", out / "export"};
    for (const fs::path& d : {l.out, l.data, l.export_dir})
        if (!fs::create_directories(d, ec) && ec)
            throw Error(d.string() + ": cannot create the directory: " + ec.message());
    return l;
}

// ---- domain data ----
constexpr const char* kPlantedDomain = "stmarys-clinic.org";
constexpr const char* kPlantedPhonePrefix = "(617) 555-";

// An invented clinician's contact line, different for each planted document: a name, a phone
// number in a valid US format and an e-mail address, as a referral note would carry them.
std::string planted_contact(int64_t i) {
    static const char* const names[] = {"Alice Moreau", "Rahul Mehta",  "Jonas Becker",
                                        "Maria Silva",  "Kenji Tanaka", "Fatima Haddad",
                                        "Liam O'Brien", "Sofia Rossi"};
    const std::string name = names[i % std::size(names)];
    std::string user;
    for (const char c : name.substr(0, name.find(' ')))
        user += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    char phone[32];
    std::snprintf(phone, sizeof phone, "%s%04lld", kPlantedPhonePrefix,
                  static_cast<long long>(1000 + 37 * i));
    return " Referred by Dr. " + name + ", tel. " + phone + ", " + user + "." +
           std::to_string(100 + i) + "@" + kPlantedDomain + ".";
}
constexpr int64_t kPlantEvery = 50;

struct DomainData {
    int64_t raw = 0, planted = 0, medical_heldout = 0, general_heldout = 0;
    int64_t too_long = 0; // held-out documents left out for the base model's context
};

// Held-out documents scored whole: those of at most 2,000 characters (~500 tokens), well
// inside the base model's 1,024 positions; a handful of long general articles are left out.
constexpr size_t kMaxHeldOutChars = 2000;
std::vector<const data::gcide::Document*>
fitting_context(const std::vector<const data::gcide::Document*>& docs) {
    std::vector<const data::gcide::Document*> kept;
    for (const data::gcide::Document* d : docs)
        if (d->text.size() <= kMaxHeldOutChars)
            kept.push_back(d);
    return kept;
}

DomainData
write_domain_data(const data::gcide::Corpus& corpus, const Layout& l, std::ostream& progress) {
    const data::gcide::Splits splits = data::gcide::split_corpus(corpus);
    // The raw medical file, with the planted contact lines.
    std::vector<data::gcide::Document> raw;
    raw.reserve(splits.medical.size());
    DomainData d;
    for (const data::gcide::Document* doc : splits.medical) {
        raw.push_back(*doc);
        if (static_cast<int64_t>(raw.size()) % kPlantEvery == 0)
            raw.back().text += planted_contact(d.planted++);
    }
    std::vector<const data::gcide::Document*> raw_refs;
    for (const auto& doc : raw)
        raw_refs.push_back(&doc);
    data::gcide::write_jsonl(l.raw_medical(), raw_refs);
    const auto medical_heldout = fitting_context(splits.medical_heldout);
    const auto general_heldout = fitting_context(splits.general_heldout);
    data::gcide::write_jsonl(l.medical_heldout(), medical_heldout);
    data::gcide::write_jsonl(l.general_heldout(), general_heldout);
    d.raw = static_cast<int64_t>(raw.size());
    d.medical_heldout = static_cast<int64_t>(medical_heldout.size());
    d.general_heldout = static_cast<int64_t>(general_heldout.size());
    d.too_long =
        static_cast<int64_t>(splits.medical_heldout.size() + splits.general_heldout.size() -
                             medical_heldout.size() - general_heldout.size());
    progress << "data: " << d.raw << " raw medical senses of GCIDE (" << d.planted
             << " given an invented clinician's phone and e-mail), " << d.medical_heldout
             << " medical and " << d.general_heldout << " general documents held out ("
             << d.too_long << " longer than " << kMaxHeldOutChars << " characters left out)\n";
    return d;
}

// ---- curation ----
data::curate::CurateSummary
curate_domain_data(const QuickstartOptions& o, const Layout& l, std::ostream& progress) {
    const CurateRecipe chosen = load_curate_recipe(o.recipe, {}, {l.raw_medical()});
    data::curate::CurateRunOptions run{.version = SLIMTUNE_VERSION_STRING,
                                       .settings = curate_settings(chosen.recipe),
                                       .progress = nullptr};
    data::curate::CurateSummary s = data::curate::curate_files(
        {l.raw_medical()}, l.curated.string(), chosen.recipe.curate, run);
    progress << "curate: " << s.documents_in << " documents in, " << s.documents_out << " out\n";
    for (const auto& st : s.stages) {
        if (!st.enabled || (st.dropped == 0 && st.modified == 0))
            continue;
        progress << "  " << st.name << ": " << st.dropped << " dropped, " << st.modified
                 << " modified";
        std::string sep = " (";
        for (const auto& [why, n] : st.drop_reasons)
            progress << sep << why << " " << n, sep = ", ";
        for (const auto& [what, n] : st.changes)
            progress << sep << what << " " << n, sep = ", ";
        progress << (sep == " (" ? "" : ")") << "\n";
    }
    progress << "  report: " << (l.curated / "report.md").string() << "\n";
    return s;
}

// Planted contact details left in the curated file (0 when the PII stage caught every one).
int64_t planted_contacts_left(const Layout& l) {
    std::ifstream in = open_regular_file(l.curated_file(), "curated data");
    int64_t left = 0;
    std::string line;
    for (int64_t n = 1; read_line(in, line, l.curated_file(), n); ++n)
        left += line.find(kPlantedDomain) != std::string::npos ||
                line.find(kPlantedPhonePrefix) != std::string::npos;
    return left;
}

// ---- fine-tuning ----
RunResult fine_tune(const QuickstartOptions& o, const Layout& l, std::ostream& progress) {
    std::vector<std::string> overrides = {"--model.path",       o.base,
                                          "--data.train",       l.curated_file(),
                                          "--data.validation",  l.medical_heldout(),
                                          "--train.output_dir", l.run.string()};
    if (const QuickstartBudget b = quickstart_budget(o.quick); b.max_steps > 0)
        overrides.insert(overrides.end(), {"--train.max_steps", std::to_string(b.max_steps),
                                           "--eval.every", std::to_string(b.max_steps / 2)});
    const Recipe recipe = load_recipe(o.recipe, overrides);
    progress << "train: LoRA on " << o.base << " (recipe " << o.recipe << ")\n";
    return run_training(recipe, RunControl{}, progress);
}

// ---- held-out comparison ----
std::vector<HeldOutScore> compare_on_heldout(const QuickstartOptions& o,
                                             const Layout& l,
                                             const std::string& adapter,
                                             std::ostream& progress) {
    const data::Tokenizer tokenizer = data::Tokenizer::load(o.base);
    Model m = load_model(o.base);
    const data::ExampleOptions eo = data::example_options({}, "", &tokenizer, m.cfg.vocab_size);
    const int64_t max_tokens = quickstart_budget(o.quick).eval_tokens;
    std::vector<HeldOutScore> scores = {{"medical (held out)", l.medical_heldout()},
                                        {"general (held out)", l.general_heldout()}};
    for (HeldOutScore& s : scores) {
        const DatasetLoss r = dataset_loss(m, s.path, eo, max_tokens);
        s.base_loss = r.loss, s.tokens = r.tokens;
    }
    apply_adapter(m, adapter, progress);
    for (HeldOutScore& s : scores)
        s.tuned_loss = dataset_loss(m, s.path, eo, max_tokens).loss;
    return scores;
}

void print_scores(const std::vector<HeldOutScore>& scores, std::ostream& progress) {
    char line[160];
    progress << "\n| held-out text | tokens | base perplexity | fine-tuned | change |\n"
             << "|---|---:|---:|---:|---:|\n";
    for (const HeldOutScore& s : scores) {
        std::snprintf(line, sizeof line, "| %s | %lld | %.2f | %.2f | %+.1f %% |\n", s.name.c_str(),
                      static_cast<long long>(s.tokens), s.base_perplexity(), s.tuned_perplexity(),
                      100.0 * s.change());
        progress << line;
    }
    progress << "\n";
}

// ---- export ----
// The adapter over the base as `format` into export/FORMAT/: the GGUF types with each one's
// held-out medical perplexity in the model card, or the PEFT directory.
ExportResult export_adapter(const QuickstartOptions& o,
                            const Layout& l,
                            const std::string& adapter,
                            const std::string& format,
                            std::ostream& progress) {
    ExportOptions e{.model_dir = o.base,
                    .adapter_dir = adapter,
                    .format = format,
                    .out = (l.export_dir / format).string(),
                    .name = "tiny-gcide-medical"};
    if (format == "gguf") {
        e.types = {io::ExportType::Q8_0, io::ExportType::Q4_K_M};
        e.eval_data = l.medical_heldout();
        e.eval_max_tokens = quickstart_budget(o.quick).eval_tokens;
    }
    return export_model(e, progress);
}

// ---- samples ----
const char* const kPrompts[] = {"Inflammation of the", "A disease in which",
                                "The operation of removing"};

// Greedy with a repetition penalty (a model this small otherwise loops), up to EOS.
SamplingOptions sampling(const data::Tokenizer& tok, int64_t new_tokens) {
    SamplingOptions s{.max_new_tokens = new_tokens, .repetition_penalty = 1.3f};
    if (tok.eos_id())
        s.stop_ids.push_back(*tok.eos_id());
    return s;
}

// A prompt and its continuation fit llama.cpp's context with room to spare.
constexpr int kSampleContext = 256;

std::string continue_prompt(const Model& m,
                            const data::Tokenizer& tok,
                            const std::string& prompt,
                            int64_t new_tokens) {
    return tok.decode(generate(m, tok.encode(prompt, false), sampling(tok, new_tokens)),
                      {.skip_special_tokens = true});
}

// llama.cpp's libraries, opened and checked before any work: an explicit directory that
// cannot be used is an error; none found on the loader's path is only a note.
LlamaCppUse find_llama_cpp(const std::string& dir, std::ostream& progress) {
    LlamaCppUse use;
    if (dir == kNoLlamaCpp) {
        use.note = "not asked for (--llama-cpp " + std::string(kNoLlamaCpp) + ")";
        return use;
    }
    try {
        llama_cpp::open(dir);
        llama_cpp::check_api();
        use.used = true;
        use.library = dir.empty() ? "libllama.so on the loader's path" : dir;
        progress << "llama.cpp: " << use.library << " (also generates the samples)\n";
    } catch (const std::runtime_error& e) {
        if (!dir.empty())
            throw ConfigError("--llama-cpp " + dir + ": " + e.what());
        use.note = std::string("not used: ") + e.what();
        progress << "llama.cpp: no usable libllama.so on the loader's path; the samples come from "
                    "slimtune's GGUF reader alone (--llama-cpp DIR names its directory)\n";
    }
    return use;
}

// Where llama.cpp's greedy continuation leaves slimtune's, and by how much llama.cpp's own
// (penalised) logits prefer its token to ours there; nothing when the two are the same.
std::optional<SampleSplit> split_point(llama_cpp::Model& lc,
                                       const std::vector<int32_t>& prompt,
                                       const std::vector<int32_t>& ours,
                                       const std::vector<int32_t>& theirs,
                                       const SamplingOptions& opts) {
    const auto [a, b] = std::mismatch(ours.begin(), ours.end(), theirs.begin(), theirs.end());
    if (a == ours.end() && b == theirs.end())
        return std::nullopt;
    const auto k = a - ours.begin();
    std::vector<int32_t> seq = prompt;
    seq.insert(seq.end(), ours.begin(), a);
    std::vector<float> rows = lc.logits(seq);
    std::span<float> last(rows.data() + rows.size() - static_cast<size_t>(lc.n_vocab()),
                          static_cast<size_t>(lc.n_vocab()));
    Rng rng(opts.seed);
    const int32_t best = sample_next(last, seq, opts, rng); // penalises `last` in place
    const float ours_logit = a == ours.end() ? last[best] : last[static_cast<size_t>(*a)];
    return SampleSplit{.token = k, .logit_gap = static_cast<double>(last[best] - ours_logit)};
}

// llama.cpp continues a sample as slimtune did, or says where it leaves it.
void continue_with_llama_cpp(llama_cpp::Model& lc,
                             const data::Tokenizer& tok,
                             const std::vector<int32_t>& prompt,
                             const std::vector<int32_t>& ours,
                             const SamplingOptions& opts,
                             Sample& s,
                             std::ostream& progress) {
    const std::vector<int32_t> theirs = llama_cpp::generate(lc, prompt, opts);
    s.llama_cpp = tok.decode(theirs, {.skip_special_tokens = true});
    progress << "  llama.cpp:  " << s.prompt << s.llama_cpp;
    s.llama_cpp_split = split_point(lc, prompt, ours, theirs, opts);
    if (!s.llama_cpp_split)
        progress << "  (the same tokens)\n";
    else
        progress << "\n              (from new token " << s.llama_cpp_split->token + 1
                 << " on: a near tie, llama.cpp scores slimtune's choice "
                 << fixed_digits(s.llama_cpp_split->logit_gap, 3)
                 << " below its own; it rounds activations to 8 bits)\n";
}

// The samples, from the base model and the fine-tuned Q4_K_M file, and from llama.cpp where
// `use` says it was found. llama.cpp failing on the file (its load or a decode) does not fail
// the run: the samples stay slimtune's, and `use` records why.
std::vector<Sample> generate_samples(const QuickstartOptions& o,
                                     const std::string& q4_k_m,
                                     LlamaCppUse& use,
                                     std::ostream& progress) {
    const int64_t n = quickstart_budget(o.quick).sample_tokens;
    std::vector<Sample> samples;
    {
        const data::Tokenizer tok = data::Tokenizer::load(o.base);
        const Model base = load_model(o.base);
        for (const char* p : kPrompts)
            samples.push_back({.prompt = p, .base = continue_prompt(base, tok, p, n)});
    }
    const io::GgufFile f = io::GgufFile::open(q4_k_m);
    const data::Tokenizer tok = gguf_tokenizer(f);
    const Model tuned = io::load_gguf_model(f);
    std::optional<llama_cpp::Model> lc;
    const auto drop_llama_cpp = [&](const std::runtime_error& e) {
        lc.reset();
        use.used = false;
        use.note = std::string("failed on ") + q4_k_m + ": " + e.what();
        for (Sample& s : samples) {
            s.llama_cpp.clear();
            s.llama_cpp_split.reset();
        }
        progress << "llama.cpp: " << use.note << "; the samples are slimtune's alone\n";
    };
    if (use.used)
        try {
            lc.emplace(llama_cpp::Model::load(q4_k_m, kSampleContext, omp_get_max_threads()));
        } catch (const std::runtime_error& e) {
            drop_llama_cpp(e);
        }
    for (Sample& s : samples) {
        const std::vector<int32_t> ids = tok.encode(s.prompt, false);
        const SamplingOptions opts = sampling(tok, n);
        const std::vector<int32_t> ours = generate(tuned, ids, opts);
        s.tuned = tok.decode(ours, {.skip_special_tokens = true});
        progress << "sample: \"" << s.prompt << "\"\n  base:       " << s.prompt << s.base
                 << "\n  fine-tuned: " << s.prompt << s.tuned << "\n";
        if (lc)
            try {
                continue_with_llama_cpp(*lc, tok, ids, ours, opts, s, progress);
            } catch (const std::runtime_error& e) {
                drop_llama_cpp(e);
            }
    }
    return samples;
}

// ---- summary ----
nlohmann::json summary_json(const QuickstartResult& r,
                            const DomainData& d,
                            const data::curate::CurateSummary& curation,
                            const Layout& l,
                            bool quick,
                            const nlohmann::json& seconds) {
    nlohmann::json scores = nlohmann::json::array();
    for (const HeldOutScore& s : r.scores)
        scores.push_back({{"name", s.name},
                          {"path", s.path},
                          {"tokens", s.tokens},
                          {"base_loss", s.base_loss},
                          {"tuned_loss", s.tuned_loss},
                          {"base_perplexity", s.base_perplexity()},
                          {"tuned_perplexity", s.tuned_perplexity()},
                          {"change", s.change()}});
    nlohmann::json files = nlohmann::json::array();
    for (const ModelCardFile& f : r.card.files)
        files.push_back({{"file", f.file},
                         {"type", f.type},
                         {"bytes", f.bytes},
                         {"perplexity", f.perplexity ? nlohmann::json(*f.perplexity) : nullptr}});
    nlohmann::json exports = {{"dir", l.export_dir.string()},
                              {"f32_perplexity", r.card.f32_perplexity
                                                     ? nlohmann::json(*r.card.f32_perplexity)
                                                     : nullptr},
                              {"eval_tokens", r.card.eval_tokens},
                              {"files", files}};
    nlohmann::json samples = nlohmann::json::array();
    for (const Sample& s : r.samples)
        samples.push_back(
            {{"prompt", s.prompt},
             {"base", s.base},
             {"fine_tuned", s.tuned},
             {"llama_cpp", r.llama_cpp.used ? nlohmann::json(s.llama_cpp) : nullptr},
             {"llama_cpp_split", s.llama_cpp_split
                                     ? nlohmann::json{{"token", s.llama_cpp_split->token},
                                                      {"logit_gap", s.llama_cpp_split->logit_gap}}
                                     : nullptr}});
    return {{"quick", quick},
            {"data",
             {{"raw_medical", d.raw},
              {"planted_contact_lines", d.planted},
              {"medical_heldout", d.medical_heldout},
              {"general_heldout", d.general_heldout},
              {"heldout_too_long", d.too_long}}},
            {"curation",
             {{"documents_in", curation.documents_in},
              {"documents_out", curation.documents_out},
              {"pii_documents", curation.pii_documents},
              {"pii_by_type", curation.pii_by_type},
              {"report", (l.curated / "report.json").string()}}},
            {"training", {{"steps", r.steps}, {"run", l.run.string()}}},
            {"heldout", scores},
            {"domain_gain_target", kQuickstartDomainGain},
            {"exports", exports},
            {"model_card", r.model_card},
            {"peft", r.peft_dir},
            {"samples", samples},
            {"llama_cpp",
             {{"used", r.llama_cpp.used},
              {"library", r.llama_cpp.library},
              {"note", r.llama_cpp.note}}},
            {"seconds", seconds}};
}

} // namespace

QuickstartResult run_quickstart(const QuickstartOptions& o, std::ostream& progress) {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    nlohmann::json seconds = nlohmann::json::object();
    auto phase_done = [&, last = start](const char* name) mutable {
        const auto now = clock::now();
        seconds[name] = std::chrono::duration<double>(now - last).count();
        last = now;
    };
    progress << "quickstart: base " << o.base << ", recipe " << o.recipe << ", dictionary "
             << o.dictionary << "\n";
    for (const auto& [what, path] : {std::pair{"base model", o.base}, {"recipe", o.recipe}})
        if (std::error_code ec; !fs::exists(path, ec))
            throw ConfigError(path + ": the quickstart's " + what + " does not exist");

    // Every input is read, and llama.cpp found, before anything is written.
    const data::gcide::Corpus corpus = data::gcide::read_corpus(o.dictionary);
    QuickstartResult r;
    r.llama_cpp = find_llama_cpp(o.llama_cpp, progress);
    const Layout l = prepare_output(o);
    const DomainData d = write_domain_data(corpus, l, progress);
    phase_done("data");
    const data::curate::CurateSummary curation = curate_domain_data(o, l, progress);
    const int64_t left = planted_contacts_left(l);
    progress << "  planted contact lines: " << d.planted << " (" << curation.pii_documents
             << " in senses that passed the quality stage), " << left << " left in curated.jsonl\n";
    if (left > 0)
        throw Error(l.curated_file() + ": " + std::to_string(left) +
                    " planted contact lines survived curation's PII stage");
    phase_done("curate");
    const RunResult run = fine_tune(o, l, progress);
    phase_done("train");
    r.scores = compare_on_heldout(o, l, run.output, progress);
    print_scores(r.scores, progress);
    phase_done("evaluate");
    const ExportResult gguf = export_adapter(o, l, run.output, "gguf", progress);
    r.gguf = gguf.gguf;
    r.model_card = gguf.model_card;
    r.card = gguf.card;
    r.peft_dir = export_adapter(o, l, run.output, "peft", progress).out;
    phase_done("export");
    const GgufExportReport& q4 = r.gguf.back(); // types are written in the order given
    r.samples = generate_samples(o, q4.path, r.llama_cpp, progress);
    phase_done("samples");

    r.planted_pii = d.planted;
    r.pii_documents = curation.pii_documents;
    r.raw_documents = curation.documents_in;
    r.curated_documents = curation.documents_out;
    r.steps = run.steps;
    seconds["total"] = std::chrono::duration<double>(clock::now() - start).count();
    r.summary = summary_json(r, d, curation, l, o.quick, seconds);
    write_file_atomic((l.out / "quickstart.json").string(),
                      [&](std::ostream& os) { os << r.summary.dump(2) << "\n"; });
    r.report = write_report(l.out.string()).html;
    return r;
}

} // namespace slimtune::train
