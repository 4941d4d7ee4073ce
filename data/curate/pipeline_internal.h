// Internals of the curation pipeline shared by pipeline.cpp (the first pass: stages and
// decisions) and pipeline_output.cpp (the second pass: balancing, curated.jsonl, decisions,
// report and manifest, and moving them into place).
#pragma once

#include "data/curate/lexicon.h"
#include "data/curate/pipeline.h"
#include "data/tokenizer/tokenizer.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <vector>

namespace slimtune::data::curate::pipeline_detail {

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

// The files of one run, in a temporary directory inside out_dir until they are complete.
struct Outputs {
    std::filesystem::path dir, tmp;
    // pass1: the documents kept by the first pass; decisions of dropped documents go straight
    // to decisions.jsonl, those of kept ones to kept_decisions.jsonl (line k for pass1 line k)
    // until balancing has had its say; the two are then merged in input order.
    std::ofstream curated, rejected, decisions, kept_decisions;

    explicit Outputs(const std::string& out_dir);
    ~Outputs(); // removes the temporary directory with whatever was not moved into place
    Outputs(const Outputs&) = delete;
    Outputs& operator=(const Outputs&) = delete;

    void open(std::ofstream& f, const char* name);
    static void close(std::ofstream& f, const std::filesystem::path& p);
};

// Every string of the record that can reach an output: its text slots and whatever other
// fields ride along (ids, metadata), but not the turn roles ("role", ShareGPT's "from"), which
// the format itself constrains.
std::vector<nlohmann::json*> record_strings(Record& record, const RecordOptions& options);

// `text` (valid UTF-8) with the spans `pii` finds replaced by their type tags.
std::string redact_text(const PiiDetector& pii, std::string_view text);

// One rejected.jsonl entry: where the document came from, the stage that dropped it and why,
// and as pii.rejected says either its record (or, when it never parsed, its line made valid
// UTF-8), redacted by the caller, or only `line_sha256`, the SHA-256 of its input line.
struct RejectedDoc {
    const std::string& source;
    const std::string& stage;
    const std::string& reason;
    const nlohmann::json& detail;
    const nlohmann::json* record = nullptr; // null: `line` is what was read
    std::string_view line;
    const std::string& line_sha256;
};
std::string rejected_entry(const RejectedDoc& doc, const PiiStageConfig& pii);

// Per kept document, its (c_a, c_b) for each skew pair: what balancing decides on.
using PairCounts = std::vector<std::vector<std::array<int64_t, 2>>>;

// Pass 2: applies the balancing plan to pass1.jsonl, writing curated.jsonl and the kept
// documents' final decisions; fills the bias stage's counts, bias_after and balance.
void balance(Outputs& out, const PairCounts& counts, const Stages& s, CurateSummary& sum);
// decisions.jsonl from the dropped and the kept documents' decisions, in input order.
void merge_decisions(const std::filesystem::path& tmp);
// report.json, report.md, manifest.json, then everything moved into out_dir.
void publish(Outputs& out,
             const CurateSummary& sum,
             const CurateConfig& c,
             const CurateRunOptions& run);

} // namespace slimtune::data::curate::pipeline_detail
