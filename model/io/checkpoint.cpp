// Hugging Face checkpoint directories: model.safetensors, or a sharded set described by
// model.safetensors.index.json (transformers' modeling_utils / huggingface_hub's
// split_torch_state_dict_into_shards write it; mlx_lm writes the same layout).
// The index is hostile input like the shards: it must agree exactly with the shards' headers,
// so a truncated download or a hand-edited index fails here rather than as a missing weight.
#include "model/io/checkpoint.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>

namespace slimtune::io {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// An index lists each tensor once, about 100 bytes a line: even a 100k-tensor model stays far
// below this. Anything bigger is not an index.
constexpr uint64_t kMaxIndexSize = 100'000'000;

std::string json_kind(const json& v) {
    if (v.is_number_integer() && !v.is_number_unsigned())
        return "negative integer " + std::to_string(v.get<int64_t>());
    if (v.is_number_float())
        return "non-integer number";
    return v.type_name();
}

// Whether `p` exists. Not existing is an answer; any other failure to stat (a directory we may
// not search, an I/O error) is an Error.
bool path_exists(const fs::path& p) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
        throw Error(p.string() + ": cannot stat: " + ec.message());
    return fs::exists(st);
}

// Parses the index text, rejecting what nlohmann would accept silently: a repeated key (it keeps
// the last one, so a tensor listed twice would quietly take the second shard) and a NUL byte
// (its lexer stops there, so "{...}\0junk" would parse).
json parse_index_json(const std::string& path, const std::string& text) {
    if (const size_t nul = text.find('\0'); nul != std::string::npos)
        throw FormatError(path + ": not valid JSON: NUL byte at offset " + std::to_string(nul));
    check_json_depth(text, path);
    std::vector<std::set<std::string>> open_objects; // keys seen in each enclosing object
    std::string duplicate;
    bool found_duplicate = false;
    auto on_event = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
            open_objects.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            if (!open_objects.empty())
                open_objects.pop_back();
        } else if (event == json::parse_event_t::key && !open_objects.empty() &&
                   parsed.is_string()) {
            const auto& key = parsed.get_ref<const std::string&>();
            if (!open_objects.back().insert(key).second && !found_duplicate) {
                found_duplicate = true;
                duplicate = key;
            }
        }
        return true;
    };
    json j;
    try {
        j = json::parse(text, on_event, /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const json::exception& e) {
        // e.what() is "[json.exception.parse_error.101] parse error at ...": keep what follows
        // the tag. It may quote file bytes, hence printable().
        std::string_view what = e.what();
        if (const size_t pos = what.find("] "); pos != std::string_view::npos)
            what.remove_prefix(pos + 2);
        throw FormatError(path + ": not valid JSON: " + printable(what, 300));
    }
    if (found_duplicate)
        throw FormatError(path + ": duplicate key " + name_text(duplicate));
    if (!j.is_object())
        throw FormatError(path + ": not a JSON object; got " + j.type_name());
    return j;
}

// A shard must be a file directly in the checkpoint directory: no separators, no "." or "..".
bool is_plain_file_name(const std::string& s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
           s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

struct Index {
    std::map<std::string, std::string> weight_map; // tensor name -> shard file name
    bool has_total_size = false;
    uint64_t total_size = 0;
};

Index parse_index(const std::string& path, const json& j) {
    Index index;
    const auto meta = j.find("metadata");
    if (meta != j.end() && !meta->is_null()) {
        if (!meta->is_object())
            throw FormatError(path + ": metadata is not an object; got " + meta->type_name());
        const auto total = meta->find("total_size");
        if (total != meta->end() && !total->is_null()) {
            if (!total->is_number_unsigned())
                throw FormatError(path + ": metadata.total_size is not a byte count; got " +
                                  json_kind(*total));
            index.has_total_size = true;
            index.total_size = total->get<uint64_t>();
        }
    }
    const auto map = j.find("weight_map");
    if (map == j.end())
        throw FormatError(path + ": no weight_map; expected an object of tensor name -> shard");
    if (!map->is_object())
        throw FormatError(path + ": weight_map is not an object; got " + map->type_name());
    if (map->empty())
        throw FormatError(path + ": weight_map is empty; expected at least one tensor");
    for (const auto& [name, file] : map->items()) {
        if (!file.is_string())
            throw FormatError(path + ": weight_map[" + name_text(name) +
                              "] is not a shard file name; got " + json_kind(file));
        const auto& f = file.get_ref<const std::string&>();
        if (!is_plain_file_name(f))
            throw FormatError(path + ": weight_map[" + name_text(name) + "] names shard " +
                              name_text(f) + "; expected a plain file name in the model directory");
        index.weight_map.emplace(name, f);
    }
    return index;
}

} // namespace

CheckpointReader CheckpointReader::open(const std::string& dir) {
    CheckpointReader r;
    r.dir_ = dir;
    const fs::path index_path = fs::path(dir) / kSafetensorsIndexFileName;
    const fs::path single_path = fs::path(dir) / kSafetensorsFileName;

    if (!path_exists(index_path)) {
        if (!path_exists(single_path))
            throw FormatError(dir + ": no " + kSafetensorsFileName + " or " +
                              kSafetensorsIndexFileName);
        r.source_ = kSafetensorsFileName;
        r.shards_.push_back(SafetensorsFile::open(single_path.string()));
        const std::vector<SafetensorsEntry>& entries = r.shards_[0].entries();
        for (size_t i = 0; i < entries.size(); ++i) {
            r.index_.emplace(entries[i].name, Where{0, i});
            r.total_bytes_ += entries[i].end - entries[i].begin;
        }
        return r;
    }

    r.source_ = kSafetensorsIndexFileName;
    const std::string ipath = index_path.string();
    const Index index =
        parse_index(ipath, parse_index_json(ipath, read_file(ipath, "shard index", kMaxIndexSize)));

    // Open each shard once, in name order. A missing one is reported with a tensor it should
    // hold, so the message says what the download lacks.
    std::map<std::string, size_t> shard_pos;         // shard file name -> position in shards_
    std::map<std::string, std::string> first_tensor; // shard file name -> a tensor listed there
    for (const auto& [name, file] : index.weight_map)
        first_tensor.emplace(file, name);
    std::vector<std::string> shard_names; // by position
    for (const auto& [file, tensor] : first_tensor) {
        const fs::path p = fs::path(dir) / file;
        if (!path_exists(p))
            throw FormatError(ipath + ": shard " + name_text(file) + " (holding " +
                              name_text(tensor) + ") does not exist in " + dir);
        shard_pos.emplace(file, r.shards_.size());
        shard_names.push_back(file);
        r.shards_.push_back(SafetensorsFile::open(p.string()));
    }

    // Every tensor of every shard: held by one shard only, and listed for that shard.
    for (size_t s = 0; s < r.shards_.size(); ++s) {
        const std::vector<SafetensorsEntry>& entries = r.shards_[s].entries();
        for (size_t i = 0; i < entries.size(); ++i) {
            const std::string& name = entries[i].name;
            const auto [it, inserted] = r.index_.emplace(name, Where{s, i});
            if (!inserted)
                throw FormatError(ipath + ": tensor " + name_text(name) + " is in two shards, " +
                                  name_text(shard_names[it->second.shard]) + " and " +
                                  name_text(shard_names[s]));
        }
    }
    for (const auto& [name, where] : r.index_) {
        const auto listed = index.weight_map.find(name);
        const std::string& holder = shard_names[where.shard];
        if (listed == index.weight_map.end())
            throw FormatError(ipath + ": tensor " + name_text(name) + " of shard " +
                              name_text(holder) + " is not listed in weight_map");
        if (listed->second != holder)
            throw FormatError(ipath + ": weight_map puts tensor " + name_text(name) + " in " +
                              name_text(listed->second) + " but it is in " + name_text(holder));
    }
    for (const auto& [name, file] : index.weight_map)
        if (r.index_.find(name) == r.index_.end())
            throw FormatError(ipath + ": tensor " + name_text(name) + " is listed for shard " +
                              name_text(file) + " but the shard does not hold it");

    for (const auto& [name, where] : r.index_) {
        const SafetensorsEntry& e = r.shards_[where.shard].entries()[where.entry];
        r.total_bytes_ += e.end - e.begin; // no overflow: each is within a mapped file
    }
    if (index.has_total_size && index.total_size != r.total_bytes_)
        throw FormatError(ipath + ": metadata.total_size disagrees with the shards; expected " +
                          std::to_string(r.total_bytes_) + " (the tensors' byte sizes), got " +
                          std::to_string(index.total_size));
    return r;
}

std::vector<std::string> CheckpointReader::names() const {
    std::vector<std::string> out;
    out.reserve(index_.size());
    for (const auto& [name, where] : index_) // std::map: already sorted
        out.push_back(name);
    return out;
}

const CheckpointReader::Where& CheckpointReader::where(std::string_view name) const {
    const auto it = index_.find(name);
    if (it == index_.end())
        throw FormatError(dir_ + ": no tensor " + name_text(name) + " in " + source_);
    return it->second;
}

const SafetensorsEntry& CheckpointReader::entry(std::string_view name) const {
    const Where& w = where(name);
    return shards_[w.shard].entries()[w.entry];
}

std::span<const uint8_t> CheckpointReader::bytes(std::string_view name) const {
    const Where& w = where(name);
    return shards_[w.shard].bytes(shards_[w.shard].entries()[w.entry]);
}

std::vector<float> CheckpointReader::read_f32(std::string_view name) const {
    return shards_[where(name).shard].read_f32(name);
}

void CheckpointReader::release(std::string_view name) const noexcept {
    const auto it = index_.find(name);
    if (it != index_.end())
        shards_[it->second.shard].release(shards_[it->second.shard].entries()[it->second.entry]);
}

const std::string& CheckpointReader::file_of(std::string_view name) const {
    return shards_[where(name).shard].path();
}

namespace {

[[noreturn]] void non_finite(const std::string& file, std::string_view tensor, size_t i, size_t n) {
    throw FormatError(file + ": tensor " + name_text(tensor) + " holds NaN or Inf (element " +
                      std::to_string(i) + " of " + std::to_string(n) + "); the file is damaged");
}

} // namespace

void require_finite_weights(std::span<const float> values,
                            const std::string& file,
                            std::string_view tensor) {
    for (size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]))
            non_finite(file, tensor, i, values.size());
}

void require_finite_weights(std::span<const uint16_t> bits,
                            bool f16,
                            const std::string& file,
                            std::string_view tensor) {
    const uint16_t exponent = f16 ? 0x7C00 : 0x7F80;
    for (size_t i = 0; i < bits.size(); ++i)
        if ((bits[i] & exponent) == exponent)
            non_finite(file, tensor, i, bits.size());
}

} // namespace slimtune::io
