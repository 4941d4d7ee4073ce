// safetensors reader (a MappedFile + up-front validation of the whole header) and atomic writer.
// The reader treats the file as hostile: every offset and count is range-checked, and size
// arithmetic is overflow-checked, before anything is used. Its rules follow the reference
// implementation (huggingface/safetensors src/tensor.rs): header <= 100,000,000 bytes, starts
// with '{', string->string __metadata__, and tensor ranges that tile the data section exactly.
#include "model/io/safetensors.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "model/half.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

namespace slimtune::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; the reader copies it as-is");

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderSize = 100'000'000; // the reference implementation's limit

struct DTypeInfo {
    DType dtype;
    const char* name;
    size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::BOOL, "BOOL", 1},
};

// dtypes the format defines but slimtune does not read: reported as "unsupported", not "unknown".
constexpr const char* kUnsupportedDTypes[] = {
    "U16",     "U32",         "U64",         "C64", "F8_E5M2", "F8_E4M3",
    "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4",  "F6_E2M3", "F6_E3M2",
};

const DTypeInfo& dtype_info(DType dtype) {
    for (const DTypeInfo& info : kDTypes)
        if (info.dtype == dtype)
            return info;
    SLIMTUNE_ASSERT(false, "dtype_info: DType value out of range");
}

const DTypeInfo* lookup_dtype(std::string_view s) {
    for (const DTypeInfo& info : kDTypes)
        if (s == info.name)
            return &info;
    return nullptr;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

enum class NumelStatus { Ok, NegativeDim, Overflow };

// Product of the dims, checked: a zero dim makes it zero whatever the others are.
NumelStatus shape_numel(const std::vector<int64_t>& shape, int64_t& numel) {
    for (int64_t d : shape)
        if (d < 0)
            return NumelStatus::NegativeDim;
    numel = 1;
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) {
        numel = 0;
        return NumelStatus::Ok;
    }
    for (int64_t d : shape)
        if (__builtin_mul_overflow(numel, d, &numel))
            return NumelStatus::Overflow;
    return NumelStatus::Ok;
}

// Reads a non-negative JSON integer that fits in uint64. nlohmann stores every non-negative
// integer literal as number_unsigned, negative ones as number_integer, and anything with a
// fraction, an exponent or more than 64 bits as number_float.
bool get_unsigned(const json& v, uint64_t& out) {
    if (v.is_number_unsigned()) {
        out = v.get<uint64_t>();
        return true;
    }
    if (v.is_number_integer() && v.get<int64_t>() == 0) { // "-0"
        out = 0;
        return true;
    }
    return false;
}

std::string json_kind(const json& v) {
    if (v.is_number_integer() && !v.is_number_unsigned())
        return "negative integer " + std::to_string(v.get<int64_t>()); // (never "-0")
    if (v.is_number_float())
        return "non-integer number";
    return std::string(v.type_name());
}

// Header parsing state shared with the nlohmann callback: the keys seen so far in each open
// object, and the first key that repeated. nlohmann itself keeps the last duplicate silently.
struct DuplicateKeyCheck {
    std::vector<std::set<std::string>> open_objects;
    std::string duplicate;
    bool found = false;

    bool on_event(json::parse_event_t event, const json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start:
            open_objects.emplace_back();
            break;
        case json::parse_event_t::object_end:
            if (!open_objects.empty())
                open_objects.pop_back();
            break;
        case json::parse_event_t::key:
            if (!open_objects.empty() && parsed.is_string()) {
                const auto& key = parsed.get_ref<const std::string&>();
                if (!open_objects.back().insert(key).second && !found) {
                    found = true;
                    duplicate = key;
                }
            }
            break;
        default:
            break;
        }
        return true;
    }
};

json parse_header_json(const std::string& path, const char* text, uint64_t size) {
    if (size == 0 || text[0] != '{')
        throw FormatError(path + ": header does not start with '{'; expected a JSON object");
    // NOTE: nlohmann's lexer takes a NUL byte for the end of input, so "{}\0<anything>" would
    // parse. A NUL can appear nowhere in valid JSON text, so reject it here.
    if (const void* nul = std::memchr(text, 0, size); nul != nullptr)
        throw FormatError(path + ": header is not valid UTF-8 JSON: NUL byte at offset " +
                          std::to_string(static_cast<const char*>(nul) - text));
    check_json_depth({text, static_cast<size_t>(size)}, path);
    DuplicateKeyCheck dup;
    json header;
    try {
        header = json::parse(
            text, text + size,
            [&dup](int, json::parse_event_t event, json& parsed) {
                return dup.on_event(event, parsed);
            },
            /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const json::exception& e) {
        // e.what() is "[json.exception.parse_error.101] parse error at ...": keep the part
        // after the tag. It may quote file bytes, hence printable().
        std::string_view what = e.what();
        if (const size_t pos = what.find("] "); pos != std::string_view::npos)
            what.remove_prefix(pos + 2);
        throw FormatError(path + ": header is not valid UTF-8 JSON: " + printable(what, 300));
    }
    if (dup.found)
        throw FormatError(path + ": header has duplicate key " + name_text(dup.duplicate));
    if (!header.is_object())
        throw FormatError(path + ": header is not a JSON object; got " + header.type_name());
    return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const json& value) {
    if (!value.is_object())
        throw FormatError(path + ": __metadata__ is not a JSON object; got " + value.type_name());
    std::map<std::string, std::string> out;
    for (const auto& [key, v] : value.items()) {
        if (!v.is_string())
            throw FormatError(path + ": __metadata__ key " + name_text(key) +
                              " is not a string; got " + json_kind(v));
        out.emplace(key, v.get<std::string>());
    }
    return out;
}

SafetensorsEntry parse_entry(const std::string& path,
                             const std::string& name,
                             const json& value,
                             uint64_t data_size) {
    const std::string where = path + ": tensor " + name_text(name) + ": ";
    if (!value.is_object())
        throw FormatError(where + "entry is not a JSON object; got " + json_kind(value));
    SafetensorsEntry entry;
    entry.name = name;

    const auto dtype_it = value.find("dtype");
    if (dtype_it == value.end())
        throw FormatError(where + "missing 'dtype'");
    if (!dtype_it->is_string())
        throw FormatError(where + "'dtype' is not a string; got " + json_kind(*dtype_it));
    const auto& dtype_str = dtype_it->get_ref<const std::string&>();
    const DTypeInfo* info = lookup_dtype(dtype_str);
    if (info == nullptr) {
        for (const char* unsupported : kUnsupportedDTypes)
            if (dtype_str == unsupported)
                throw FormatError(where + "unsupported dtype " + name_text(dtype_str));
        throw FormatError(where + "unknown dtype " + name_text(dtype_str));
    }
    entry.dtype = info->dtype;

    const auto shape_it = value.find("shape");
    if (shape_it == value.end())
        throw FormatError(where + "missing 'shape'");
    if (!shape_it->is_array())
        throw FormatError(where + "'shape' is not an array; got " + json_kind(*shape_it));
    for (const json& dim_json : *shape_it) {
        uint64_t dim = 0;
        if (!get_unsigned(dim_json, dim))
            throw FormatError(where + "shape dim is not a non-negative integer; got " +
                              json_kind(dim_json));
        if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            throw FormatError(where + "shape dim " + std::to_string(dim) + " is too large");
        entry.shape.push_back(static_cast<int64_t>(dim));
    }
    int64_t numel_signed = 0;
    if (shape_numel(entry.shape, numel_signed) != NumelStatus::Ok)
        throw FormatError(where + "element count of shape " + shape_text(entry.shape) +
                          " overflows int64");
    const auto numel = static_cast<uint64_t>(numel_signed);
    if (numel > std::numeric_limits<uint64_t>::max() / info->size)
        throw FormatError(where + "byte size of shape " + shape_text(entry.shape) +
                          " overflows uint64");
    const uint64_t nbytes = numel * info->size;

    const auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end())
        throw FormatError(where + "missing 'data_offsets'");
    if (!offsets_it->is_array() || offsets_it->size() != 2)
        throw FormatError(where + "'data_offsets' is not an array of two integers");
    if (!get_unsigned((*offsets_it)[0], entry.begin) || !get_unsigned((*offsets_it)[1], entry.end))
        throw FormatError(where + "'data_offsets' are not non-negative integers");
    const std::string range =
        "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end)
        throw FormatError(where + "data_offsets " + range + " decrease");
    if (entry.end > data_size)
        throw FormatError(where + "data_offsets " + range + " end beyond the data section (" +
                          std::to_string(data_size) + " bytes)");
    if (entry.end - entry.begin != nbytes)
        throw FormatError(where + "data_offsets " + range + " span " +
                          std::to_string(entry.end - entry.begin) + " bytes; expected " +
                          std::to_string(nbytes) + " for " + info->name + " shape " +
                          shape_text(entry.shape));
    return entry;
}

// The ranges, sorted by (begin, end), must tile [0, data_size): each begins where the previous
// ended. The reference implementation rejects holes as well as overlaps, since unaccounted bytes
// would let a file carry a second payload.
void check_layout(const std::string& path,
                  const std::vector<SafetensorsEntry>& entries,
                  uint64_t data_size) {
    uint64_t cursor = 0;
    const SafetensorsEntry* prev = nullptr;
    for (const SafetensorsEntry& e : entries) {
        if (e.begin < cursor)
            throw FormatError(path + ": tensors " + name_text(prev->name) + " [" +
                              std::to_string(prev->begin) + ", " + std::to_string(prev->end) +
                              ") and " + name_text(e.name) + " [" + std::to_string(e.begin) + ", " +
                              std::to_string(e.end) + ") overlap");
        if (e.begin > cursor)
            throw FormatError(path + ": data section bytes [" + std::to_string(cursor) + ", " +
                              std::to_string(e.begin) + ") belong to no tensor");
        cursor = e.end;
        prev = &e;
    }
    if (cursor != data_size)
        throw FormatError(path + ": data section bytes [" + std::to_string(cursor) + ", " +
                          std::to_string(data_size) + ") belong to no tensor");
}

template <class T> T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// dtypes

size_t dtype_size(DType dtype) {
    return dtype_info(dtype).size;
}

const char* dtype_name(DType dtype) {
    return dtype_info(dtype).name;
}

DType parse_dtype(const std::string& s) {
    const DTypeInfo* info = lookup_dtype(s);
    if (info == nullptr)
        throw FormatError("safetensors: unknown dtype " + name_text(s));
    return info->dtype;
}

int64_t SafetensorsEntry::numel() const {
    int64_t n = 0;
    switch (shape_numel(shape, n)) {
    case NumelStatus::Ok:
        return n;
    case NumelStatus::NegativeDim:
        throw ShapeError("safetensors: tensor " + name_text(name) + ": negative dim in shape " +
                         shape_text(shape));
    case NumelStatus::Overflow:
        break;
    }
    throw ShapeError("safetensors: tensor " + name_text(name) + ": element count of shape " +
                     shape_text(shape) + " overflows int64");
}

// ---------------------------------------------------------------------------------------------
// reader

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    SafetensorsFile file;
    file.path_ = path;
    file.map_ = MappedFile(path);
    const uint8_t* bytes = file.map_.data();
    const uint64_t size = file.map_.size();
    if (size < 8)
        throw FormatError(path + ": file is " + std::to_string(size) +
                          " bytes; expected at least 8 (the header length)");

    const uint64_t header_size = load<uint64_t>(bytes);
    const uint64_t rest = size - 8;
    if (header_size > kMaxHeaderSize)
        throw FormatError(path + ": header length " + std::to_string(header_size) +
                          " exceeds the limit of " + std::to_string(kMaxHeaderSize) + " bytes");
    if (header_size > rest)
        throw FormatError(path + ": header length " + std::to_string(header_size) +
                          " exceeds the " + std::to_string(rest) + " bytes after it");
    file.data_offset_ = 8 + header_size;
    file.data_size_ = rest - header_size;

    const json header =
        parse_header_json(path, reinterpret_cast<const char*>(bytes + 8), header_size);
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__")
            file.metadata_ = parse_metadata(path, value);
        else
            file.entries_.push_back(parse_entry(path, key, value, file.data_size_));
    }
    std::sort(file.entries_.begin(), file.entries_.end(),
              [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
                  return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
              });
    check_layout(path, file.entries_, file.data_size_);
    for (size_t i = 0; i < file.entries_.size(); ++i)
        file.index_.emplace(file.entries_[i].name, i);
    return file;
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
}

const SafetensorsEntry& SafetensorsFile::at(std::string_view name) const {
    const SafetensorsEntry* entry = find(name);
    if (entry == nullptr)
        throw FormatError(path_ + ": no tensor " + name_text(name));
    return *entry;
}

void SafetensorsFile::release(const SafetensorsEntry& entry) const noexcept {
    map_.release_pages({data() + entry.begin, data() + entry.end});
}

std::span<const uint8_t> SafetensorsFile::bytes(const SafetensorsEntry& entry) const {
    SLIMTUNE_ASSERT(entry.begin <= entry.end && entry.end <= data_size_,
                    path_ + ": bytes() called with an entry that is not from this file");
    return {data() + entry.begin, static_cast<size_t>(entry.end - entry.begin)};
}

namespace {
// Reads a floating-point tensor as Out (float or double). Every stored float type widens
// exactly to double, so converting through double rounds F64 -> float exactly once, as a
// direct cast would.
template <class Out>
std::vector<Out> read_floats(const std::string& path,
                             std::string_view name,
                             const SafetensorsEntry& e,
                             const MappedFile& map,
                             const uint8_t* p,
                             const char* as) {
    const auto n = static_cast<size_t>(e.numel());
    std::vector<Out> out(n);
    // In chunks, dropping each chunk's mapped pages once converted: a large tensor then costs
    // its converted copy, not that plus the file's pages.
    const size_t elem = dtype_size(e.dtype), chunk = (size_t{16} << 20) / std::max<size_t>(elem, 1);
    auto fill = [&](auto element) {
        for (size_t at = 0; at < n; at += chunk) {
            const size_t stop = std::min(n, at + chunk);
            for (size_t i = at; i < stop; ++i)
                out[i] = static_cast<Out>(element(i));
            map.release_pages({p + at * elem, p + stop * elem});
        }
    };
    switch (e.dtype) {
    case DType::F64:
        fill([&](size_t i) { return load<double>(p + 8 * i); });
        break;
    case DType::F32:
        fill([&](size_t i) { return static_cast<double>(load<float>(p + 4 * i)); });
        break;
    case DType::F16:
        fill([&](size_t i) { return static_cast<double>(f16_to_f32(load<uint16_t>(p + 2 * i))); });
        break;
    case DType::BF16:
        fill([&](size_t i) { return static_cast<double>(bf16_to_f32(load<uint16_t>(p + 2 * i))); });
        break;
    default:
        throw FormatError(path + ": tensor " + name_text(name) + ": dtype " + dtype_name(e.dtype) +
                          " cannot be read as " + as + "; expected F64, F32, F16 or BF16");
    }
    return out;
}
} // namespace

std::vector<float> SafetensorsFile::read_f32(std::string_view name) const {
    const SafetensorsEntry& e = at(name);
    return read_floats<float>(path_, name, e, map_, data() + e.begin, "float");
}

std::vector<double> SafetensorsFile::read_f64(std::string_view name) const {
    const SafetensorsEntry& e = at(name);
    return read_floats<double>(path_, name, e, map_, data() + e.begin, "double");
}

std::vector<int64_t> SafetensorsFile::read_i64(std::string_view name) const {
    const SafetensorsEntry& e = at(name);
    const uint8_t* p = data() + e.begin;
    const auto n = static_cast<size_t>(e.numel());
    std::vector<int64_t> out(n);
    switch (e.dtype) {
    case DType::I64:
        if (n != 0)
            std::memcpy(out.data(), p, n * sizeof(int64_t));
        break;
    case DType::I32:
        for (size_t i = 0; i < n; ++i)
            out[i] = load<int32_t>(p + 4 * i);
        break;
    case DType::I16:
        for (size_t i = 0; i < n; ++i)
            out[i] = load<int16_t>(p + 2 * i);
        break;
    case DType::I8:
        for (size_t i = 0; i < n; ++i)
            out[i] = load<int8_t>(p + i);
        break;
    case DType::U8:
        for (size_t i = 0; i < n; ++i)
            out[i] = p[i];
        break;
    case DType::BOOL:
        for (size_t i = 0; i < n; ++i)
            out[i] = p[i] != 0 ? 1 : 0; // any non-zero byte is true
        break;
    default:
        throw FormatError(path_ + ": tensor " + name_text(name) + ": dtype " + dtype_name(e.dtype) +
                          " cannot be read as integer; expected I64, I32, I16, I8, U8 or BOOL");
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// writer

namespace {

// nlohmann's strict dump throws on invalid UTF-8; check each string up front so the error can
// say which one.
void check_utf8(const std::string& path, const std::string& what, const std::string& s) {
    try {
        (void)json(s).dump(-1, ' ', false, json::error_handler_t::strict);
    } catch (const json::exception&) {
        throw Error(path + ": " + what + " " + name_text(s) + " is not valid UTF-8");
    }
}

} // namespace

void write_safetensors(const std::string& path,
                       const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
    // Build the header first: every check happens before the file is touched.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    if (metadata.find("format") == metadata.end())
        meta["format"] = "pt";
    for (const auto& [key, value] : metadata) {
        check_utf8(path, "metadata key", key);
        check_utf8(path, "metadata value for key " + name_text(key) + ":", value);
        meta[key] = value;
    }
    header["__metadata__"] = std::move(meta);

    std::set<std::string_view> names;
    uint64_t offset = 0;
    for (const SafetensorsTensor& t : tensors) {
        if (t.name.empty())
            throw Error(path + ": tensor name is empty");
        if (t.name == "__metadata__")
            throw Error(path + ": tensor name '__metadata__' is reserved");
        check_utf8(path, "tensor name", t.name);
        if (!names.insert(t.name).second)
            throw Error(path + ": tensor name " + name_text(t.name) + " is repeated");
        const std::string where = path + ": tensor " + name_text(t.name) + ": ";
        int64_t numel = 0;
        const NumelStatus status = shape_numel(t.shape, numel);
        if (status == NumelStatus::NegativeDim)
            throw ShapeError(where + "negative dim in shape " + shape_text(t.shape));
        if (status == NumelStatus::Overflow)
            throw ShapeError(where + "element count of shape " + shape_text(t.shape) +
                             " overflows int64");
        const size_t elem = dtype_size(t.dtype);
        if (static_cast<uint64_t>(numel) > std::numeric_limits<uint64_t>::max() / elem)
            throw ShapeError(where + "byte size of shape " + shape_text(t.shape) + " overflows");
        const uint64_t nbytes = static_cast<uint64_t>(numel) * elem;
        if (t.bytes.size() != nbytes)
            throw ShapeError(where + "has " + std::to_string(t.bytes.size()) + " bytes; expected " +
                             std::to_string(nbytes) + " for " + dtype_name(t.dtype) + " shape " +
                             shape_text(t.shape));
        nlohmann::ordered_json entry = nlohmann::ordered_json::object();
        entry["dtype"] = dtype_name(t.dtype);
        entry["shape"] = t.shape;
        entry["data_offsets"] = nlohmann::ordered_json::array({offset, offset + nbytes});
        header[t.name] = std::move(entry);
        offset += nbytes;
    }

    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' '); // 8 + N is then a multiple of 8 as well
    const uint64_t header_size = text.size();

    write_file_atomic(path, [&](std::ostream& out) {
        char size_bytes[8];
        std::memcpy(size_bytes, &header_size, 8);
        out.write(size_bytes, 8);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        for (const SafetensorsTensor& t : tensors)
            if (!t.bytes.empty())
                out.write(reinterpret_cast<const char*>(t.bytes.data()),
                          static_cast<std::streamsize>(t.bytes.size()));
    });
}

} // namespace slimtune::io
