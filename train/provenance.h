// slimtune_provenance.json: what a run records beside its adapter (or full model) about the
// data that went in, the base model, the chat template it trained with and the recipe. The run
// writes it (train/run.cpp); export, eval and generate read it here.
//
//   "dataset":        the curation manifest's hash and summary, with "curation": the profile
//                     and settings the manifest says the data was curated with
//   "base_model":     the model directory as the recipe gave it
//   "base_model_id":  its Hugging Face Hub id ("" when unknown)
//   "base_model_sha256": {"model.safetensors": "<hex>", ...}, each weights file's SHA-256
//   "chat_template":  {"name": "<format>", "tokenizer_default": "<format>"} ("" : none)
//   "train", "recipe": the run's result and its recipe (without the [curate] section, which
//                     training does not apply)
#pragma once

#include "data/tokenizer/tokenizer.h"
#include "data/training_data.h"

#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace slimtune::train {

inline constexpr const char* kProvenanceFile = "slimtune_provenance.json";

// The provenance in `dir` (an adapter or model directory); null when it has none.
// FormatError when the file is there but is not a JSON object.
nlohmann::json read_provenance(const std::string& dir);

// The chat format the run trained with, as recorded under "chat_template" → "name" ("" when
// the run trained without one, or the provenance is null or predates the record).
std::string trained_chat_template(const nlohmann::json& provenance);

// The "chat_template" record.
nlohmann::json chat_template_record(const std::string& used, const std::string& tokenizer_default);

// The chat template a run trains with (data.chat_template: "auto" is the tokenizer's own) and
// the tokenizer's own, printed as one line each to `progress`; returns their record. A named
// template whose markers are not special tokens of the tokenizer is refused (ConfigError
// naming the marker and the tokenizer) unless data.allow_template_markers_as_text, then
// warned about; the tokenizer's own template is its author's choice and only warned about.
// `tok` null (no tokenizer: pre-tokenized data): no template.
nlohmann::json choose_training_chat_template(const data::TrainingDataConfig& data,
                                             const data::Tokenizer* tok,
                                             std::ostream& progress);

// Makes the tokenizer files in `model_dir` (a full fine-tune, a merged export) carry the
// template the run trained with, when that is not the tokenizer's own.
void write_trained_chat_template(const std::string& model_dir,
                                 const data::Tokenizer* tok,
                                 const nlohmann::json& provenance);

// What `dir`'s weights are and where they come from.
struct BaseModel {
    std::string path;   // as given
    std::string hub_id; // "" when unknown
    // SHA-256 of every *.safetensors file, by file name: the whole file, as the Hub lists it for
    // each LFS file, so it can be compared with the model page. Hashing reads the weights once
    // (a 1 GB model: about a second with SHA-NI, a few without), next to minutes of training.
    std::map<std::string, std::string> weights_sha256;
};

// A Hugging Face Hub model id: "name" or "org/name" of letters, digits, '-', '_' and '.', no
// "--" or "..", at most 96 characters (huggingface_hub's validate_repo_id).
bool is_hub_model_id(std::string_view s);

// config.json's "_name_or_path" in `dir` when it is an "org/name" Hub id ("" otherwise: a
// local path there, or none).
std::string hub_model_id(const std::string& dir);

// The base model in `dir`: its Hub id is `name` when given (ConfigError, naming `name_key`,
// when that is not a Hub id), else hub_model_id(dir). Hashes the weights.
BaseModel describe_base_model(const std::string& dir,
                              const std::string& name,
                              const std::string& name_key = "model.name");

// The provenance's base model: "base_model", "base_model_id" ("" when not recorded).
std::string base_model_path(const nlohmann::json& provenance);
std::string base_model_id(const nlohmann::json& provenance);

// What adapter_config.json's base_model_name_or_path names, which PEFT
// (AutoPeftModelForCausalLM) loads the base from: the Hub id when known, else the absolute path
// of the local directory (a relative one would only load from the directory the run started in).
std::string peft_base_model(const std::string& hub_id, const std::string& dir);

// The curation settings a manifest records: {"profile": name or null, "settings": {key: value
// text} or null when the manifest predates the record ("curate." is dropped from the stage
// settings of older manifests), "settings_from": "manifest", "manifest stages" or "not
// recorded"}.
nlohmann::json curation_record(const nlohmann::json& manifest);

// An INI text without one "[section]" and its keys.
std::string without_ini_section(const std::string& ini, const std::string& section);

} // namespace slimtune::train
