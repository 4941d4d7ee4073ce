// What a GGUF adapter file holds (general.type = adapter, as `slimtune export --format
// gguf-lora` and llama.cpp's convert_lora_to_gguf.py write it): for `slimtune inspect`, which
// describes it instead of reading it as a model.
#pragma once

#include "model/io/gguf.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace slimtune::io {

struct GgufLoraTarget {
    std::string tensor; // the base tensor it adapts, e.g. "blk.0.attn_q.weight"
    int64_t rank = 0;
    int64_t in = 0, out = 0; // the base tensor's row length and rows
};

struct GgufAdapterInfo {
    std::string architecture;            // general.architecture: the base model's
    std::string adapter_type;            // adapter.type: "lora" (or what the file says)
    float alpha = 0.0f;                  // adapter.lora.alpha (0 when absent)
    std::vector<GgufLoraTarget> targets; // in file order
    std::vector<int64_t> ranks;          // the distinct ranks, ascending
    int64_t parameters = 0;
    // The general.* keys that say where it came from (name, base model, dataset, finetune), in
    // file order, values as text; not the layout keys (architecture, type, file type,
    // quantization version, alignment).
    std::vector<std::pair<std::string, std::string>> provenance;
};

// Whether `f` says it is an adapter (general.type = "adapter").
bool is_gguf_adapter(const GgufFile& f);

// The adapter of `f`. FormatError naming the file for a .lora_a tensor without its .lora_b or
// shapes that do not agree on the rank.
GgufAdapterInfo gguf_adapter_info(const GgufFile& f);

// A metadata value as text: a string as is, a number, or a short array in brackets.
std::string gguf_value_text(const GgufValue& v);

} // namespace slimtune::io
