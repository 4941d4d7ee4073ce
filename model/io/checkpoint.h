// The weights of a Hugging Face model directory: either one model.safetensors, or the shards
// that model.safetensors.index.json names ({"metadata": {"total_size": N, ...}, "weight_map":
// {tensor name: shard file name}}, as transformers' save_pretrained writes it). Every shard is
// memory-mapped once and the index is checked against the shards' own headers up front.
// Not here: mapping tensor names to model parameters (model/transformer.cpp) or writing.
#pragma once

#include "model/io/safetensors.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::io {

inline constexpr const char* kSafetensorsFileName = "model.safetensors";
inline constexpr const char* kSafetensorsIndexFileName = "model.safetensors.index.json";

// A read-only view of a checkpoint's tensors. Every call on an open reader either succeeds or
// fails for a reason named in its comment; tensor bytes live as long as the reader.
class CheckpointReader {
public:
    // Opens `dir`. If dir holds model.safetensors.index.json it is used (even when a
    // model.safetensors sits beside it), else dir/model.safetensors.
    // Throws FormatError "<dir>: no model.safetensors or model.safetensors.index.json" when
    // neither exists, and FormatError naming the index file, on one line, when the index is not
    // JSON, has a missing or non-object weight_map (or an empty one), a non-string shard name or
    // one that is not a plain file name in dir, names a missing shard, lists a tensor its shard
    // does not hold, leaves out a tensor a shard holds, or when two shards hold the same tensor,
    // or metadata.total_size differs from the sum of the tensors' byte sizes. A malformed shard
    // throws the FormatError of SafetensorsFile::open (naming the shard). Error when a file
    // exists but cannot be read.
    static CheckpointReader open(const std::string& dir);

    const std::string& dir() const { return dir_; }
    // Every tensor name, sorted.
    std::vector<std::string> names() const;
    bool contains(std::string_view name) const { return index_.find(name) != index_.end(); }
    // The tensor called `name`; FormatError "<dir>: no tensor '<name>' in <file>" when absent,
    // where <file> is model.safetensors or model.safetensors.index.json.
    const SafetensorsEntry& entry(std::string_view name) const;
    // The raw stored bytes (little-endian, C order, any alignment: copy through memcpy).
    // FormatError as entry().
    std::span<const uint8_t> bytes(std::string_view name) const;
    // Values converted to float: F32, F16, BF16 exactly, F64 rounded. FormatError as entry(),
    // and FormatError naming the shard and tensor for any other dtype.
    std::vector<float> read_f32(std::string_view name) const;
    // Drops the tensor's mapped pages from the resident set (after it has been converted; see
    // SafetensorsFile::release). Does nothing for an unknown name.
    void release(std::string_view name) const noexcept;
    // The path of the file holding the tensor (dir/<shard>). FormatError as entry().
    const std::string& file_of(std::string_view name) const;
    // Sum of the tensors' stored byte sizes (what metadata.total_size counts).
    uint64_t total_bytes() const { return total_bytes_; }

private:
    struct Where {
        size_t shard; // position in shards_
        size_t entry; // position in shards_[shard].entries()
    };
    CheckpointReader() = default;
    const Where& where(std::string_view name) const;

    std::string dir_;
    std::string source_; // the file names were looked up in, for "no tensor" errors
    std::vector<SafetensorsFile> shards_;
    std::map<std::string, Where, std::less<>> index_;
    uint64_t total_bytes_ = 0;
};

// Weights loaded for a model or an adapter must be finite: a NaN or Inf passed silently
// (eval printed "loss: null" with exit 0, a NaN adapter exported) and training then stopped on a
// non-finite loss without saying where it came from. FormatError
// "<file>: tensor '<name>' holds NaN or Inf (element i of n); the file is damaged".
void require_finite_weights(std::span<const float> values,
                            const std::string& file,
                            std::string_view tensor);
// The same for 16-bit floats kept as they are stored (BF16, or F16 when `f16`): a value is not
// finite when its exponent bits are all ones.
void require_finite_weights(std::span<const uint16_t> bits,
                            bool f16,
                            const std::string& file,
                            std::string_view tensor);

} // namespace slimtune::io
