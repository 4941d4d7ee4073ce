// The types `slimtune export --type` knows, each described once by a row of traits: its name,
// llama.cpp's file type, the ggml type of its matrices and the rules of llama-quantize's
// policy it takes (gguf_quant_policy.h applies them). The CLI parses the list here and hands
// the types down; nothing above model/io switches on an ExportType.
#pragma once

#include "model/io/ggml_quants.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::io {

enum class ExportType { F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K, Q4_K_M, Q5_K_M };

struct ExportTypeTraits {
    ExportType type;
    const char* name;     // as --type spells it: "q4_k_m"
    uint32_t llama_ftype; // general.file_type (llama_ftype): Q4_K_M = 15
    GgmlType base;        // the type of the matrices no rule singles out
    bool quantized;       // false: f32, f16, bf16 (also the types of a LoRA adapter GGUF)
    bool head_rule;       // the output head takes Q6_K/Q8_0 (all quantized but --pure q4_k)
    bool mixed;           // _m: Q6_K for attn_v/attn_qkv and ffn_down in use_more_bits layers
};

// The row of `t`.
const ExportTypeTraits& export_type_traits(ExportType t);

// "f32", "f16", "bf16", "q8_0", "q4_0", "q5_0", "q4_k", "q6_k", "q4_k_m", "q5_k_m".
std::vector<std::string> export_type_names();
std::string_view export_type_name(ExportType t);
// general.file_type (llama_ftype): 0, 1, 32, 7, 2, 8, 14 (Q4_K_S), 18, 15, 17.
uint32_t llama_file_type(ExportType t);

// ConfigError naming the unknown name and listing the known ones.
ExportType parse_export_type(std::string_view name);
// "q4_k_m,q8_0" in order (ConfigError for an unknown or repeated name).
std::vector<ExportType> parse_export_types(std::string_view list);

} // namespace slimtune::io
