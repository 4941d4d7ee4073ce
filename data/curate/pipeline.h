// `slimtune curate` as a library call: JSONL files in, a curated dataset with its audit trail
// out. Documents stream through the stages in chunks (chunk_docs at a time, per-document work
// on all threads, keep/drop decisions in input order), so memory is bounded by the chunk and
// the dedup index (a few hundred bytes per document), not by the corpus:
//   read -> normalize -> length -> quality -> repetition -> fineweb -> exact_dedup ->
//   near_dedup -> pii -> toxicity -> bias (counting, then balancing in a second pass)
// Every document's fate is recorded: OUT/decisions.jsonl has one line per document (kept,
// modified, dropped, added) with the stage and reasons; OUT/rejected.jsonl has each dropped
// document with its reasons, PII redacted whichever stage dropped it (or only its line's
// SHA-256: pii.rejected); OUT/curated.jsonl the rest. report.json/report.md and
// manifest.json (data/curate/manifest.h) complete the set. Outputs are written to a
// temporary directory inside OUT and renamed into place at the end, manifest last: an
// interrupted run never leaves a manifest that vouches for a partial file.
#pragma once

#include "data/curate/config.h"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace slimtune::data::curate {

// One stage's tally. `in` counts the documents that reached it.
struct StageCounts {
    std::string name;
    bool enabled = true;
    int64_t in = 0, kept = 0, modified = 0, dropped = 0, added = 0;
    std::map<std::string, int64_t> drop_reasons; // rule id -> documents
    std::map<std::string, int64_t> changes;      // what was modified -> documents
    double seconds = 0;                          // thread-seconds spent in the stage
    int64_t bytes = 0;                           // text bytes the stage looked at
};

struct ToxicitySummary {
    int64_t screened = 0, dropped = 0, flagged = 0;         // flagged: hits, kept
    std::map<std::string, int64_t> hits_kept, hits_dropped; // per category
    // Documents mentioning identity terms among those kept and those dropped: the figures that
    // show whether the screen removes text about minorities.
    int64_t identity_docs_kept = 0, identity_docs_dropped = 0;
    std::map<std::string, int64_t> dropped_terms; // term -> dropped documents hitting it
};

struct CurateSummary {
    std::vector<std::string> inputs;
    int64_t lines = 0, documents_in = 0, documents_out = 0, bad_lines = 0;
    int64_t bytes_in = 0, bytes_out = 0;
    std::vector<StageCounts> stages; // in pipeline order
    std::map<std::string, int64_t> pii_by_type;
    int64_t pii_documents = 0; // documents with at least one span
    ToxicitySummary toxicity;
    int64_t dedup_too_short = 0;           // documents with fewer words than the n-gram size
    int64_t dedup_rejected_candidates = 0; // LSH candidates below the Jaccard threshold
    int64_t dedup_index_bytes = 0;
    nlohmann::json bias_before, bias_after, balance; // BiasReport JSON, balancing actions
    double seconds = 0;
    int threads = 1;
};

struct CurateRunOptions {
    std::string version; // slimtune's, for the manifest
    // Every curate key as the recipe's [curate] section names it ("quality.min_words") with its
    // value as text, as applied (profile resolved): the report and the manifest record them.
    nlohmann::json settings;
    std::ostream* progress = nullptr;
};

// Curates `inputs` into `out_dir` (created if needed). Throws FormatError naming file:line for
// a malformed line (unless skip_bad_lines), ConfigError for bad settings, Error for I/O; on
// any error no output of this run is left in out_dir.
CurateSummary curate_files(const std::vector<std::string>& inputs,
                           const std::string& out_dir,
                           const CurateConfig& config,
                           const CurateRunOptions& run = {});

} // namespace slimtune::data::curate
