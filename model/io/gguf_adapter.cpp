#include "model/io/gguf_adapter.h"

#include "common/error.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>
#include <sstream>
#include <type_traits>
#include <variant>

namespace slimtune::io {

using VT = GgufValueType;

namespace {

constexpr std::string_view kLoraA = ".lora_a", kLoraB = ".lora_b";
constexpr size_t kArrayItemsShown = 8;

// One element of a metadata value: a number, a string as is, a bool, or a nested array.
template <typename T> std::string element_text(const T& e, bool is_bool) {
    if constexpr (std::is_same_v<T, std::string>) {
        return e;
    } else if constexpr (std::is_same_v<T, GgufValue>) {
        return gguf_value_text(e);
    } else {
        if (is_bool)
            return e ? "true" : "false";
        std::ostringstream os;
        if constexpr (sizeof(T) == 1)
            os << static_cast<int>(e); // int8/uint8 print as numbers, not characters
        else
            os << e;
        return os.str();
    }
}

// The general.* keys about the file's layout rather than where the weights came from.
bool is_format_key(std::string_view key) {
    for (const std::string_view k : {"general.architecture", "general.type", "general.file_type",
                                     "general.quantization_version", "general.alignment"})
        if (key == k)
            return true;
    return false;
}

// "blk.0.attn_q.weight.lora_a" -> "blk.0.attn_q.weight" (and whether it is A); "" for others.
std::string base_tensor(const std::string& name, bool& is_a) {
    for (const std::string_view suffix : {kLoraA, kLoraB})
        if (name.ends_with(suffix)) {
            is_a = suffix == kLoraA;
            return name.substr(0, name.size() - suffix.size());
        }
    return {};
}

} // namespace

std::string gguf_value_text(const GgufValue& v) {
    const bool is_bool = (v.is_array() ? v.array_type() : v.type()) == VT::BOOL;
    return std::visit(
        [&](const auto& items) {
            std::string s;
            for (size_t i = 0; i < items.size() && i < kArrayItemsShown; ++i)
                s += (i ? ", " : "") + element_text(items[i], is_bool);
            if (!v.is_array())
                return s;
            if (items.size() > kArrayItemsShown)
                s += ", ... (" + std::to_string(items.size()) + " items)";
            return "[" + s + "]";
        },
        v.storage());
}

bool is_gguf_adapter(const GgufFile& f) {
    const GgufValue* t = f.find("general.type");
    return t && t->type() == VT::STRING && t->as_str() == "adapter";
}

GgufAdapterInfo gguf_adapter_info(const GgufFile& f) {
    GgufAdapterInfo r;
    r.architecture = f.at("general.architecture", VT::STRING).as_str();
    if (const GgufValue* t = f.find("adapter.type"))
        r.adapter_type = gguf_value_text(*t);
    if (const GgufValue* a = f.find("adapter.lora.alpha"))
        r.alpha = a->type() == VT::FLOAT32 ? a->as_f32() : 0.0f;
    for (const GgufKv& kv : f.metadata())
        if (kv.key.starts_with("general.") && !is_format_key(kv.key))
            r.provenance.emplace_back(kv.key, gguf_value_text(kv.value));

    // A is (r, in): ne = [in, r]; B is (out, r): ne = [r, out].
    std::map<std::string, const GgufTensorInfo*> a_of, b_of;
    for (const GgufTensorInfo& t : f.tensors()) {
        r.parameters +=
            std::accumulate(t.ne.begin(), t.ne.end(), int64_t{1}, std::multiplies<int64_t>());
        bool is_a = false;
        const std::string base = base_tensor(t.name, is_a);
        if (base.empty())
            continue;
        if (t.ne.size() != 2)
            throw FormatError(f.path() + ": " + t.name + " is not a matrix");
        (is_a ? a_of : b_of)[base] = &t;
        if (is_a)
            r.targets.push_back({.tensor = base, .rank = t.ne[1], .in = t.ne[0], .out = 0});
    }
    for (GgufLoraTarget& target : r.targets) {
        const auto b = b_of.find(target.tensor);
        if (b == b_of.end())
            throw FormatError(f.path() + ": " + target.tensor + std::string(kLoraA) + " has no " +
                              std::string(kLoraB));
        if (b->second->ne[0] != target.rank)
            throw FormatError(f.path() + ": " + b->second->name + " has rank " +
                              std::to_string(b->second->ne[0]) + ", its lora_a " +
                              std::to_string(target.rank));
        target.out = b->second->ne[1];
        r.ranks.push_back(target.rank);
    }
    for (const auto& [base, b] : b_of)
        if (!a_of.contains(base))
            throw FormatError(f.path() + ": " + b->name + " has no " + base + std::string(kLoraA));
    std::sort(r.ranks.begin(), r.ranks.end());
    r.ranks.erase(std::unique(r.ranks.begin(), r.ranks.end()), r.ranks.end());
    return r;
}

} // namespace slimtune::io
