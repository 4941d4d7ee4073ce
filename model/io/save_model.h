// Writes a model as a Hugging Face directory: float32 safetensors under Hugging Face names (GPT-2's
// Conv1D weights back in their (in, out) layout), one model.safetensors or shards with
// model.safetensors.index.json as transformers' save_pretrained splits and names them, plus the
// configuration and tokenizer files of the directory it was loaded from. What a full fine-tune
// produces, and what a merged LoRA export (`slimtune export --format hf`) writes.
#pragma once

#include "model/transformer.h"

#include <cstdint>
#include <map>
#include <string>

namespace slimtune::io {

// Writes `m` into `out_dir` (created when missing).
//
// Weights: with `max_shard_bytes` 0, or when all tensors fit in that many bytes, one
// model.safetensors. Otherwise shards model-00001-of-0000N.safetensors filled in parameter order,
// each at most max_shard_bytes of tensor data (a tensor bigger than that gets a shard of its own),
// and model.safetensors.index.json {"metadata": {"total_size": N}, "weight_map": {name: shard}}.
// `metadata` goes into every safetensors header (provenance: the dataset manifest hash).
//
// Other files: config.json and the tokenizer files present in `source_dir` are copied;
// generation_config.json is copied too, or when the source has none written from the config's
// bos/eos ids as transformers does ({"_from_model_config": true, ...}).
//
// Atomic for a reader (CheckpointReader, transformers): everything is first written to a
// temporary directory inside out_dir, removed when the save ends; an error while writing leaves
// out_dir as it was (and removes out_dir when this call created it). Then the files are renamed
// into place in an order that always leaves a reader one complete set of weights, old or new
// (or, while new shards replace old ones of the same names, none rather than a mix). Weight
// files of an earlier save that the new set does not use (model.safetensors, the index,
// model-NNNNN-of-NNNNN.safetensors) are removed; other files in out_dir are left alone.
//
// Memory: tensors are written from the model's own buffers. GPT-2's Conv1D weights are permuted
// to the file layout in place, through one tensor-sized buffer, and restored before returning
// (also on error): `m` must not be used by another thread meanwhile.
//
// Throws ConfigError for a 16-bit frozen weight (load with float32 weights) before writing
// anything, and Error when a file cannot be written.
void save_hf_model(Model& m,
                   const std::string& source_dir,
                   const std::string& out_dir,
                   const std::map<std::string, std::string>& metadata = {},
                   uint64_t max_shard_bytes = 0);

// True for the names of a Hugging Face directory's weight files: model.safetensors, its index,
// and model-NNNNN-of-NNNNN.safetensors shards.
bool is_hf_weight_file(const std::string& name);

} // namespace slimtune::io
