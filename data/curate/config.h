// Everything `slimtune curate` can be told: the record format and the settings of every stage,
// in the order the stages run. Defaults are the documented ones (docs/curation.md, from
// ../shared/research/curation.md); the recipe's [curate] section and --curate.KEY options
// override them one by one.
#pragma once

#include "data/curate/bias.h"
#include "data/curate/dedup.h"
#include "data/curate/normalize.h"
#include "data/curate/pii.h"
#include "data/curate/quality.h"
#include "data/curate/toxicity.h"
#include "data/dataset_format.h"

#include <cstdint>
#include <string>

namespace slimtune::data::curate {

// Stage 2. A bound of 0 is off. Tokens are counted with `tokenizer` (a model directory or
// tokenizer.json) when it is set; pre-tokenized records count their ids.
struct LengthConfig {
    bool enabled = true;
    int64_t min_words = 1, max_words = 0;
    int64_t min_tokens = 0, max_tokens = 0;
    std::string tokenizer;
};

// Stage 6.
struct DedupConfig {
    bool exact = true; // 64-bit hash of simplify_text(text); the first occurrence is kept
    bool near = true;  // MinHash + LSH on word n-grams of the simplified text
    MinHashConfig minhash;
    // LSH candidates are near-duplicates only when their estimated Jaccard similarity (from
    // 8-bit sketches of the MinHash values) reaches this; 0: every candidate (datatrove).
    double threshold = 0.7;
};

// Stage 7: what is done with the spans PiiDetector finds.
struct PiiStageConfig {
    PiiConfig detect;
    std::string patterns_file;     // more extra patterns: one NAME<TAB>REGEX per line
    std::string policy = "redact"; // redact (typed placeholders) | drop (the document)
    int64_t max_spans = 5;         // redact: drop a document with more spans than this; 0: never
    // What rejected.jsonl keeps of a dropped document, whichever stage dropped it: "redact" its
    // record (or malformed line) with the spans replaced, as curated.jsonl has it; "hash" only
    // the SHA-256 of its line, with the stage and the reason.
    std::string rejected = "redact";
};

struct CurateConfig {
    // The profile these values came from (data/curate/profile.h), recorded in the manifest:
    // "pretrain" (the defaults below) or "sft". "auto" (the recipe key's default) is resolved
    // from the records before the stages run; curate_files refuses it.
    std::string profile = "pretrain";
    RecordOptions record;        // format, text field, ShareGPT role map
    bool skip_bad_lines = false; // malformed lines rejected and counted (else the run stops)
    NormalizeConfig normalize;
    LengthConfig length;
    GopherQualityConfig quality;
    GopherRepetitionConfig repetition;
    FineWebQualityConfig fineweb;
    DedupConfig dedup;
    PiiStageConfig pii;
    ToxicityConfig toxicity;
    BiasConfig bias;
    int threads = 0;           // 0: all cores (a process setting: the CLI applies it)
    int64_t chunk_docs = 4096; // documents read, processed and written at a time (bounds RAM)
};

// ConfigError naming the key when a value does not make sense (an unknown policy, a bad
// MinHash shape, a bad PII pattern ...).
void check_curate_config(const CurateConfig& config);

// The config as the stages use it: the patterns of pii.patterns_file added to
// pii.detect.extra, then checked.
CurateConfig resolve_curate_config(const CurateConfig& config);

} // namespace slimtune::data::curate
