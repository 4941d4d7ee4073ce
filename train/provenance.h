// slimtune_provenance.json: what a run records beside its adapter (or full model) about the
// data that went in, the base model, the chat template it trained with and the recipe. The run
// writes it (train/run.cpp); export, eval and generate read it here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace slimtune::train {

inline constexpr const char* kProvenanceFile = "slimtune_provenance.json";

// The provenance in `dir` (an adapter or model directory); null when it has none.
// FormatError when the file is there but is not a JSON object.
nlohmann::json read_provenance(const std::string& dir);

// The chat format the run trained with, as recorded under "chat_template" → "name" ("" when
// the run trained without one, or the provenance is null or predates the record).
std::string trained_chat_template(const nlohmann::json& provenance);

} // namespace slimtune::train
