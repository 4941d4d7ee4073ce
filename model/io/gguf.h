// GGUF v3, the container llama.cpp and ollama load: a header, typed metadata key/value pairs,
// tensor infos, then the aligned tensor data. GgufWriter streams a file (metadata and tensor
// infos first, then each tensor's bytes in declaration order, so an export never holds the
// whole model); GgufFile maps a file and validates all of it up front, so that a corrupt or
// hostile file is a FormatError, never a crash or a huge allocation. Byte format:
// shared/research/finetune.md §2.1-2.3 (ggml docs/gguf.md, include/gguf.h, src/gguf.cpp).
// Not here: what the keys and tensors of a model are (gguf_tensors.h, the export) and the
// quantized block contents (ggml_quants.h).
#pragma once

#include "common/mapped_file.h"
#include "model/io/ggml_quants.h"

#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace slimtune::io {

// gguf.h `enum gguf_type`: the type of a metadata value (uint32 in the file).
enum class GgufValueType : uint32_t {
    UINT8 = 0,
    INT8 = 1,
    UINT16 = 2,
    INT16 = 3,
    UINT32 = 4,
    INT32 = 5,
    FLOAT32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    UINT64 = 10,
    INT64 = 11,
    FLOAT64 = 12,
};

// "UINT8", ..., "FLOAT64"; "type <n>" for an id outside the enum.
std::string gguf_value_type_name(GgufValueType type);

// A metadata value: a scalar, a string, or an array (element type + elements; arrays of strings
// and of arrays allowed). Built with the typed factories only, so that a count llama.cpp reads
// as UINT32 is never written as UINT64 by accident: llama.cpp type-checks every key it reads.
// NOTE: llama.cpp's loader rejects arrays of arrays; the format and this module allow them.
class GgufValue {
public:
    static GgufValue u8(uint8_t v);
    static GgufValue i8(int8_t v);
    static GgufValue u16(uint16_t v);
    static GgufValue i16(int16_t v);
    static GgufValue u32(uint32_t v);
    static GgufValue i32(int32_t v);
    static GgufValue f32(float v);
    static GgufValue boolean(bool v);
    static GgufValue str(std::string v);
    static GgufValue u64(uint64_t v);
    static GgufValue i64(int64_t v);
    static GgufValue f64(double v);

    static GgufValue array_u8(std::vector<uint8_t> v);
    static GgufValue array_i8(std::vector<int8_t> v);
    static GgufValue array_u16(std::vector<uint16_t> v);
    static GgufValue array_i16(std::vector<int16_t> v);
    static GgufValue array_u32(std::vector<uint32_t> v);
    static GgufValue array_i32(std::vector<int32_t> v);
    static GgufValue array_f32(std::vector<float> v);
    static GgufValue array_bool(const std::vector<bool>& v);
    static GgufValue array_str(std::vector<std::string> v);
    static GgufValue array_u64(std::vector<uint64_t> v);
    static GgufValue array_i64(std::vector<int64_t> v);
    static GgufValue array_f64(std::vector<double> v);
    // An array of arrays. ConfigError when an element is not itself an array.
    static GgufValue array_arr(std::vector<GgufValue> v);

    // The value's type: ARRAY for arrays, whose elements have array_type().
    GgufValueType type() const { return is_array_ ? GgufValueType::ARRAY : elem_; }
    bool is_array() const { return is_array_; }
    // The element type of an array; ConfigError for a scalar.
    GgufValueType array_type() const;
    // Number of elements of an array (1 for a scalar or a string).
    size_t size() const;

    // Scalars and strings. Each throws FormatError "GGUF value has type X, expected Y" on a
    // type mismatch (GgufFile::at checks the type with the key's name first).
    uint8_t as_u8() const;
    int8_t as_i8() const;
    uint16_t as_u16() const;
    int16_t as_i16() const;
    uint32_t as_u32() const;
    int32_t as_i32() const;
    float as_f32() const;
    bool as_bool() const;
    const std::string& as_str() const;
    uint64_t as_u64() const;
    int64_t as_i64() const;
    double as_f64() const;

    // Arrays, by element type; the same FormatError on a mismatch (and for a scalar).
    std::span<const uint8_t> as_u8_array() const;
    std::span<const int8_t> as_i8_array() const;
    std::span<const uint16_t> as_u16_array() const;
    std::span<const int16_t> as_i16_array() const;
    std::span<const uint32_t> as_u32_array() const;
    std::span<const int32_t> as_i32_array() const;
    std::span<const float> as_f32_array() const;
    std::span<const uint8_t> as_bool_array() const; // 0 or 1 each
    std::span<const std::string> as_str_array() const;
    std::span<const uint64_t> as_u64_array() const;
    std::span<const int64_t> as_i64_array() const;
    std::span<const double> as_f64_array() const;
    std::span<const GgufValue> as_arr_array() const;

    // Same type, array-ness and elements (floats compared by value: NaN != NaN).
    bool operator==(const GgufValue& other) const;

    // Elements of every type live in one vector of the element type; a scalar is one element.
    // Bools are stored as uint8_t 0/1 (std::vector<bool> has no contiguous storage).
    using Storage = std::variant<std::vector<uint8_t>,
                                 std::vector<int8_t>,
                                 std::vector<uint16_t>,
                                 std::vector<int16_t>,
                                 std::vector<uint32_t>,
                                 std::vector<int32_t>,
                                 std::vector<float>,
                                 std::vector<std::string>,
                                 std::vector<uint64_t>,
                                 std::vector<int64_t>,
                                 std::vector<double>,
                                 std::vector<GgufValue>>;

    // The generic form the reader uses: elements of type `elem`, a scalar when !is_array.
    // ConfigError when the vector type does not match `elem` (BOOL: uint8_t 0/1, ARRAY:
    // arrays only), or a scalar has other than one element.
    static GgufValue make(GgufValueType elem, bool is_array, Storage elements);
    // The elements, for encoding them (the writer) or visiting them generically.
    const Storage& storage() const { return data_; }

private:
    GgufValue(GgufValueType elem, bool is_array, Storage data);
    template <class T> const std::vector<T>& elements(GgufValueType want, bool array) const;

    GgufValueType elem_ = GgufValueType::UINT8;
    bool is_array_ = false;
    Storage data_;
};

struct GgufKv {
    std::string key;
    GgufValue value;
};

// The layout of ggml type `type` (its row of the ggml type table, ggml_quants.h), or nullptr for
// an unknown or removed id.
const GgufTypeLayout* gguf_type_layout(uint32_t type);
// Bytes of a tensor of ggml type `type` with dims `ne` (ggml order, ne[0] = row length; empty
// = a scalar). ConfigError for an unknown type, more than 4 dims, a dim < 1, ne[0] not a
// multiple of the block size, or a size beyond int64.
uint64_t gguf_tensor_nbytes(uint32_t type, std::span<const int64_t> ne);

struct GgufTensorInfo {
    std::string name;
    std::vector<int64_t> ne; // ggml order: ne[0] is the row length (PyTorch's last dim)
    uint32_t type = 0;       // ggml type id
    uint64_t offset = 0;     // from the start of the data section
    uint64_t nbytes = 0;
};

// Streams a GGUF file to PATH.tmp.<pid> and renames it over PATH in finish(). Order of calls:
// set() and add_tensor() for everything, then write_tensor_data() once per tensor in
// declaration order, then finish(). The destructor without a successful finish() removes the
// temporary. Misuse is a ConfigError naming the file; I/O failure an Error.
class GgufWriter {
public:
    // `alignment`: a power of two up to 1 MiB. Other than 32 (the default), the writer adds
    // `general.alignment` (UINT32) unless the caller sets it to the same value.
    explicit GgufWriter(std::string path, uint32_t alignment = 32);
    ~GgufWriter();
    GgufWriter(const GgufWriter&) = delete;
    GgufWriter& operator=(const GgufWriter&) = delete;

    // A metadata pair, written in call order. ConfigError for a duplicate key, a key that is
    // not lower_snake_case segments joined by '.' (digits allowed) or longer than 65535 bytes,
    // a `general.alignment` that is not UINT32 equal to the writer's alignment, or a call
    // after tensor data has started.
    void set(std::string key, GgufValue value);
    // Declares a tensor and returns its byte size. ConfigError for an empty, repeated or too
    // long (>= 64 bytes) name, or what gguf_tensor_nbytes rejects.
    uint64_t add_tensor(std::string name, std::vector<int64_t> ne, uint32_t type);
    // The bytes of the next declared tensor: `name` must be that tensor's and `nbytes` its
    // size. The first call writes the header.
    void write_tensor_data(std::string_view name, const void* bytes, uint64_t nbytes);
    // Writes the header if no tensor did, checks every tensor was written, flushes, renames.
    void finish();

    const std::string& path() const { return path_; }

private:
    void write_header();
    void write_bytes(const void* p, size_t n);
    void check_open(const char* what) const;

    std::string path_;
    std::string tmp_path_;
    uint32_t alignment_;
    std::FILE* file_ = nullptr;
    std::vector<GgufKv> kvs_;
    std::map<std::string, size_t, std::less<>> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;
    uint64_t next_offset_ = 0; // offset of the next declared tensor
    size_t next_tensor_ = 0;   // index of the next tensor to write
    uint64_t written_ = 0;     // bytes written to the file so far
    bool header_written_ = false;
    bool finished_ = false;
    bool failed_ = false;
};

// A GGUF file mapped read-only. open() validates the header, every metadata value and tensor
// info and the data layout; tensor bytes are views into the mapping and live as long as this
// object. The file must not change while it is open (as with any mmap reader).
class GgufFile {
public:
    // Error "<path>: cannot open: <reason>" or "<path>: cannot map: <reason>" when the file
    // cannot be opened (a directory or other non-regular file included) or mapped, and
    // FormatError "<path>: <what>" for every malformation: bad magic, a version other than 3,
    // truncation anywhere, counts or lengths the file cannot hold, unknown value or tensor
    // types, a bool other than 0/1, arrays nested more than 8 deep, empty, duplicate or over
    // 65535-byte keys, a `general.alignment` that is not a UINT32 power of two up to 1 MiB,
    // duplicate or too long tensor names, more than 4 dims or a dim < 1, a row length that is
    // not a multiple of the block size, offsets that are misaligned, overlap or leave gaps
    // (llama.cpp requires each tensor to follow the previous one's padded end), or tensor data
    // beyond the file.
    // The padding after the last tensor may be missing (llama.cpp's loader accepts that).
    static GgufFile open(const std::string& path);

    GgufFile(GgufFile&& other) noexcept = default;
    GgufFile& operator=(GgufFile&& other) noexcept = default;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    // File offset of the data section (the end of the tensor infos, padded to the alignment).
    uint64_t data_offset() const { return data_offset_; }
    uint64_t file_size() const { return map_.size(); }

    // Metadata in file order.
    const std::vector<GgufKv>& metadata() const { return kvs_; }
    const GgufValue* find(std::string_view key) const;
    // The value of `key`, which must be a scalar or string of `type`: FormatError
    // "<path>: missing key '<key>'" or "<path>: key '<key>' has type X, expected Y".
    const GgufValue& at(std::string_view key, GgufValueType type) const;
    // The same for an array whose elements have type `elem`.
    const GgufValue& at_array(std::string_view key, GgufValueType elem) const;

    // Tensor infos in file order (which is data order).
    const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;
    // The nbytes bytes of a tensor of this file.
    std::span<const uint8_t> tensor_data(const GgufTensorInfo& info) const;

private:
    GgufFile() = default;

    std::string path_;
    MappedFile map_;
    uint32_t version_ = 0;
    uint32_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<GgufKv> kvs_;
    std::map<std::string, size_t, std::less<>> kv_index_;
    std::vector<GgufTensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;
};

} // namespace slimtune::io
