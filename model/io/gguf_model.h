// A GGUF model file read back as a Model, so that `slimtune eval` and `generate` run what
// `slimtune export` wrote: the {arch}.* hyperparameters (plus the slimtune.* keys of Llama-3
// rope scaling and Granite's scales) rebuilt into a ModelConfig, every tensor dequantized to
// float32 and mapped back to its Hugging Face parameter, the llama/granite Q/K row
// permutation undone. The name table is gguf_tensor_sources' run on the rebuilt model's
// skeleton, so export and import share one source of truth.
// Not here: the tokenizer (train/gguf_tokenizer.h; model/ knows nothing of data/).
#pragma once

#include "model/io/gguf.h"
#include "model/transformer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace slimtune::io {

// The config of a GGUF model. Biases follow the tensors present (llama/granite; GPT-2 and
// Qwen2 have theirs fixed by the architecture), tie_word_embeddings means no output.weight,
// bos/eos come from tokenizer.ggml.* (eos_token_ids: the EOS and, when distinct, the EOT id,
// where llama.cpp stops generating). FormatError naming the file and key for a missing
// required key or one of the wrong type; ConfigError for an adapter file, an architecture
// other than gpt2/llama/qwen2/granite, or hyperparameters slimtune cannot run.
ModelConfig gguf_model_config(const GgufFile& f);

// The model of `f` in float32, from any tensor type ggml_type_from_id knows. FormatError
// naming the file that lists every missing, unexpected, misshapen or unreadable tensor at
// once, and for a rope_freqs tensor that disagrees with the Llama-3 scaling keys.
Model load_gguf_model(const GgufFile& f);
// Opens PATH (GgufFile::open validates the container) and loads it.
Model load_gguf_model(const std::string& path);

// Whether a --model argument names a GGUF file (ends in ".gguf", any case) rather than a
// Hugging Face directory.
bool is_gguf_path(const std::string& path);

} // namespace slimtune::io
