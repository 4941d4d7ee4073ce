#include "model/io/checkpoint.h"

#include "common/error.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace slimtune::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// weight_map of an index file: tensor name -> shard file name (a plain file in dir).
std::map<std::string, std::string> read_index(const std::string& path, uint64_t* total_size) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    json j;
    try {
        j = json::parse(ss.str());
    } catch (const json::parse_error& e) {
        throw FormatError(path + ": not valid JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_object() || !j.contains("weight_map") || !j.at("weight_map").is_object())
        throw FormatError(path + ": expected an object with a 'weight_map' object");
    *total_size = 0;
    if (j.contains("metadata") && j.at("metadata").is_object() &&
        j.at("metadata").contains("total_size")) {
        const json& t = j.at("metadata").at("total_size");
        if (!t.is_number_unsigned() && !t.is_number_integer())
            throw FormatError(path + ": metadata.total_size must be an integer");
        *total_size = t.get<uint64_t>();
    }
    std::map<std::string, std::string> map;
    for (const auto& [name, file] : j.at("weight_map").items()) {
        if (!file.is_string())
            throw FormatError(path + ": weight_map['" + name + "'] must be a file name");
        const std::string f = file.get<std::string>();
        if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos ||
            f == "." || f == "..")
            throw FormatError(path + ": shard name '" + f + "' for tensor '" + name +
                              "' must be a plain file name in the model directory");
        map[name] = f;
    }
    if (map.empty())
        throw FormatError(path + ": weight_map is empty");
    return map;
}

} // namespace

CheckpointReader CheckpointReader::open(const std::string& dir) {
    CheckpointReader r;
    r.dir_ = dir;
    const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
    const fs::path single = fs::path(dir) / "model.safetensors";
    if (!fs::exists(index_path)) {
        if (!fs::exists(single))
            throw FormatError(dir + ": no model.safetensors or model.safetensors.index.json");
        r.shards_.push_back(SafetensorsFile::open(single.string()));
        for (const SafetensorsEntry& e : r.shards_[0].entries())
            r.index_[e.name] = {0, &e};
        return r;
    }
    const std::string ipath = index_path.string();
    uint64_t declared_total = 0;
    const std::map<std::string, std::string> map = read_index(ipath, &declared_total);
    std::map<std::string, size_t> shard_of_file;
    for (const auto& [name, file] : map)
        if (!shard_of_file.count(file)) {
            const fs::path p = fs::path(dir) / file;
            if (!fs::exists(p))
                throw FormatError(ipath + ": shard '" + file + "' (holding '" + name +
                                  "') does not exist");
            shard_of_file[file] = r.shards_.size();
            r.shards_.push_back(SafetensorsFile::open(p.string()));
        }
    // Every tensor of every shard must be listed, once, for the shard that holds it.
    for (const auto& [file, s] : shard_of_file)
        for (const SafetensorsEntry& e : r.shards_[s].entries()) {
            const auto it = map.find(e.name);
            if (it == map.end())
                throw FormatError(ipath + ": tensor '" + e.name + "' of shard '" + file +
                                  "' is not listed in weight_map");
            if (it->second != file)
                throw FormatError(ipath + ": tensor '" + e.name + "' is in shard '" + file +
                                  "' but weight_map says '" + it->second + "'");
            r.index_[e.name] = {s, &e};
        }
    for (const auto& [name, file] : map)
        if (!r.index_.count(name))
            throw FormatError(ipath + ": tensor '" + name + "' is listed for shard '" + file +
                              "' but the shard does not hold it");
    if (declared_total != 0 && declared_total != r.total_bytes())
        throw FormatError(ipath + ": metadata.total_size is " + std::to_string(declared_total) +
                          " but the shards' tensors hold " + std::to_string(r.total_bytes()) +
                          " bytes");
    return r;
}

std::vector<std::string> CheckpointReader::names() const {
    std::vector<std::string> r;
    for (const auto& [name, w] : index_)
        r.push_back(name);
    return r;
}

const CheckpointReader::Where& CheckpointReader::where(std::string_view name) const {
    const auto it = index_.find(name);
    if (it == index_.end())
        throw FormatError(dir_ + ": no tensor '" + std::string(name) + "'");
    return it->second;
}

const SafetensorsEntry& CheckpointReader::entry(std::string_view name) const {
    return *where(name).entry;
}

std::span<const uint8_t> CheckpointReader::bytes(std::string_view name) const {
    const Where& w = where(name);
    return shards_[w.shard].bytes(*w.entry);
}

std::vector<float> CheckpointReader::read_f32(std::string_view name) const {
    return shards_[where(name).shard].read_f32(name);
}

void CheckpointReader::release(std::string_view name) const noexcept {
    const auto it = index_.find(name);
    if (it != index_.end())
        shards_[it->second.shard].release(*it->second.entry);
}

const std::string& CheckpointReader::file_of(std::string_view name) const {
    return shards_[where(name).shard].path();
}

uint64_t CheckpointReader::total_bytes() const {
    uint64_t n = 0;
    for (const auto& [name, w] : index_)
        n += w.entry->end - w.entry->begin;
    return n;
}

} // namespace slimtune::io
