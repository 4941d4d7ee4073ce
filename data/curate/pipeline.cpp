#include "data/curate/pipeline.h"

#include "common/error.h"
#include "common/text.h"
#include "data/curate/manifest.h"
#include "data/curate/pipeline_internal.h"
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

using namespace pipeline_detail;

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
    std::string line_sha256; // of `raw`, with pii.rejected = hash (decisions and rejected)
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

// Replaces the PII spans of every string of the record (text slots and other fields), counting
// them per type.
void redact_record(Doc& d, const Stages& s) {
    Record& rec = *d.record;
    for (json* slot : record_strings(rec, s.c.record)) {
        const auto& field = slot->get_ref<const std::string&>();
        const std::vector<PiiSpan> spans = s.pii.find(field);
        if (spans.empty())
            continue;
        for (const PiiSpan& sp : spans)
            ++d.pii_counts[sp.type];
        d.pii_spans += static_cast<int64_t>(spans.size());
        *slot = redact(field, spans);
    }
}

// Stages read .. fineweb, dedup fingerprints, PII, toxicity and bias counts: everything that
// depends on the document alone.
void run_stages(Doc& d, const Stages& s, ThreadTimes& times) {
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
            if (!c.skip_bad_lines)
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
    if (c.pii.detect.enabled) {
        // Redacted whatever the policy: a dropped document's copy in rejected.jsonl must not
        // carry the PII either. Pre-tokenized records have no text, but may carry metadata.
        StageTimer t(times, kPii, d.bytes);
        redact_record(d, s);
        if (d.pii_spans > 0 && is_text)
            d.text = record_text(rec, c.record);
    }
    if (!is_text)
        return;
    if (s.toxicity) {
        StageTimer t(times, kToxicity, d.bytes);
        d.tox = s.toxicity->screen(d.text);
    }
    if (s.bias) {
        StageTimer t(times, kBias, d.bytes);
        d.bias = s.bias->count(d.text);
    }
}

// A document dropped before the PII stage never had its spans replaced: its record, or the
// malformed line and the parser's message, are redacted here, so that rejected.jsonl (and an
// error naming the line) hold no more PII than curated.jsonl.
void redact_dropped(Doc& d, const Stages& s) {
    if (d.alive() || d.drop_stage >= kPii || !s.c.pii.detect.enabled)
        return;
    if (!d.read_error.empty())
        d.read_error = redact_text(s.pii, d.read_error);
    if (d.detail.contains("error"))
        d.detail["error"] = redact_text(s.pii, d.detail["error"].get<std::string>());
    if (s.c.pii.rejected == "hash")
        return; // the entry holds no content
    if (d.record) {
        redact_record(d, s);
        d.pii_counts.clear(); // counted for the documents that reach the stage only
        d.pii_spans = 0;
    } else {
        d.raw = redact_text(s.pii, sanitize_utf8(d.raw));
    }
}

// Everything that depends on the document alone. Runs on many threads at once.
void process_document(Doc& d, const Stages& s, ThreadTimes& times) {
    if (s.c.pii.rejected == "hash")
        d.line_sha256 = sha256_hex(d.raw);
    run_stages(d, s, times);
    redact_dropped(d, s);
}

json changes_json(const Doc& d) {
    json a = json::array();
    for (const auto& [stage, what] : d.changes)
        a.push_back(std::string(kStageNames[static_cast<std::size_t>(stage)]) + ":" + what);
    return a;
}

} // namespace

CurateConfig resolve_curate_config(const CurateConfig& config) {
    CurateConfig c = config;
    if (!c.pii.patterns_file.empty()) {
        std::ifstream in = open_regular_file(c.pii.patterns_file, "curate.pii.patterns_file",
                                             kMaxSettingsFileBytes);
        std::string line;
        for (int n = 1; read_line(in, line, c.pii.patterns_file, n); ++n) {
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
    if (c.profile != "sft" && c.profile != "pretrain")
        throw ConfigError("curate.profile is '" + c.profile +
                          "'; expected sft or pretrain (auto is chosen from the records first: "
                          "choose_profile, then profile_config)");
    check_normalize_config(c.normalize);
    if (c.length.min_words < 0 || c.length.max_words < 0 || c.length.min_tokens < 0 ||
        c.length.max_tokens < 0)
        throw ConfigError("curate.length bounds must be >= 0");
    if (c.pii.policy != "redact" && c.pii.policy != "drop")
        throw ConfigError("curate.pii.policy is '" + c.pii.policy + "'; expected redact or drop");
    if (c.pii.rejected != "redact" && c.pii.rejected != "hash")
        throw ConfigError("curate.pii.rejected is '" + c.pii.rejected +
                          "'; expected redact or hash");
    if (c.repetition.min_words < 0)
        throw ConfigError("curate.repetition.min_words must be >= 0");
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
    // 8-bit MinHash sketches of every document that entered the LSH index, by document index,
    // for the Jaccard check of candidate pairs (about 112 bytes per document).
    std::vector<std::uint8_t> sketches;
    const std::size_t sketch_len = static_cast<std::size_t>(c.dedup.minhash.bands) *
                                   static_cast<std::size_t>(c.dedup.minhash.rows);
    auto near_duplicate = [&](Doc& d) {
        const std::vector<int64_t> cands =
            lsh.candidates_or_insert(d.fingerprint.band_keys, d.index);
        sketches.resize(static_cast<std::size_t>(d.index + 1) * sketch_len);
        std::copy(d.fingerprint.sketch.begin(), d.fingerprint.sketch.end(),
                  sketches.begin() + d.index * static_cast<std::ptrdiff_t>(sketch_len));
        for (const int64_t cand : cands) {
            const std::span<const std::uint8_t> other(
                sketches.data() + static_cast<std::size_t>(cand) * sketch_len, sketch_len);
            const double j = sketch_jaccard(d.fingerprint.sketch, other);
            if (c.dedup.threshold <= 0 || j >= c.dedup.threshold) {
                d.drop(kNear, "near_duplicate",
                       {{"duplicate_of", kept_sources.at(static_cast<std::size_t>(cand))},
                        {"jaccard_estimate", j}});
                return;
            }
        }
        if (!cands.empty())
            ++sum.dedup_rejected_candidates;
    };
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
                    else
                        near_duplicate(d);
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
            if (!d.line_sha256.empty())
                decision["sha256"] = d.line_sha256;
            if (drop_at) {
                ++drop_at->dropped;
                ++drop_at->drop_reasons[d.reason];
                if (d.drop_stage == kRead)
                    ++sum.bad_lines;
                decision["status"] = "dropped";
                decision["stage"] = drop_at->name;
                decision["reason"] = d.reason;
                out.rejected << rejected_entry({.source = d.source,
                                                .stage = drop_at->name,
                                                .reason = d.reason,
                                                .detail = d.detail,
                                                .record = d.record ? &d.record->value : nullptr,
                                                .line = d.raw,
                                                .line_sha256 = d.line_sha256},
                                               c.pii)
                             << "\n";
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
        std::ifstream in = open_regular_file(path, "file");
        std::string line;
        int64_t line_no = 0;
        while (read_line(in, line, path, line_no + 1)) {
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
    sum.dedup_index_bytes = static_cast<int64_t>(lsh.memory_bytes() + sketches.capacity());
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
                      << " out, "
                      << (fs::path(out_dir) / "curated.jsonl").lexically_normal().string() << "\n";
    return sum;
}

} // namespace slimtune::data::curate
