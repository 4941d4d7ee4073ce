// safetensors reader and writer (Hugging Face's tensor file format); F16 and BF16 values convert
// through model/half.h (NanPolicy::KeepPayload). Layout: u64 little-endian header length N, N bytes
// of UTF-8 JSON (an object, right-padded with spaces), then the data section, which the tensors'
// byte ranges cover exactly. Reference: huggingface/safetensors README and src/tensor.rs.
// Not here: sharded checkpoints (model.safetensors.index.json) and mapping names to model weights.
#pragma once

#include "common/mapped_file.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::io {

// The subset of safetensors dtypes slimtune reads and writes. Others (U16, U32, U64, C64, the F8,
// F6 and F4 types) are rejected by the reader as unsupported.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType dtype);      // bytes per element: 8, 4, 2, 2, 8, 4, 2, 1, 1, 1
const char* dtype_name(DType dtype); // the header spelling: "F64", "F32", ..., "BOOL"
// Inverse of dtype_name. Throws FormatError for a string that names no DType above.
DType parse_dtype(const std::string& s);

// One tensor of an open file. [begin, end) are byte offsets within the data section.
struct SafetensorsEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape; // outermost first; [] is a scalar (numel 1)
    uint64_t begin = 0;
    uint64_t end = 0;

    // Product of the dims. Throws ShapeError on a negative dim or an int64 overflow (never for
    // an entry that came out of SafetensorsFile, which checked both).
    int64_t numel() const;
};

// A safetensors file mapped read-only. open() validates the whole header and the tensor layout,
// so every later call on a valid object either succeeds or fails for a reason named in its
// comment. Tensor bytes are views into the mapping: they live as long as this object.
// NOTE: the data section need not be aligned for any dtype (the header length is arbitrary);
// the read_* functions copy through memcpy, and callers of bytes() must do the same.
class SafetensorsFile {
public:
    // Maps `path`. Throws Error "<path>: cannot open: <reason>" when the file cannot be opened
    // or is not a regular file, "<path>: cannot map: <reason>" when it cannot be mapped, and
    // FormatError "<path>: <what>" for anything malformed: short file, header length out of range,
    // header not a JSON object, duplicate keys, bad __metadata__, bad or unsupported dtype, bad
    // shape or data_offsets, sizes that disagree, overlapping ranges or bytes of the data section
    // that no tensor covers.
    static SafetensorsFile open(const std::string& path);

    SafetensorsFile(SafetensorsFile&& other) noexcept = default;
    SafetensorsFile& operator=(SafetensorsFile&& other) noexcept = default;

    const std::string& path() const { return path_; }
    // All tensors, sorted by data offset (ties, which only zero-size tensors have, by name).
    const std::vector<SafetensorsEntry>& entries() const { return entries_; }
    // The tensor called `name`, or nullptr.
    const SafetensorsEntry* find(std::string_view name) const;
    // The tensor called `name`; throws FormatError "<path>: no tensor '<name>'".
    const SafetensorsEntry& at(std::string_view name) const;
    // The raw little-endian bytes of an entry of this file (end - begin bytes, any alignment).
    std::span<const uint8_t> bytes(const SafetensorsEntry& entry) const;
    // Tells the kernel the entry's mapped pages are not needed any more (after converting it),
    // so they leave the resident set; a later read maps them in again. Whole pages only.
    void release(const SafetensorsEntry& entry) const noexcept;

    // Element values converted to the requested type, in C order; the floating-point reads
    // release the tensor's mapped pages as they convert them. Each throws FormatError
    // "<path>: no tensor '<name>'" for a missing name and FormatError naming the tensor when
    // its dtype does not convert:
    std::vector<float> read_f32(std::string_view name) const;   // F32, F16, BF16, F64 (rounded)
    std::vector<double> read_f64(std::string_view name) const;  // F64, F32, F16, BF16 (exact)
    std::vector<int64_t> read_i64(std::string_view name) const; // I64..I8, U8; BOOL as 0/1

    // The string -> string "__metadata__" map; empty when the file has none.
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

private:
    SafetensorsFile() = default;
    const uint8_t* data() const { return map_.data() + data_offset_; } // the data section

    std::string path_;
    MappedFile map_;
    uint64_t data_offset_ = 0; // 8 + the header length
    uint64_t data_size_ = 0;
    std::vector<SafetensorsEntry> entries_;
    std::map<std::string, size_t, std::less<>> index_; // name -> position in entries_
    std::map<std::string, std::string> metadata_;
};

// A tensor to write: `bytes` must hold exactly numel(shape) * dtype_size(dtype) bytes,
// little-endian, C order. The bytes are only read during write_safetensors.
struct SafetensorsTensor {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::span<const uint8_t> bytes;
};

// Writes `tensors` to `path` atomically (temporary file + rename; nothing is left behind on
// failure). Data is laid out in the given order with no gaps. The header JSON lists
// "__metadata__" first, then the tensors in the given order, and is padded with spaces so that
// 8 + header length is a multiple of 8. "__metadata__" is always written and holds `metadata`
// plus "format": "pt" unless the caller gives a "format" key.
// Throws ShapeError when a shape has a negative dim or overflows, or when the byte count does
// not match; Error for an empty, repeated or reserved ("__metadata__") name, for names or
// metadata that are not valid UTF-8, and when the file cannot be written.
void write_safetensors(const std::string& path,
                       const std::vector<SafetensorsTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

} // namespace slimtune::io
