// GGUF reader: maps the file and parses it through a bounds-checked cursor. Every count and
// length is compared with the bytes left before anything is allocated for it, so a corrupt
// count is a FormatError, never a huge allocation; tensor offsets must follow each other as
// ggml's own reader requires.
#include "common/error.h"
#include "model/io/gguf.h"

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

namespace slimtune::io {

static_assert(std::endian::native == std::endian::little, "GGUF is read little-endian");

namespace {

constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxAlignment = 1u << 20; // ggml rejects more
constexpr uint64_t kMaxKeyBytes = 65535;
constexpr uint64_t kMaxNameBytes = 63; // GGML_MAX_NAME = 64 with the NUL
constexpr int kMaxArrayDepth = 8;      // bounds the reader's recursion
// Smallest encodings, to bound counts by the bytes left: a kv is a 1-byte key (8 + 1), its
// type (4) and a 1-byte value; a tensor info an empty name (8), n_dims, type and offset.
constexpr uint64_t kMinKvBytes = 14;
constexpr uint64_t kMinTensorInfoBytes = 24;

// Reads little-endian values from [data, data + size), naming the file and the item on
// truncation.
class Cursor {
public:
    Cursor(const std::string& path, const uint8_t* data, uint64_t size)
        : path_(path), data_(data), size_(size) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError(path_ + ": " + what);
    }
    uint64_t pos() const { return pos_; }
    uint64_t left() const { return size_ - pos_; }

    void need(uint64_t n, const std::string& what) const {
        if (n > left())
            fail("truncated: " + what + " at byte " + std::to_string(pos_) + " needs " +
                 std::to_string(n) + " bytes, " + std::to_string(left()) + " left");
    }
    template <class T> T get(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    // A gguf_string: u64 length and that many bytes.
    std::string get_string(const std::string& what, uint64_t max_len) {
        const uint64_t len = get<uint64_t>(what + " length");
        if (len > max_len)
            fail(what + " has " + std::to_string(len) + " bytes; at most " +
                 std::to_string(max_len) + " allowed");
        need(len, what);
        std::string s(reinterpret_cast<const char*>(data_ + pos_), len);
        pos_ += len;
        return s;
    }
    template <class T> std::vector<T> get_array(uint64_t n, const std::string& what) {
        need(n * sizeof(T), what); // n * sizeof(T) <= left() was checked by the caller
        std::vector<T> v(n);
        if (n != 0)
            std::memcpy(v.data(), data_ + pos_, n * sizeof(T));
        pos_ += n * sizeof(T);
        return v;
    }

private:
    const std::string& path_;
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
};

bool known_value_type(uint32_t t) {
    return t <= static_cast<uint32_t>(GgufValueType::FLOAT64);
}

// Bytes of one element of type t at least (strings and arrays: their headers).
uint64_t min_element_bytes(GgufValueType t) {
    switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
        return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
        return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
        return 4;
    case GgufValueType::STRING:
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
        return 8;
    case GgufValueType::ARRAY:
        return 12;
    }
    return 1;
}

GgufValue read_elements(
    Cursor& c, GgufValueType t, bool is_array, uint64_t n, const std::string& what, int depth);

// An array value after its ARRAY tag: element type, count, elements.
GgufValue read_array_body(Cursor& c, const std::string& what, int depth) {
    if (depth > kMaxArrayDepth)
        c.fail(what + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
    const auto raw = c.get<uint32_t>(what + " element type");
    if (!known_value_type(raw))
        c.fail(what + ": unknown array element type " + std::to_string(raw));
    const auto elem = static_cast<GgufValueType>(raw);
    const auto n = c.get<uint64_t>(what + " element count");
    if (n > c.left() / min_element_bytes(elem))
        c.fail(what + ": array of " + std::to_string(n) + " " + gguf_value_type_name(elem) +
               " elements cannot fit in the " + std::to_string(c.left()) + " bytes left");
    return read_elements(c, elem, true, n, what, depth);
}

GgufValue read_elements(
    Cursor& c, GgufValueType t, bool is_array, uint64_t n, const std::string& what, int depth) {
    using VT = GgufValueType;
    switch (t) {
    case VT::UINT8:
        return GgufValue::make(t, is_array, c.get_array<uint8_t>(n, what));
    case VT::INT8:
        return GgufValue::make(t, is_array, c.get_array<int8_t>(n, what));
    case VT::UINT16:
        return GgufValue::make(t, is_array, c.get_array<uint16_t>(n, what));
    case VT::INT16:
        return GgufValue::make(t, is_array, c.get_array<int16_t>(n, what));
    case VT::UINT32:
        return GgufValue::make(t, is_array, c.get_array<uint32_t>(n, what));
    case VT::INT32:
        return GgufValue::make(t, is_array, c.get_array<int32_t>(n, what));
    case VT::FLOAT32:
        return GgufValue::make(t, is_array, c.get_array<float>(n, what));
    case VT::UINT64:
        return GgufValue::make(t, is_array, c.get_array<uint64_t>(n, what));
    case VT::INT64:
        return GgufValue::make(t, is_array, c.get_array<int64_t>(n, what));
    case VT::FLOAT64:
        return GgufValue::make(t, is_array, c.get_array<double>(n, what));
    case VT::BOOL: {
        const uint64_t at = c.pos();
        auto v = c.get_array<uint8_t>(n, what);
        for (size_t i = 0; i < v.size(); ++i)
            if (v[i] > 1)
                c.fail(what + ": bool at byte " + std::to_string(at + i) + " is " +
                       std::to_string(v[i]) + "; expected 0 or 1");
        return GgufValue::make(t, is_array, std::move(v));
    }
    case VT::STRING: {
        std::vector<std::string> v;
        v.reserve(n); // n <= bytes left / 8
        for (uint64_t i = 0; i < n; ++i)
            v.push_back(c.get_string(what + " string", UINT64_MAX));
        return GgufValue::make(t, is_array, std::move(v));
    }
    case VT::ARRAY: {
        std::vector<GgufValue> v;
        v.reserve(n); // n <= bytes left / 12
        for (uint64_t i = 0; i < n; ++i)
            v.push_back(read_array_body(c, what, depth + 1));
        return GgufValue::make(t, is_array, std::move(v));
    }
    }
    c.fail(what + ": unknown value type " + std::to_string(static_cast<uint32_t>(t)));
}

GgufKv read_kv(Cursor& c, uint64_t index) {
    const std::string where = "metadata pair " + std::to_string(index);
    std::string key = c.get_string(where + " key", kMaxKeyBytes);
    if (key.empty())
        c.fail(where + " has an empty key");
    const std::string what = "key '" + key + "'";
    const auto raw = c.get<uint32_t>(what + " value type");
    if (!known_value_type(raw))
        c.fail(what + " has unknown value type " + std::to_string(raw));
    const auto type = static_cast<GgufValueType>(raw);
    if (type == GgufValueType::ARRAY)
        return {std::move(key), read_array_body(c, what, 1)};
    return {std::move(key), read_elements(c, type, false, 1, what, 0)};
}

GgufTensorInfo read_tensor_info(Cursor& c, uint64_t index) {
    GgufTensorInfo t;
    t.name = c.get_string("tensor info " + std::to_string(index) + " name", kMaxNameBytes);
    const std::string what = "tensor '" + t.name + "'";
    const auto n_dims = c.get<uint32_t>(what + " n_dims");
    if (n_dims > 4)
        c.fail(what + " has " + std::to_string(n_dims) + " dims; at most 4 allowed");
    for (uint32_t d = 0; d < n_dims; ++d)
        t.ne.push_back(c.get<int64_t>(what + " ne[" + std::to_string(d) + "]"));
    t.type = c.get<uint32_t>(what + " type");
    try {
        t.nbytes = gguf_tensor_nbytes(t.type, t.ne);
    } catch (const ConfigError& e) {
        c.fail(what + ": " + e.what());
    }
    t.offset = c.get<uint64_t>(what + " offset");
    return t;
}

} // namespace

GgufFile GgufFile::open(const std::string& path) {
    GgufFile f;
    f.path_ = path;
    f.map_ = MappedFile(path);
    const uint8_t* bytes = f.map_.data();
    const uint64_t file_size = f.map_.size();
    Cursor c(path, bytes, file_size);

    c.need(4, "magic");
    if (std::memcmp(bytes, "GGUF", 4) != 0) {
        char hex[16];
        std::snprintf(hex, sizeof(hex), "%02x %02x %02x %02x", bytes[0], bytes[1], bytes[2],
                      bytes[3]);
        c.fail(std::string("not a GGUF file: magic bytes ") + hex + ", expected 47 47 55 46");
    }
    c.get<uint32_t>("magic");
    f.version_ = c.get<uint32_t>("version");
    if (f.version_ != kVersion)
        c.fail("GGUF version " + std::to_string(f.version_) + " is not supported; expected 3" +
               ((f.version_ & 0xFFFF) == 0 ? " (a big-endian file?)" : ""));
    const auto n_tensors = c.get<uint64_t>("tensor count");
    const auto n_kv = c.get<uint64_t>("metadata count");
    if (n_kv > c.left() / kMinKvBytes || n_tensors > c.left() / kMinTensorInfoBytes)
        c.fail("header claims " + std::to_string(n_kv) + " metadata pairs and " +
               std::to_string(n_tensors) + " tensors; the " + std::to_string(c.left()) +
               " bytes left cannot hold them");

    f.kvs_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        GgufKv kv = read_kv(c, i);
        if (!f.kv_index_.emplace(kv.key, f.kvs_.size()).second)
            c.fail("duplicate key '" + kv.key + "'");
        f.kvs_.push_back(std::move(kv));
    }
    if (const GgufValue* a = f.find("general.alignment")) {
        if (a->type() != GgufValueType::UINT32)
            c.fail("general.alignment has type " + gguf_value_type_name(a->type()) +
                   "; expected UINT32");
        const uint32_t v = a->as_u32();
        if (v == 0 || (v & (v - 1)) != 0 || v > kMaxAlignment)
            c.fail("general.alignment " + std::to_string(v) + " is not a power of two up to 1 MiB");
        f.alignment_ = v;
    } else {
        f.alignment_ = kDefaultAlignment;
    }

    f.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensorInfo t = read_tensor_info(c, i);
        if (!f.tensor_index_.emplace(t.name, f.tensors_.size()).second)
            c.fail("duplicate tensor name '" + t.name + "'");
        f.tensors_.push_back(std::move(t));
    }

    const uint64_t a = f.alignment_;
    f.data_offset_ = (c.pos() + a - 1) / a * a;
    uint64_t expected = 0; // where the next tensor must start: the previous padded end
    for (const GgufTensorInfo& t : f.tensors_) {
        const std::string what = "tensor '" + t.name + "'";
        if (t.offset % a != 0)
            c.fail(what + " offset " + std::to_string(t.offset) + " is not a multiple of the " +
                   "alignment " + std::to_string(a));
        if (t.offset < expected)
            c.fail(what + " at offset " + std::to_string(t.offset) +
                   " overlaps the previous tensor, which ends at " + std::to_string(expected));
        if (t.offset > expected)
            c.fail(what + " at offset " + std::to_string(t.offset) + " leaves a gap; expected " +
                   std::to_string(expected));
        const uint64_t room = file_size > f.data_offset_ ? file_size - f.data_offset_ : 0;
        if (t.offset > room || t.nbytes > room - t.offset)
            c.fail(what + " data (" + std::to_string(t.nbytes) + " bytes at file offset " +
                   std::to_string(f.data_offset_ + t.offset) + ") extends beyond the end of the " +
                   "file (" + std::to_string(file_size) + " bytes)");
        expected = t.offset + t.nbytes + (a - t.nbytes % a) % a;
    }
    return f;
}

const GgufValue* GgufFile::find(std::string_view key) const {
    const auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufValue& GgufFile::at(std::string_view key, GgufValueType type) const {
    const GgufValue* v = find(key);
    if (!v)
        throw FormatError(path_ + ": missing key '" + std::string(key) + "'");
    if (v->type() != type)
        throw FormatError(path_ + ": key '" + std::string(key) + "' has type " +
                          gguf_value_type_name(v->type()) + ", expected " +
                          gguf_value_type_name(type));
    return *v;
}

const GgufValue& GgufFile::at_array(std::string_view key, GgufValueType elem) const {
    const GgufValue* v = find(key);
    if (!v)
        throw FormatError(path_ + ": missing key '" + std::string(key) + "'");
    if (!v->is_array() || v->array_type() != elem)
        throw FormatError(path_ + ": key '" + std::string(key) + "' has type " +
                          gguf_value_type_name(v->type()) +
                          (v->is_array() ? " of " + gguf_value_type_name(v->array_type()) : "") +
                          ", expected ARRAY of " + gguf_value_type_name(elem));
    return *v;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufFile::tensor_data(const GgufTensorInfo& info) const {
    const GgufTensorInfo* own = find_tensor(info.name);
    if (!own || own->offset != info.offset || own->nbytes != info.nbytes)
        throw ConfigError(path_ + ": tensor '" + info.name + "' is not a tensor of this file");
    return map_.bytes().subspan(data_offset_ + own->offset, own->nbytes);
}

} // namespace slimtune::io
