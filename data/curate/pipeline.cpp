#include "data/curate/pipeline.h"

#include "common/error.h"
#include "data/curate/lexicon.h"
#include "data/curate/manifest.h"
#include "data/curate/report.h"
#include "data/tokenizer/tokenizer.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <omp.h>
#include <optional>
#include <unistd.h>

namespace slimtune::data::curate {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Stage ids, in pipeline order (also the index into per-thread timers).
enum Stage {
    kRead,
    kNormalize,
    kLength,
    kQuality,
    kRepetition,
    kFineweb,
    kExact,
    kNear,
    kPii,
    kToxicity,
    kBias,
    kStages
};
constexpr std::array<const char*, kStages> kStageNames{
    "read",        "normalize",  "length", "quality",  "repetition", "fineweb",
    "exact_dedup", "near_dedup", "pii",    "toxicity", "bias"};

// Everything the stages need, built once and shared (const, thread-safe) by all threads.
struct Stages {
    const CurateConfig& c;
    std::unique_ptr<Tokenizer> tokenizer;
    MinHasher minhash;
    PiiDetector pii;
    Lexicon tox_lexicon, bias_lexicon;
    std::optional<ToxicityScreen> toxicity;
    std::optional<BiasCounter> bias;
    std::optional<CounterfactualSwapper> swapper;

    explicit Stages(const CurateConfig& config)
        : c(config), minhash(config.dedup.minhash), pii(config.pii.detect) {
        if (!c.length.tokenizer.empty())
            tokenizer = std::make_unique<Tokenizer>(Tokenizer::load(c.length.tokenizer));
        if (c.toxicity.enabled) {
            tox_lexicon = load_lexicons(c.toxicity.lexicon_dir, c.toxicity.replace_lexicons);
            toxicity.emplace(c.toxicity, tox_lexicon);
        }
        if (c.bias.enabled) {
            bias_lexicon = load_lexicons(c.bias.lexicon_dir, c.bias.replace_lexicons);
            bias.emplace(c.bias, bias_lexicon);
            if (c.bias.balance.find("cda") != std::string::npos)
                swapper.emplace(bias_lexicon);
        }
    }
};

// One document on its way through the stages.
struct Doc {
    std::string source; // "file:line"
    int64_t index = 0;  // input order over all files
    std::string raw;    // the line as read
    std::optional<Record> record;
    std::string text; // record_text after the text stages (what dedup, PII ... measure)
    // The first stage that dropped it, and why.
    int drop_stage = -1;
    std::string reason;
    json detail; // rule value and threshold, duplicate source, PII counts ...
    std::vector<std::pair<int, std::string>> changes; // (stage, what)
    std::string read_error;                           // a malformed line, in input order
    DedupFingerprint fingerprint;
    bool has_fingerprint = false;
    std::map<std::string, int64_t> pii_counts;
    int64_t pii_spans = 0;
    std::optional<ToxicityResult> tox;
    std::optional<DocBias> bias;
    int64_t bytes = 0;

    void drop(int stage, std::string why, json more = json::object()) {
        drop_stage = stage;
        reason = std::move(why);
        detail = std::move(more);
    }
    bool alive() const { return drop_stage < 0; }
};

struct ThreadTimes {
    std::array<double, kStages> seconds{};
    std::array<int64_t, kStages> bytes{};
};

// Times one stage of one document into the calling thread's slot.
class StageTimer {
public:
    StageTimer(ThreadTimes& t, int stage, int64_t bytes) : t_(t), stage_(stage) {
        t_.bytes[static_cast<std::size_t>(stage)] += bytes;
    }
    ~StageTimer() {
        t_.seconds[static_cast<std::size_t>(stage_)] +=
            std::chrono::duration<double>(Clock::now() - start_).count();
    }
    StageTimer(const StageTimer&) = delete;
    StageTimer& operator=(const StageTimer&) = delete;

private:
    ThreadTimes& t_;
    int stage_;
    Clock::time_point start_ = Clock::now();
};

json rule_detail(const RuleFailure& f) {
    return {{"value", f.value}, {"threshold", f.threshold}};
}

int64_t count_words(std::string_view text) {
    int64_t n = 0;
    bool in_word = false;
    for (char ch : text) {
        const bool space = ch == ' ' || ch == '\n' || ch == '\t';
        n += !space && !in_word;
        in_word = !space;
    }
    return n;
}

// Stages read .. fineweb, dedup fingerprints, PII, toxicity and bias counts: everything that
// depends on the document alone. Runs on many threads at once.
void process_document(Doc& d, const Stages& s, ThreadTimes& times) {
    const CurateConfig& c = s.c;
    {
        StageTimer t(times, kRead, static_cast<int64_t>(d.raw.size()));
        std::string_view line = d.raw;
        std::string repaired;
        // JSON cannot carry ill-formed UTF-8: repair it (or drop) before parsing.
        if (!is_valid_utf8(line)) {
            if (c.normalize.enabled && c.normalize.invalid_utf8 == "drop") {
                d.drop(kNormalize, "invalid_utf8");
                return;
            }
            std::size_t replaced = 0;
            repaired = sanitize_utf8(line, &replaced);
            line = repaired;
            d.changes.emplace_back(kNormalize, "invalid_utf8_repaired");
        }
        try {
            d.record = parse_record(line, c.record);
        } catch (const RecordError& e) {
            const std::string what = (e.field.empty() ? "" : "field '" + e.field + "' ") + e.what;
            if (c.on_bad_line != "skip")
                d.read_error = d.source + ": " + what;
            d.drop(kRead, "bad_line", {{"error", what}});
            return;
        }
    }
    Record& rec = *d.record;
    const bool is_text = rec.format != DatasetFormat::tokens;
    if (is_text && c.normalize.enabled) {
        StageTimer t(times, kNormalize, static_cast<int64_t>(d.raw.size()));
        bool form = false, control = false, space = false;
        for (json* slot : text_slots(rec, c.record)) {
            NormalizeResult n = normalize_text(slot->get_ref<const std::string&>(), c.normalize);
            form |= n.changed_form;
            control |= n.removed_control;
            space |= n.changed_whitespace;
            if (n.changed())
                *slot = std::move(n.text);
        }
        if (form)
            d.changes.emplace_back(kNormalize, "unicode_form");
        if (control)
            d.changes.emplace_back(kNormalize, "control_characters");
        if (space)
            d.changes.emplace_back(kNormalize, "whitespace");
    }
    d.text = is_text ? record_text(rec, c.record) : std::string();
    d.bytes = static_cast<int64_t>(d.text.size());
    if (c.length.enabled) {
        StageTimer t(times, kLength, d.bytes);
        const LengthConfig& L = c.length;
        if (is_text) {
            const int64_t words = count_words(d.text);
            if (words < L.min_words)
                return d.drop(kLength, "min_words", {{"value", words}, {"threshold", L.min_words}});
            if (L.max_words > 0 && words > L.max_words)
                return d.drop(kLength, "max_words", {{"value", words}, {"threshold", L.max_words}});
        }
        if (L.min_tokens > 0 || L.max_tokens > 0) {
            int64_t tokens = 0;
            if (!is_text)
                tokens = static_cast<int64_t>(rec.value["input_ids"].size());
            else if (s.tokenizer)
                tokens = static_cast<int64_t>(s.tokenizer->encode(d.text, false).size());
            else
                throw ConfigError("curate.length.min_tokens/max_tokens need "
                                  "curate.length.tokenizer (a model directory)");
            if (tokens < L.min_tokens)
                return d.drop(kLength, "min_tokens",
                              {{"value", tokens}, {"threshold", L.min_tokens}});
            if (L.max_tokens > 0 && tokens > L.max_tokens)
                return d.drop(kLength, "max_tokens",
                              {{"value", tokens}, {"threshold", L.max_tokens}});
        }
    }
    if (is_text) {
        if (c.quality.enabled) {
            StageTimer t(times, kQuality, d.bytes);
            if (auto f = gopher_quality(d.text, c.quality))
                return d.drop(kQuality, f->rule, rule_detail(*f));
        }
        if (c.repetition.enabled) {
            StageTimer t(times, kRepetition, d.bytes);
            if (auto f = gopher_repetition(d.text, c.repetition))
                return d.drop(kRepetition, f->rule, rule_detail(*f));
        }
        if (c.fineweb.enabled) {
            StageTimer t(times, kFineweb, d.bytes);
            if (auto f = fineweb_quality(d.text, c.fineweb))
                return d.drop(kFineweb, f->rule, rule_detail(*f));
        }
    }
    if (c.dedup.exact || c.dedup.near) {
        // One fingerprint serves both dedup stages; its time goes to near_dedup when it is on.
        StageTimer t(times, c.dedup.near ? kNear : kExact, d.bytes);
        if (is_text) {
            d.fingerprint = s.minhash.fingerprint(d.text);
        } else {
            // Pre-tokenized records: exact duplicates of the id (and label) lists only.
            d.fingerprint.exact_hash =
                hash64(rec.value["input_ids"].dump() +
                       (rec.value.contains("labels") ? rec.value["labels"].dump() : std::string()));
        }
        d.has_fingerprint = true;
    }
    if (!is_text)
        return;
    if (c.pii.detect.enabled) {
        StageTimer t(times, kPii, d.bytes);
        for (json* slot : text_slots(rec, c.record)) {
            const auto& field = slot->get_ref<const std::string&>();
            const std::vector<PiiSpan> spans = s.pii.find(field);
            if (spans.empty())
                continue;
            for (const PiiSpan& sp : spans)
                ++d.pii_counts[sp.type];
            d.pii_spans += static_cast<int64_t>(spans.size());
            // Redacted whatever the policy: a dropped document's copy in rejected.jsonl must
            // not carry the PII either.
            *slot = redact(field, spans);
        }
        if (d.pii_spans > 0)
            d.text = record_text(rec, c.record);
    }
    if (s.toxicity) {
        StageTimer t(times, kToxicity, d.bytes);
        d.tox = s.toxicity->screen(d.text);
    }
    if (s.bias) {
        StageTimer t(times, kBias, d.bytes);
        d.bias = s.bias->count(d.text);
    }
}

json changes_json(const Doc& d) {
    json a = json::array();
    for (const auto& [stage, what] : d.changes)
        a.push_back(std::string(kStageNames[static_cast<std::size_t>(stage)]) + ":" + what);
    return a;
}

// The files of one run, in a temporary directory inside out_dir until they are complete.
struct Outputs {
    fs::path dir, tmp;
    // pass1: the documents kept by the first pass; decisions of dropped documents go straight
    // to decisions.jsonl, those of kept ones to kept_decisions.jsonl (line k for pass1 line k)
    // until balancing has had its say; the two are then merged in input order.
    std::ofstream curated, rejected, decisions, kept_decisions;

    explicit Outputs(const std::string& out_dir) : dir(out_dir) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec)
            throw Error(out_dir + ": cannot create directory: " + ec.message());
        tmp = dir / (".curate-tmp-" + std::to_string(::getpid()));
        fs::remove_all(tmp, ec);
        fs::create_directories(tmp, ec);
        if (ec)
            throw Error(tmp.string() + ": cannot create directory: " + ec.message());
        open(curated, "pass1.jsonl");
        open(rejected, "rejected.jsonl");
        open(decisions, "dropped_decisions.jsonl");
        open(kept_decisions, "kept_decisions.jsonl");
    }
    ~Outputs() {
        std::error_code ec;
        fs::remove_all(tmp, ec); // whatever was not renamed into place
    }
    Outputs(const Outputs&) = delete;
    Outputs& operator=(const Outputs&) = delete;

    void open(std::ofstream& f, const char* name) {
        f.open(tmp / name, std::ios::binary);
        if (!f)
            throw Error((tmp / name).string() + ": cannot create file");
    }
    static void close(std::ofstream& f, const fs::path& p) {
        f.close();
        if (!f)
            throw Error(p.string() + ": write failed (disk full?)");
    }
};

// Balancing plan for one skew pair (a, b) from the first pass's totals: c_a, c_b over all kept
// documents, c_ad, c_bd over the documents leaning to a. Adding swapped copies of a fraction q
// of the a-leaning documents moves c_a/c_b to (c_a + q c_bd) / (c_b + q c_ad); keeping a
// fraction p of them moves it to (c_a - (1-p) c_ad) / (c_b - (1-p) c_bd). Each is solved for the
// cap R (bias.max_skew) and clamped to [0, 1]: the smallest change that reaches the cap.
struct PairPlan {
    uint32_t a = 0, b = 0;
    bool swappable = false; // both groups on the gender axis: CDA applies
    double c_a = 0, c_b = 0, c_ad = 0, c_bd = 0;
    double cda_fraction = 0, keep_rate = 1;
    int64_t added = 0, removed = 0;
};

double clamp01(double x) {
    return std::isfinite(x) ? std::clamp(x, 0.0, 1.0) : 0.0;
}

std::vector<PairPlan> plan_balance(const Stages& s,
                                   const std::vector<std::vector<std::array<int64_t, 2>>>& counts) {
    std::vector<PairPlan> plans;
    const BiasConfig& bc = s.c.bias;
    const bool cda = bc.balance == "cda" || bc.balance == "cda+downsample";
    const bool down = bc.balance == "downsample" || bc.balance == "cda+downsample";
    const double R = bc.max_skew;
    for (std::size_t p = 0; p < s.bias->skew_pairs().size(); ++p) {
        PairPlan pl;
        std::tie(pl.a, pl.b) = s.bias->skew_pairs()[p];
        pl.swappable =
            s.bias->groups()[pl.a].axis == "gender" && s.bias->groups()[pl.b].axis == "gender";
        for (const auto& doc : counts) {
            const auto [ca, cb] = doc[p];
            pl.c_a += static_cast<double>(ca);
            pl.c_b += static_cast<double>(cb);
            if (ca > cb) {
                pl.c_ad += static_cast<double>(ca);
                pl.c_bd += static_cast<double>(cb);
            }
        }
        double ca = pl.c_a, cb = pl.c_b;
        if (cda && pl.swappable && ca > R * cb) {
            pl.cda_fraction = clamp01((ca - R * cb) / (R * pl.c_ad - pl.c_bd));
            ca += pl.cda_fraction * pl.c_bd;
            cb += pl.cda_fraction * pl.c_ad;
        }
        if (down && ca > R * cb && pl.c_ad > R * pl.c_bd)
            pl.keep_rate = clamp01((R * (cb - pl.c_bd) - (ca - pl.c_ad)) / (pl.c_ad - R * pl.c_bd));
        plans.push_back(pl);
    }
    return plans;
}

std::ifstream open_in(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f)
        throw Error(p.string() + ": cannot open file");
    return f;
}

// Pass 2: reads pass1.jsonl with its decisions, applies the balancing plan (seeded, the same
// documents whatever the thread count), writes curated.jsonl and the kept documents' final
// decisions, and counts the representation of what is finally written.
void balance(Outputs& out,
             const std::vector<std::vector<std::array<int64_t, 2>>>& counts,
             const Stages& s,
             CurateSummary& sum) {
    const bool active = s.bias && s.c.bias.balance != "none";
    std::vector<PairPlan> plans;
    if (active)
        plans = plan_balance(s, counts);
    std::ifstream pass1 = open_in(out.tmp / "pass1.jsonl");
    std::ifstream kept = open_in(out.tmp / "kept_decisions.jsonl");
    std::ofstream curated, decisions;
    out.open(curated, "curated.jsonl");
    out.open(decisions, "final_kept_decisions.jsonl");
    std::optional<BiasAccumulator> after;
    if (active)
        after.emplace(*s.bias);
    StageCounts& st = sum.stages[kBias];
    const uint64_t seed = s.c.bias.seed;
    std::string line, decision;
    int64_t k = 0;
    sum.bytes_out = 0;
    sum.documents_out = 0;
    auto emit = [&](const std::string& text_line, const Record& rec) {
        curated << text_line << "\n";
        sum.bytes_out += static_cast<int64_t>(text_line.size()) + 1;
        ++sum.documents_out;
        if (after)
            after->add(s.bias->count(record_text(rec, s.c.record)));
    };
    while (std::getline(pass1, line)) {
        if (!std::getline(kept, decision))
            throw Error((out.tmp / "kept_decisions.jsonl").string() + ": out of step");
        if (!active) {
            curated << line << "\n";
            sum.bytes_out += static_cast<int64_t>(line.size()) + 1;
            ++sum.documents_out;
            decisions << decision << "\n";
            ++k;
            continue;
        }
        const Record rec = parse_record(line, s.c.record);
        json dec = json::parse(decision);
        std::string dropped_by;
        bool copy = false;
        for (std::size_t p = 0; p < plans.size(); ++p) {
            PairPlan& pl = plans[p];
            if (counts[static_cast<std::size_t>(k)][p][0] <=
                counts[static_cast<std::size_t>(k)][p][1])
                continue; // does not lean to a
            const std::string pair =
                s.bias->groups()[pl.a].name + "_over_" + s.bias->groups()[pl.b].name;
            if (pl.cda_fraction > 0 && keep_document(seed ^ 0x636461ULL, k, pl.cda_fraction) &&
                !copy) {
                copy = true;
                ++pl.added;
            }
            if (pl.keep_rate < 1 && dropped_by.empty() && !keep_document(seed, k, pl.keep_rate)) {
                dropped_by = "downsampled_" + pair;
                ++pl.removed;
            }
        }
        if (!dropped_by.empty()) {
            ++st.dropped;
            ++st.drop_reasons[dropped_by];
            dec["status"] = "dropped";
            dec["stage"] = "bias";
            dec["reason"] = dropped_by;
            out.rejected << json{{"source", dec["source"]},
                                 {"stage", "bias"},
                                 {"reason", dropped_by},
                                 {"detail", json::object()},
                                 {"record", rec.value}}
                                .dump()
                         << "\n";
        } else {
            emit(line, rec);
        }
        decisions << dec.dump() << "\n";
        if (copy) {
            Record swapped = rec;
            for (json* slot : text_slots(swapped, s.c.record))
                *slot = s.swapper->swap(slot->get_ref<const std::string&>());
            emit(swapped.value.dump(), swapped);
            ++st.added;
            decisions << json{{"doc", dec["doc"]},
                              {"source", dec["source"]},
                              {"status", "added"},
                              {"stage", "bias"},
                              {"reason", "counterfactual_copy"}}
                             .dump()
                      << "\n";
        }
        ++k;
    }
    if (k != static_cast<int64_t>(counts.size()) && active)
        throw Error((out.tmp / "pass1.jsonl").string() + ": out of step with the bias counts");
    Outputs::close(curated, out.tmp / "curated.jsonl");
    Outputs::close(decisions, out.tmp / "final_kept_decisions.jsonl");
    st.kept = st.in - st.dropped;
    sum.bias_after = after ? json(after->report()) : sum.bias_before;
    json plan_json = json::array();
    for (const PairPlan& pl : plans)
        plan_json.push_back({{"group_a", s.bias->groups()[pl.a].name},
                             {"group_b", s.bias->groups()[pl.b].name},
                             {"count_a", pl.c_a},
                             {"count_b", pl.c_b},
                             {"count_a_in_a_leaning_docs", pl.c_ad},
                             {"count_b_in_a_leaning_docs", pl.c_bd},
                             {"counterfactual_fraction", pl.cda_fraction},
                             {"counterfactual_copies", pl.added},
                             {"keep_rate", pl.keep_rate},
                             {"downsampled", pl.removed}});
    sum.balance = {{"mode", s.bias ? s.c.bias.balance : "off"},
                   {"max_skew", s.c.bias.max_skew},
                   {"pairs", plan_json}};
}

// decisions.jsonl: the dropped documents' lines and the kept ones', both in input order,
// merged by document index.
void merge_decisions(const fs::path& tmp) {
    std::ifstream a = open_in(tmp / "dropped_decisions.jsonl");
    std::ifstream b = open_in(tmp / "final_kept_decisions.jsonl");
    std::ofstream o(tmp / "decisions.jsonl", std::ios::binary);
    auto doc_of = [](const std::string& l) { return json::parse(l).at("doc").get<int64_t>(); };
    std::string la, lb;
    bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
    while (ha || hb) {
        if (ha && (!hb || doc_of(la) < doc_of(lb))) {
            o << la << "\n";
            ha = static_cast<bool>(std::getline(a, la));
        } else {
            o << lb << "\n";
            hb = static_cast<bool>(std::getline(b, lb));
        }
    }
    Outputs::close(o, tmp / "decisions.jsonl");
}

json file_entry(const fs::path& p, int64_t records) {
    json e = {{"sha256", sha256_file(p.string())},
              {"bytes", static_cast<int64_t>(fs::file_size(p))}};
    if (records >= 0)
        e["records"] = records;
    return e;
}

// Writes report.json, report.md and manifest.json into the temporary directory, then moves
// everything into out_dir; the old manifest goes first and the new one comes last, so that no
// moment exists where a manifest vouches for a file it does not describe.
void publish(Outputs& out,
             const CurateSummary& sum,
             const CurateConfig& c,
             const CurateRunOptions& run) {
    const json report = report_json(sum, run.settings);
    const fs::path& t = out.tmp;
    {
        std::ofstream f(t / "report.json", std::ios::binary);
        f << report.dump(2) << "\n";
        Outputs::close(f, t / "report.json");
        std::ofstream m(t / "report.md", std::ios::binary);
        m << report_markdown(report);
        Outputs::close(m, t / "report.md");
    }
    json inputs = json::array();
    for (const std::string& in : sum.inputs) {
        json e = file_entry(in, -1);
        e["path"] = in;
        inputs.push_back(e);
    }
    const StageCounts& bias = sum.stages[kBias];
    json manifest = {
        {"format", kManifestFormat},
        {"version", kManifestVersion},
        {"slimtune_version", run.version},
        {"record_format", format_name(c.record.format)},
        {"inputs", inputs},
        {"outputs",
         {{"curated.jsonl", file_entry(t / "curated.jsonl", sum.documents_out)},
          {"rejected.jsonl",
           file_entry(t / "rejected.jsonl", sum.documents_in - sum.documents_out + bias.added)},
          {"decisions.jsonl", file_entry(t / "decisions.jsonl", -1)},
          {"report.json", file_entry(t / "report.json", -1)},
          {"report.md", file_entry(t / "report.md", -1)}}},
        {"counts",
         {{"documents_in", sum.documents_in},
          {"documents_out", sum.documents_out},
          {"bad_lines", sum.bad_lines}}},
        {"stages", report.at("stages")},
    };
    {
        std::ofstream f(t / "manifest.json", std::ios::binary);
        f << manifest.dump(2) << "\n";
        Outputs::close(f, t / "manifest.json");
    }
    std::error_code ec;
    fs::remove(out.dir / "manifest.json", ec);
    for (const char* name : {"curated.jsonl", "rejected.jsonl", "decisions.jsonl", "report.json",
                             "report.md", "manifest.json"}) {
        fs::rename(t / name, out.dir / name, ec);
        if (ec)
            throw Error((out.dir / name).string() + ": cannot move into place: " + ec.message());
    }
}

} // namespace

CurateConfig resolve_curate_config(const CurateConfig& config) {
    CurateConfig c = config;
    c.record.format = parse_dataset_format(c.format);
    if (c.on_bad_line != "error" && c.on_bad_line != "skip")
        throw ConfigError("curate.on_bad_line is '" + c.on_bad_line + "'; expected error or skip");
    if (!c.pii.patterns_file.empty()) {
        std::ifstream in(c.pii.patterns_file);
        if (!in)
            throw ConfigError("curate.pii.patterns_file: cannot open " + c.pii.patterns_file);
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            if (line.empty() || line[0] == '#')
                continue;
            const auto tab = line.find('\t');
            if (tab == std::string::npos || tab == 0 || tab + 1 == line.size())
                throw ConfigError(c.pii.patterns_file + ":" + std::to_string(n) +
                                  ": expected NAME<TAB>REGEX");
            c.pii.detect.extra.push_back({line.substr(0, tab), line.substr(tab + 1)});
        }
    }
    check_curate_config(c);
    return c;
}

void check_curate_config(const CurateConfig& c) {
    check_normalize_config(c.normalize);
    if (c.length.min_words < 0 || c.length.max_words < 0 || c.length.min_tokens < 0 ||
        c.length.max_tokens < 0)
        throw ConfigError("curate.length bounds must be >= 0");
    if (c.pii.policy != "redact" && c.pii.policy != "drop")
        throw ConfigError("curate.pii.policy is '" + c.pii.policy + "'; expected redact or drop");
    if (c.pii.max_spans < 0)
        throw ConfigError("curate.pii.max_spans must be >= 0");
    if (c.chunk_docs < 1)
        throw ConfigError("curate.chunk_docs must be >= 1");
    MinHasher check_shape(c.dedup.minhash);
    (void)check_shape;
}

CurateSummary curate_files(const std::vector<std::string>& inputs,
                           const std::string& out_dir,
                           const CurateConfig& config,
                           const CurateRunOptions& run) {
    const CurateConfig c = resolve_curate_config(config);
    if (inputs.empty())
        throw ConfigError("curate: no input files");
    for (const std::string& in : inputs)
        if (!fs::is_regular_file(in))
            throw Error(in + ": no such file");
    const auto started = Clock::now();
    const Stages stages(c);
    if (c.threads > 0)
        omp_set_num_threads(c.threads);
    CurateSummary sum;
    sum.inputs = inputs;
    sum.threads = omp_get_max_threads();
    sum.stages.resize(kStages);
    for (std::size_t i = 0; i < kStages; ++i)
        sum.stages[i].name = kStageNames[i];
    sum.stages[kNormalize].enabled = c.normalize.enabled;
    sum.stages[kLength].enabled = c.length.enabled;
    sum.stages[kQuality].enabled = c.quality.enabled;
    sum.stages[kRepetition].enabled = c.repetition.enabled;
    sum.stages[kFineweb].enabled = c.fineweb.enabled;
    sum.stages[kExact].enabled = c.dedup.exact;
    sum.stages[kNear].enabled = c.dedup.near;
    sum.stages[kPii].enabled = c.pii.detect.enabled;
    sum.stages[kToxicity].enabled = c.toxicity.enabled;
    sum.stages[kBias].enabled = c.bias.enabled;

    Outputs out(out_dir);
    ExactIndex exact;
    LshIndex lsh(c.dedup.minhash.bands);
    std::optional<BiasAccumulator> before;
    if (stages.bias)
        before.emplace(*stages.bias);
    // Per kept document, its (c_a, c_b) for each skew pair: what balancing decides on.
    std::vector<std::vector<std::array<int64_t, 2>>> pair_counts;
    std::vector<std::string> kept_sources; // index -> source, for duplicate_of
    auto last_progress = Clock::now();
    std::vector<ThreadTimes> times(static_cast<std::size_t>(omp_get_max_threads()));

    auto finish_chunk = [&](std::vector<Doc>& docs) {
#pragma omp parallel for schedule(dynamic, 8)
        for (std::size_t i = 0; i < docs.size(); ++i)
            process_document(docs[i], stages,
                             times[static_cast<std::size_t>(omp_get_thread_num())]);
        // Decisions, in input order.
        for (Doc& d : docs) {
            if (!d.read_error.empty())
                throw FormatError(d.read_error);
            ++sum.documents_in;
            if (d.alive() && d.has_fingerprint) {
                if (c.dedup.exact) {
                    if (auto first = exact.find_or_insert(d.fingerprint.exact_hash, d.index))
                        d.drop(
                            kExact, "exact_duplicate",
                            {{"duplicate_of", kept_sources.at(static_cast<std::size_t>(*first))}});
                }
                if (d.alive() && c.dedup.near && d.record->format != DatasetFormat::tokens) {
                    if (d.fingerprint.band_keys.empty())
                        ++sum.dedup_too_short;
                    else if (auto first = lsh.find_or_insert(d.fingerprint.band_keys, d.index))
                        d.drop(
                            kNear, "near_duplicate",
                            {{"duplicate_of", kept_sources.at(static_cast<std::size_t>(*first))}});
                }
            }
            if (d.alive() && d.pii_spans > 0) {
                ++sum.pii_documents;
                for (const auto& [type, n] : d.pii_counts)
                    sum.pii_by_type[type] += n;
                json counts(d.pii_counts);
                if (c.pii.policy == "drop")
                    d.drop(kPii, "pii", {{"spans", counts}});
                else if (c.pii.max_spans > 0 && d.pii_spans > c.pii.max_spans)
                    d.drop(kPii, "too_many_pii_spans",
                           {{"spans", counts}, {"threshold", c.pii.max_spans}});
                else
                    for (const auto& [type, n] : d.pii_counts)
                        d.changes.emplace_back(kPii, "redacted_" + type);
            }
            if (d.alive() && d.tox) {
                ToxicitySummary& ts = sum.toxicity;
                ++ts.screened;
                if (d.tox->drop) {
                    d.drop(kToxicity, "toxicity",
                           {{"score", d.tox->score},
                            {"hits", d.tox->hits},
                            {"threshold", c.toxicity.max_score},
                            {"terms", d.tox->terms_hit}});
                    ++ts.dropped;
                    ts.identity_docs_dropped += d.tox->identity_hits > 0;
                    for (const auto& [cat, n] : d.tox->per_category)
                        ts.hits_dropped[cat] += n;
                    for (const std::string& term : d.tox->terms_hit)
                        ++ts.dropped_terms[term];
                } else {
                    ts.flagged += d.tox->hits > 0;
                    ts.identity_docs_kept += d.tox->identity_hits > 0;
                    for (const auto& [cat, n] : d.tox->per_category)
                        ts.hits_kept[cat] += n;
                }
            }
            kept_sources.push_back(d.source); // index -> source (every document has one)
            // Every stage up to the one that dropped it saw the document (text stages only
            // see text records).
            const int reached = d.alive() ? kStages - 1 : d.drop_stage;
            const bool text = d.record && d.record->format != DatasetFormat::tokens;
            for (int st = 0; st <= reached; ++st)
                if (sum.stages[static_cast<std::size_t>(st)].enabled &&
                    (text || st == kRead || st == d.drop_stage ||
                     (d.record && (st == kLength || st == kExact))))
                    ++sum.stages[static_cast<std::size_t>(st)].in;
            StageCounts* drop_at =
                d.alive() ? nullptr : &sum.stages[static_cast<std::size_t>(d.drop_stage)];
            std::map<int, bool> modified_at;
            for (const auto& [stage, what] : d.changes) {
                ++sum.stages[static_cast<std::size_t>(stage)].changes[what];
                modified_at[stage] = true;
            }
            for (const auto& [stage, yes] : modified_at)
                ++sum.stages[static_cast<std::size_t>(stage)].modified;
            json decision = {{"doc", d.index}, {"source", d.source}};
            if (drop_at) {
                ++drop_at->dropped;
                ++drop_at->drop_reasons[d.reason];
                if (d.drop_stage == kRead)
                    ++sum.bad_lines;
                decision["status"] = "dropped";
                decision["stage"] = drop_at->name;
                decision["reason"] = d.reason;
                json rej = {{"source", d.source},
                            {"stage", drop_at->name},
                            {"reason", d.reason},
                            {"detail", d.detail}};
                if (d.record)
                    rej["record"] = d.record->value;
                else
                    rej["line"] = sanitize_utf8(d.raw);
                out.rejected << rej.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            } else {
                decision["status"] = d.changes.empty() ? "kept" : "modified";
                if (before) { // pre-tokenized records have no text to count
                    if (d.bias)
                        before->add(*d.bias);
                    std::vector<std::array<int64_t, 2>> pc;
                    for (const auto& [a, b] : stages.bias->skew_pairs())
                        pc.push_back({d.bias ? d.bias->group_counts.at(a) : 0,
                                      d.bias ? d.bias->group_counts.at(b) : 0});
                    pair_counts.push_back(std::move(pc));
                }
                const std::string line = d.record->value.dump();
                out.curated << line << "\n";
                ++sum.documents_out;
            }
            if (!d.changes.empty())
                decision["changes"] = changes_json(d);
            (drop_at ? out.decisions : out.kept_decisions) << decision.dump() << "\n";
        }
        if (run.progress && Clock::now() - last_progress > std::chrono::seconds(2)) {
            last_progress = Clock::now();
            *run.progress << "curate: " << sum.documents_in << " documents read, "
                          << sum.documents_out << " kept\n"
                          << std::flush;
        }
        docs.clear();
    };

    std::vector<Doc> chunk;
    int64_t index = 0;
    for (const std::string& path : inputs) {
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throw Error(path + ": cannot open file");
        std::string line;
        int64_t line_no = 0;
        while (std::getline(in, line)) {
            ++line_no;
            ++sum.lines;
            sum.bytes_in += static_cast<int64_t>(line.size()) + 1;
            if (line.find_first_not_of(" \t\r") == std::string::npos)
                continue;
            Doc d;
            d.source = path + ":" + std::to_string(line_no);
            d.index = index++;
            d.raw = std::move(line);
            chunk.push_back(std::move(d));
            if (static_cast<int64_t>(chunk.size()) >= c.chunk_docs)
                finish_chunk(chunk);
        }
        if (in.bad())
            throw Error(path + ": read error");
    }
    finish_chunk(chunk);
    Outputs::close(out.curated, out.tmp / "pass1.jsonl");
    Outputs::close(out.decisions, out.tmp / "dropped_decisions.jsonl");
    Outputs::close(out.kept_decisions, out.tmp / "kept_decisions.jsonl");

    for (const ThreadTimes& t : times)
        for (std::size_t s = 0; s < kStages; ++s) {
            sum.stages[s].seconds += t.seconds[s];
            sum.stages[s].bytes += t.bytes[s];
        }
    sum.dedup_index_bytes = static_cast<int64_t>(lsh.memory_bytes());
    for (StageCounts& st : sum.stages)
        st.kept = st.in - st.dropped;

    // Pass 2: balancing (the bias stage's actions), then curated.jsonl and decisions.jsonl.
    if (before)
        sum.bias_before = before->report();
    balance(out, pair_counts, stages, sum);
    Outputs::close(out.rejected, out.tmp / "rejected.jsonl");
    merge_decisions(out.tmp);
    sum.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    publish(out, sum, c, run);
    if (run.progress)
        *run.progress << "curate: " << sum.documents_in << " documents in, " << sum.documents_out
                      << " out, " << out_dir << "/curated.jsonl\n";
    return sum;
}

} // namespace slimtune::data::curate
