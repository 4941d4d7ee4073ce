#include "model/io/export_type.h"

#include "common/error.h"
#include "common/text.h"

#include <algorithm>
#include <array>

namespace slimtune::io {

namespace {

using G = GgmlType;
using E = ExportType;

// In the order of the enum. q4_k is llama-quantize's Q4_K_S with --pure: no output rule.
// clang-format off
constexpr std::array<ExportTypeTraits, 10> kExportTypes{{
    // type      name      ftype  base     quantized head_rule mixed
    {E::F32,    "f32",     0,     G::F32,  false,    false,    false},
    {E::F16,    "f16",     1,     G::F16,  false,    false,    false},
    {E::BF16,   "bf16",    32,    G::BF16, false,    false,    false},
    {E::Q8_0,   "q8_0",    7,     G::Q8_0, true,     true,     false},
    {E::Q4_0,   "q4_0",    2,     G::Q4_0, true,     true,     false},
    {E::Q5_0,   "q5_0",    8,     G::Q5_0, true,     true,     false},
    {E::Q4_K,   "q4_k",    14,    G::Q4_K, true,     false,    false},
    {E::Q6_K,   "q6_k",    18,    G::Q6_K, true,     true,     false},
    {E::Q4_K_M, "q4_k_m",  15,    G::Q4_K, true,     true,     true},
    {E::Q5_K_M, "q5_k_m",  17,    G::Q5_K, true,     true,     true},
}};
// clang-format on

constexpr bool rows_in_enum_order() {
    for (size_t i = 0; i < kExportTypes.size(); ++i)
        if (static_cast<size_t>(kExportTypes[i].type) != i)
            return false;
    return true;
}
static_assert(rows_in_enum_order(), "kExportTypes is indexed by ExportType");

} // namespace

const ExportTypeTraits& export_type_traits(ExportType t) {
    return kExportTypes.at(static_cast<size_t>(t));
}

std::vector<std::string> export_type_names() {
    std::vector<std::string> r;
    for (const ExportTypeTraits& row : kExportTypes)
        r.emplace_back(row.name);
    return r;
}

std::string_view export_type_name(ExportType t) {
    return export_type_traits(t).name;
}

uint32_t llama_file_type(ExportType t) {
    return export_type_traits(t).llama_ftype;
}

ExportType parse_export_type(std::string_view name) {
    std::string known;
    for (const ExportTypeTraits& row : kExportTypes) {
        if (name == row.name)
            return row.type;
        known += (known.empty() ? "" : ", ") + std::string(row.name);
    }
    throw ConfigError("unknown export type '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<ExportType> parse_export_types(std::string_view list) {
    std::vector<ExportType> out;
    for (const std::string& item : split_list(list, ',')) {
        const ExportType t = parse_export_type(item);
        if (std::find(out.begin(), out.end(), t) != out.end())
            throw ConfigError("--type: '" + item + "' is given twice");
        out.push_back(t);
    }
    return out;
}

} // namespace slimtune::io
