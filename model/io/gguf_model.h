// A GGUF model file read back as a Model, so that `slimtune eval` and `generate` run what
// `slimtune export` wrote: the config rebuilt from the metadata (gguf_metadata.h, where the
// export's writer of those keys lives too), every tensor dequantized to
// float32 and mapped back to its Hugging Face parameter, the llama/granite Q/K row
// permutation undone. The name table is gguf_tensor_sources' run on the rebuilt model's
// skeleton, so export and import share one source of truth.
// Not here: the tokenizer (train/gguf_tokenizer.h; model/ knows nothing of data/).
#pragma once

#include "model/io/gguf.h"
#include "model/io/gguf_metadata.h"
#include "model/transformer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace slimtune::io {

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
