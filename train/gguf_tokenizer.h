// The tokenizer of a GGUF model written by `slimtune export`: the exact tokenizer.json it
// embeds (tokenizer.huggingface.json) with its tokenizer_config.json (slimtune.tokenizer_config),
// so that eval and generate on the GGUF tokenize exactly as training did. llama.cpp's own
// tokenizer.ggml.* vocabulary is not rebuilt into a tokenizer: without the embedded JSON the
// caller has to name a tokenizer.
#pragma once

#include "data/tokenizer/tokenizer.h"
#include "model/io/gguf.h"

namespace slimtune::train {

// ConfigError "<file>: has no tokenizer.huggingface.json; pass --tokenizer DIR" for a GGUF
// written by another tool; FormatError naming the file and key for a key of the wrong type or
// JSON that does not parse. Where the embedded config lacks bos/eos/pad/unk tokens or the chat
// template (they came from special_tokens_map.json or chat_template.jinja), the
// tokenizer.ggml.* ids and tokenizer.chat_template fill them in.
data::Tokenizer gguf_tokenizer(const io::GgufFile& f);

} // namespace slimtune::train
