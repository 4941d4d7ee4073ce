// `slimtune quickstart`: the main job end to end on the embedded default, with no download.
// The medical senses of Debian's GCIDE dictionary are the raw domain data (with an invented
// clinician's contact line planted in 1 document in 50, for the PII stage to find); they are
// curated, a LoRA adapter is trained on them over the embedded base model (a small Llama that
// slimtune pretrained on the dictionary's general prose, embedded/tiny-gcide), base and
// fine-tuned models are scored on held-out medical and held-out general text, the result is
// exported (Q8_0 and Q4_K_M GGUF with the model card, and the PEFT adapter), the Q4_K_M file
// continues a few prompts, and the run report is written. Every step is the library code the
// individual commands run.
#pragma once

#include "train/export/gguf_export.h"
#include "train/model_card.h"

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace slimtune::train {

struct QuickstartOptions {
    std::string out;        // the output directory
    std::string base;       // the embedded base model (a Hugging Face directory with tokenizer)
    std::string recipe;     // recipes/quickstart.ini: curation and training settings
    std::string dictionary; // GCIDE's dictd file
    // Where llama.cpp's libllama.so is, to also generate the samples with llama.cpp: a
    // directory; "" looks on the dynamic loader's path and says so when it is not there;
    // kNoLlamaCpp skips it.
    std::string llama_cpp;
    bool quick = false;     // the same path, shortened to about two minutes (what CI runs)
    bool overwrite = false; // replace the outputs of an earlier quickstart in `out`
};

// Base and fine-tuned model on one held-out set: mean next-token loss (natural log).
struct HeldOutScore {
    std::string name; // "medical (held out)"
    std::string path;
    int64_t tokens = 0;
    double base_loss = 0, tuned_loss = 0;
    double base_perplexity() const;
    double tuned_perplexity() const;
    double change() const; // tuned / base perplexity - 1 (negative: better)
};

inline constexpr const char* kNoLlamaCpp = "none";

// What --quick shortens (what CI runs): a few steps, a few thousand scored tokens, short
// samples.
struct QuickstartBudget {
    int64_t max_steps = 0;      // 0: the recipe's epochs
    int64_t eval_tokens = 0;    // 0: every held-out token
    int64_t sample_tokens = 40; // new tokens per sample
};
constexpr QuickstartBudget quickstart_budget(bool quick) {
    return quick ? QuickstartBudget{.max_steps = 16, .eval_tokens = 4000, .sample_tokens = 16}
                 : QuickstartBudget{};
}

// Where llama.cpp's continuation first differs from slimtune's (new-token index from 0), and
// how much higher llama.cpp's logits score its own token than ours there: a near tie when
// small, since llama.cpp rounds the activations of quantized products to 8 bits.
struct SampleSplit {
    int64_t token = 0;
    double logit_gap = 0;
};

// One prompt continued by the base model and by the fine-tuned Q4_K_M GGUF (greedy), read by
// slimtune and, where its library was found, by llama.cpp ("" otherwise).
struct Sample {
    std::string prompt, base, tuned, llama_cpp;
    std::optional<SampleSplit> llama_cpp_split; // none: the same tokens (or no llama.cpp)
};

// Whether llama.cpp generated too, and from which library (its directory, or "libllama.so on
// the loader's path"), or why not.
struct LlamaCppUse {
    bool used = false;
    std::string library, note;
};

struct QuickstartResult {
    int64_t planted_pii = 0;   // documents given a contact line
    int64_t pii_documents = 0; // documents curation redacted PII in
    int64_t raw_documents = 0, curated_documents = 0;
    int64_t steps = 0;
    std::vector<HeldOutScore> scores; // medical, then general
    std::vector<GgufExportReport> gguf;
    ModelCard card; // the GGUF export's card: each file's size and held-out perplexity
    std::string model_card, peft_dir, report;
    std::vector<Sample> samples;
    LlamaCppUse llama_cpp;
    nlohmann::json summary; // what quickstart.json holds
};

// The fine-tuned model must lower the held-out medical perplexity by at least this fraction.
inline constexpr double kQuickstartDomainGain = 0.20;

// Runs every phase, printing progress; writes out/{data/, curated/, run/, export/,
// quickstart.json, report.html, loss.svg}. A non-empty `out` is refused unless it holds an
// earlier quickstart and options.overwrite is set. ConfigError for a missing base, recipe or
// dictionary, and for an options.llama_cpp directory whose libraries cannot be used.
QuickstartResult run_quickstart(const QuickstartOptions& options, std::ostream& progress);

} // namespace slimtune::train
