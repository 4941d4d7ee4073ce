// GGUF metadata values and tensor sizes (type layouts are rows of the ggml type table in
// ggml_quants.cpp); the reader and writer are in gguf_reader.cpp and gguf_writer.cpp.
#include "model/io/gguf.h"

#include "common/error.h"

#include <iterator>
#include <limits>

namespace slimtune::io {

namespace {

// Which Storage alternative holds elements of each value type (ARRAY: arrays of arrays).
size_t storage_index(GgufValueType t) {
    switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::BOOL:
        return 0;
    case GgufValueType::INT8:
        return 1;
    case GgufValueType::UINT16:
        return 2;
    case GgufValueType::INT16:
        return 3;
    case GgufValueType::UINT32:
        return 4;
    case GgufValueType::INT32:
        return 5;
    case GgufValueType::FLOAT32:
        return 6;
    case GgufValueType::STRING:
        return 7;
    case GgufValueType::UINT64:
        return 8;
    case GgufValueType::INT64:
        return 9;
    case GgufValueType::FLOAT64:
        return 10;
    case GgufValueType::ARRAY:
        return 11;
    }
    throw ConfigError("GGUF value: unknown type " + gguf_value_type_name(t));
}

template <class T> GgufValue scalar(GgufValueType t, T v) {
    return GgufValue::make(t, false, std::vector<T>{std::move(v)});
}

template <class T> GgufValue array(GgufValueType t, std::vector<T> v) {
    return GgufValue::make(t, true, std::move(v));
}

} // namespace

std::string gguf_value_type_name(GgufValueType type) {
    static constexpr const char* kNames[] = {"UINT8",  "INT8",    "UINT16", "INT16",  "UINT32",
                                             "INT32",  "FLOAT32", "BOOL",   "STRING", "ARRAY",
                                             "UINT64", "INT64",   "FLOAT64"};
    const auto id = static_cast<uint32_t>(type);
    return id < std::size(kNames) ? kNames[id] : "type " + std::to_string(id);
}

GgufValue::GgufValue(GgufValueType elem, bool is_array, Storage data)
    : elem_(elem), is_array_(is_array), data_(std::move(data)) {}

GgufValue GgufValue::make(GgufValueType elem, bool is_array, Storage elements) {
    const std::string what = "GGUF value of type " + gguf_value_type_name(elem);
    if (storage_index(elem) != elements.index())
        throw ConfigError(what + ": storage holds another type");
    if (!is_array && elem == GgufValueType::ARRAY)
        throw ConfigError(what + ": an array element type needs an array");
    if (!is_array && std::visit([](const auto& v) { return v.size(); }, elements) != 1)
        throw ConfigError(what + ": a scalar needs exactly one element");
    if (elem == GgufValueType::BOOL)
        for (uint8_t b : std::get<std::vector<uint8_t>>(elements))
            if (b > 1)
                throw ConfigError(what + ": a bool must be 0 or 1");
    if (elem == GgufValueType::ARRAY)
        for (const GgufValue& v : std::get<std::vector<GgufValue>>(elements))
            if (!v.is_array())
                throw ConfigError(what + ": every element of an array of arrays is an array");
    return GgufValue(elem, is_array, std::move(elements));
}

GgufValue GgufValue::u8(uint8_t v) {
    return scalar(GgufValueType::UINT8, v);
}
GgufValue GgufValue::i8(int8_t v) {
    return scalar(GgufValueType::INT8, v);
}
GgufValue GgufValue::u16(uint16_t v) {
    return scalar(GgufValueType::UINT16, v);
}
GgufValue GgufValue::i16(int16_t v) {
    return scalar(GgufValueType::INT16, v);
}
GgufValue GgufValue::u32(uint32_t v) {
    return scalar(GgufValueType::UINT32, v);
}
GgufValue GgufValue::i32(int32_t v) {
    return scalar(GgufValueType::INT32, v);
}
GgufValue GgufValue::f32(float v) {
    return scalar(GgufValueType::FLOAT32, v);
}
GgufValue GgufValue::boolean(bool v) {
    return scalar(GgufValueType::BOOL, static_cast<uint8_t>(v ? 1 : 0));
}
GgufValue GgufValue::str(std::string v) {
    return scalar(GgufValueType::STRING, std::move(v));
}
GgufValue GgufValue::u64(uint64_t v) {
    return scalar(GgufValueType::UINT64, v);
}
GgufValue GgufValue::i64(int64_t v) {
    return scalar(GgufValueType::INT64, v);
}
GgufValue GgufValue::f64(double v) {
    return scalar(GgufValueType::FLOAT64, v);
}

GgufValue GgufValue::array_u8(std::vector<uint8_t> v) {
    return array(GgufValueType::UINT8, std::move(v));
}
GgufValue GgufValue::array_i8(std::vector<int8_t> v) {
    return array(GgufValueType::INT8, std::move(v));
}
GgufValue GgufValue::array_u16(std::vector<uint16_t> v) {
    return array(GgufValueType::UINT16, std::move(v));
}
GgufValue GgufValue::array_i16(std::vector<int16_t> v) {
    return array(GgufValueType::INT16, std::move(v));
}
GgufValue GgufValue::array_u32(std::vector<uint32_t> v) {
    return array(GgufValueType::UINT32, std::move(v));
}
GgufValue GgufValue::array_i32(std::vector<int32_t> v) {
    return array(GgufValueType::INT32, std::move(v));
}
GgufValue GgufValue::array_f32(std::vector<float> v) {
    return array(GgufValueType::FLOAT32, std::move(v));
}
GgufValue GgufValue::array_bool(const std::vector<bool>& v) {
    return array(GgufValueType::BOOL, std::vector<uint8_t>(v.begin(), v.end()));
}
GgufValue GgufValue::array_str(std::vector<std::string> v) {
    return array(GgufValueType::STRING, std::move(v));
}
GgufValue GgufValue::array_u64(std::vector<uint64_t> v) {
    return array(GgufValueType::UINT64, std::move(v));
}
GgufValue GgufValue::array_i64(std::vector<int64_t> v) {
    return array(GgufValueType::INT64, std::move(v));
}
GgufValue GgufValue::array_f64(std::vector<double> v) {
    return array(GgufValueType::FLOAT64, std::move(v));
}
GgufValue GgufValue::array_arr(std::vector<GgufValue> v) {
    return array(GgufValueType::ARRAY, std::move(v));
}

GgufValueType GgufValue::array_type() const {
    if (!is_array_)
        throw ConfigError("GGUF value of type " + gguf_value_type_name(elem_) + " is not an array");
    return elem_;
}

size_t GgufValue::size() const {
    return std::visit([](const auto& v) { return v.size(); }, data_);
}

template <class T> const std::vector<T>& GgufValue::elements(GgufValueType want, bool array) const {
    if (elem_ != want || is_array_ != array) {
        const auto name = [](GgufValueType t, bool arr) {
            return arr ? "ARRAY of " + gguf_value_type_name(t) : gguf_value_type_name(t);
        };
        throw FormatError("GGUF value has type " + name(elem_, is_array_) + ", expected " +
                          name(want, array));
    }
    return std::get<std::vector<T>>(data_);
}

uint8_t GgufValue::as_u8() const {
    return elements<uint8_t>(GgufValueType::UINT8, false)[0];
}
int8_t GgufValue::as_i8() const {
    return elements<int8_t>(GgufValueType::INT8, false)[0];
}
uint16_t GgufValue::as_u16() const {
    return elements<uint16_t>(GgufValueType::UINT16, false)[0];
}
int16_t GgufValue::as_i16() const {
    return elements<int16_t>(GgufValueType::INT16, false)[0];
}
uint32_t GgufValue::as_u32() const {
    return elements<uint32_t>(GgufValueType::UINT32, false)[0];
}
int32_t GgufValue::as_i32() const {
    return elements<int32_t>(GgufValueType::INT32, false)[0];
}
float GgufValue::as_f32() const {
    return elements<float>(GgufValueType::FLOAT32, false)[0];
}
bool GgufValue::as_bool() const {
    return elements<uint8_t>(GgufValueType::BOOL, false)[0] != 0;
}
const std::string& GgufValue::as_str() const {
    return elements<std::string>(GgufValueType::STRING, false)[0];
}
uint64_t GgufValue::as_u64() const {
    return elements<uint64_t>(GgufValueType::UINT64, false)[0];
}
int64_t GgufValue::as_i64() const {
    return elements<int64_t>(GgufValueType::INT64, false)[0];
}
double GgufValue::as_f64() const {
    return elements<double>(GgufValueType::FLOAT64, false)[0];
}

std::span<const uint8_t> GgufValue::as_u8_array() const {
    return elements<uint8_t>(GgufValueType::UINT8, true);
}
std::span<const int8_t> GgufValue::as_i8_array() const {
    return elements<int8_t>(GgufValueType::INT8, true);
}
std::span<const uint16_t> GgufValue::as_u16_array() const {
    return elements<uint16_t>(GgufValueType::UINT16, true);
}
std::span<const int16_t> GgufValue::as_i16_array() const {
    return elements<int16_t>(GgufValueType::INT16, true);
}
std::span<const uint32_t> GgufValue::as_u32_array() const {
    return elements<uint32_t>(GgufValueType::UINT32, true);
}
std::span<const int32_t> GgufValue::as_i32_array() const {
    return elements<int32_t>(GgufValueType::INT32, true);
}
std::span<const float> GgufValue::as_f32_array() const {
    return elements<float>(GgufValueType::FLOAT32, true);
}
std::span<const uint8_t> GgufValue::as_bool_array() const {
    return elements<uint8_t>(GgufValueType::BOOL, true);
}
std::span<const std::string> GgufValue::as_str_array() const {
    return elements<std::string>(GgufValueType::STRING, true);
}
std::span<const uint64_t> GgufValue::as_u64_array() const {
    return elements<uint64_t>(GgufValueType::UINT64, true);
}
std::span<const int64_t> GgufValue::as_i64_array() const {
    return elements<int64_t>(GgufValueType::INT64, true);
}
std::span<const double> GgufValue::as_f64_array() const {
    return elements<double>(GgufValueType::FLOAT64, true);
}
std::span<const GgufValue> GgufValue::as_arr_array() const {
    return elements<GgufValue>(GgufValueType::ARRAY, true);
}

bool GgufValue::operator==(const GgufValue& other) const {
    return elem_ == other.elem_ && is_array_ == other.is_array_ && data_ == other.data_;
}

const GgufTypeLayout* gguf_type_layout(uint32_t type) {
    const GgmlTypeInfo* info = ggml_type_info(type);
    return info != nullptr ? &info->layout : nullptr;
}

uint64_t gguf_tensor_nbytes(uint32_t type, std::span<const int64_t> ne) {
    const GgufTypeLayout* layout = gguf_type_layout(type);
    if (!layout)
        throw ConfigError("unknown ggml tensor type " + std::to_string(type));
    if (ne.size() > 4)
        throw ConfigError(std::to_string(ne.size()) + " dims; GGUF allows at most 4");
    int64_t numel = 1;
    for (size_t i = 0; i < ne.size(); ++i) {
        if (ne[i] < 1)
            throw ConfigError("dim " + std::to_string(i) + " is " + std::to_string(ne[i]) +
                              "; dims must be at least 1");
        if (__builtin_mul_overflow(numel, ne[i], &numel))
            throw ConfigError("element count overflows int64");
    }
    const int64_t row = ne.empty() ? 1 : ne[0];
    if (row % layout->block_elems != 0)
        throw ConfigError("row length " + std::to_string(row) + " is not a multiple of " +
                          std::string(layout->name) + "'s block size " +
                          std::to_string(layout->block_elems));
    const uint64_t blocks = static_cast<uint64_t>(numel) / layout->block_elems;
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(blocks, uint64_t{layout->block_bytes}, &nbytes) ||
        nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        throw ConfigError("byte size overflows int64");
    return nbytes;
}

} // namespace slimtune::io
