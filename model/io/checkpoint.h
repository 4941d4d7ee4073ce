// The weights of a Hugging Face model directory: model.safetensors, or the shards named by
// model.safetensors.index.json. Every shard is memory-mapped once; lookups are by tensor name.
#pragma once

#include "model/io/safetensors.h"

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::io {

class CheckpointReader {
public:
    // Opens DIR's index if there is one, else DIR/model.safetensors. FormatError naming the
    // file for a malformed index, a missing shard, a tensor listed but absent (or present but
    // unlisted, or in two shards), or a total_size that disagrees with the shards.
    static CheckpointReader open(const std::string& dir);

    const std::string& dir() const { return dir_; }
    std::vector<std::string> names() const; // every tensor name, sorted
    bool contains(std::string_view name) const { return index_.count(name) != 0; }
    // FormatError "<dir>: no tensor '<name>'" when absent.
    const SafetensorsEntry& entry(std::string_view name) const;
    std::span<const uint8_t> bytes(std::string_view name) const;
    std::vector<float> read_f32(std::string_view name) const; // F32/F16/BF16/F64 -> float
    // Drops the tensor's mapped pages from the resident set (after it has been converted).
    void release(std::string_view name) const noexcept;
    const std::string& file_of(std::string_view name) const; // the shard holding it
    uint64_t total_bytes() const;                            // sum of tensor byte sizes

private:
    struct Where {
        size_t shard;
        const SafetensorsEntry* entry;
    };
    const Where& where(std::string_view name) const;

    std::string dir_;
    std::vector<SafetensorsFile> shards_;
    std::map<std::string, Where, std::less<>> index_;
};

} // namespace slimtune::io
