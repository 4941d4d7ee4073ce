// A model's hyperparameters as GGUF metadata, written and read by one table per architecture:
// each {arch}.* key with its type, the ModelConfig value the export writes and the config.json
// key the reader feeds to parse_hf_config (so a GGUF gets a directory's defaults and
// validation). Llama-3 rope scaling travels under slimtune.* (llama.cpp takes it from the
// rope_freqs tensor only); Granite's four scales under granite.*.
// Not here: the general.* provenance keys (train/export/gguf_export.h; nothing reads them
// back) and the tokenizer.* keys (data/tokenizer/gguf_vocab.h, train/gguf_tokenizer.h).
#pragma once

#include "model/io/gguf.h"
#include "model/transformer.h"

#include <string>
#include <string_view>
#include <vector>

namespace slimtune::io {

// Where the Llama-3 rope scaling parameters live ("slimtune.rope_scaling.llama3.factor", ...).
inline constexpr std::string_view kLlama3RopeKeys = "slimtune.rope_scaling.llama3.";

// general.architecture: "gpt2", "llama" (also SmolLM, TinyLlama, Llama-3.x), "qwen2",
// "granite", "gemma", "gemma2" or "gemma3".
std::string gguf_architecture(const ModelConfig& cfg);

// The {arch}.* hyperparameter keys llama.cpp reads for `cfg`, with their exact types (and the
// slimtune.* Llama-3 rope scaling keys). ConfigError for a count that does not fit a UINT32, and
// for a Gemma 2/3 model whose layer pattern, local rope base or soft-caps llama.cpp fixes
// otherwise.
std::vector<GgufKv> gguf_architecture_metadata(const ModelConfig& cfg);

// The query_pre_attn_scalar llama.cpp assumes for a Gemma 2/3 model (it has no key for it):
// head_dim, or hidden / n_head for the 27B shapes. The export folds sqrt(this / the model's)
// into the query weights (Gemma 2) or q_norm (Gemma 3).
double llama_cpp_query_scalar(const ModelConfig& cfg);

// The config of a GGUF model. Biases follow the tensors present (llama/granite; GPT-2 and
// Qwen2 have theirs fixed by the architecture), tie_word_embeddings means no output.weight,
// bos/eos come from tokenizer.ggml.* (eos_token_ids: the EOS and, when distinct, the EOT id,
// where llama.cpp stops generating). FormatError naming the file and key for a missing
// required key or one of the wrong type; ConfigError for an adapter file, an architecture
// other than gpt2/llama/qwen2/granite, or hyperparameters slimtune cannot run.
ModelConfig gguf_model_config(const GgufFile& f);

} // namespace slimtune::io
