// Small helpers for reading tokenizer.json components (normalizer, pre_tokenizer, decoder).
#pragma once

#include "common/error.h"

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace slimtune::data {

// The component's "type" string; FormatError naming `where` and `what` when it has none.
inline std::string
component_type(const nlohmann::json& config, const char* what, const std::string& where) {
    if (!config.is_object() || !config.contains("type") || !config["type"].is_string())
        throw FormatError(where + ": " + what + " must be an object with a string \"type\"");
    return config["type"].get<std::string>();
}

// The parts of a Sequence component (its array `key`), each built by `make` (which may return
// nullptr for a JSON null part).
template <class T, class Make>
std::vector<std::unique_ptr<T>> sequence_parts(const nlohmann::json& config,
                                               const char* key,
                                               const std::string& here,
                                               Make&& make) {
    if (!config.contains(key) || !config[key].is_array())
        throw FormatError(here + ": missing array \"" + key + "\"");
    std::vector<std::unique_ptr<T>> parts;
    for (const auto& c : config[key])
        if (auto p = make(c))
            parts.push_back(std::move(p));
    return parts;
}

} // namespace slimtune::data
