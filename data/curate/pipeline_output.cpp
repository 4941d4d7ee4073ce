#include "common/atomic_file.h"
#include "common/error.h"
#include "data/curate/manifest.h"
#include "data/curate/pipeline_internal.h"
#include "data/curate/report.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <unistd.h>

namespace slimtune::data::curate::pipeline_detail {

namespace fs = std::filesystem;
using nlohmann::json;

Outputs::Outputs(const std::string& out_dir) : dir(out_dir) {
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

Outputs::~Outputs() {
    std::error_code ec;
    fs::remove_all(tmp, ec);
}

void Outputs::open(std::ofstream& f, const char* name) {
    f.open(tmp / name, std::ios::binary);
    if (!f)
        throw Error((tmp / name).string() + ": cannot create file");
}

void Outputs::close(std::ofstream& f, const fs::path& p) {
    f.close();
    if (!f)
        throw Error(p.string() + ": write failed (disk full?)");
}

std::vector<json*> record_strings(Record& record, const RecordOptions& options) {
    std::vector<json*> out = text_slots(record, options);
    // The turn roles, by format; every other string is collected below.
    std::vector<const json*> roles;
    json& v = record.value;
    const auto add_roles = [&](const char* list, const char* key) {
        for (const json& turn : v[list])
            roles.push_back(&turn[key]);
    };
    if (record.format == DatasetFormat::messages)
        add_roles("messages", "role");
    else if (record.format == DatasetFormat::sharegpt)
        add_roles("conversations", "from");
    else if (is_conversational_prompt_completion(record))
        add_roles("prompt", "role"), add_roles("completion", "role");
    const std::size_t slots = out.size();
    const auto skip = [&](const json* s) {
        return std::find(roles.begin(), roles.end(), s) != roles.end() ||
               std::find(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(slots), s) !=
                   out.begin() + static_cast<std::ptrdiff_t>(slots);
    };
    const auto walk = [&](auto& self, json& j) -> void {
        if (j.is_string() && !skip(&j))
            out.push_back(&j);
        else if (j.is_structured())
            for (json& child : j)
                self(self, child);
    };
    walk(walk, v);
    return out;
}

std::string redact_text(const PiiDetector& pii, std::string_view text) {
    return redact(text, pii.find(text));
}

std::string rejected_entry(const RejectedDoc& d, const PiiStageConfig& pii) {
    json e = {{"source", d.source}, {"stage", d.stage}, {"reason", d.reason}, {"detail", d.detail}};
    if (pii.rejected == "hash")
        e["sha256"] = d.line_sha256;
    else if (d.record)
        e["record"] = *d.record;
    else
        e["line"] = sanitize_utf8(d.line);
    return e.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

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
} // namespace

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
            const std::string source = dec.at("source").get<std::string>();
            const std::string stage = "bias", sha256 = dec.value("sha256", "");
            out.rejected << rejected_entry({.source = source,
                                            .stage = stage,
                                            .reason = dropped_by,
                                            .detail = json::object(),
                                            .record = &rec.value,
                                            .line_sha256 = sha256},
                                           s.c.pii)
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

namespace {

json file_entry(const fs::path& p, int64_t records) {
    json e = {{"sha256", sha256_file(p.string())},
              {"bytes", static_cast<int64_t>(fs::file_size(p))}};
    if (records >= 0)
        e["records"] = records;
    return e;
}

} // namespace

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
        // The settings the data was curated with: what the model card and provenance quote.
        {"profile", c.profile},
        {"settings", run.settings.is_object() ? run.settings : json::object()},
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
    // The six files are swapped in together: a curate killed at any moment leaves the previous
    // outputs whole (and their manifest vouching for them), never a mix.
    StagedDirectory stage(out.dir.string());
    std::error_code ec;
    for (const char* name : {"curated.jsonl", "rejected.jsonl", "decisions.jsonl", "report.json",
                             "report.md", "manifest.json"}) {
        fs::rename(t / name, stage.file(name), ec);
        if (ec)
            throw Error(stage.file(name) + ": cannot move into place: " + ec.message());
    }
    fs::remove_all(t, ec); // the intermediates, not to be carried over
    stage.publish();
}

} // namespace slimtune::data::curate::pipeline_detail
