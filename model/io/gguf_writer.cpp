// GGUF writer: validates keys, names and sizes as they are declared, writes the header on the
// first tensor, then streams each tensor's bytes followed by zero padding to the alignment
// (after every tensor, the last included, as ggml's gguf_write_out does).
#include "common/error.h"
#include "model/io/gguf.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <type_traits>
#include <unistd.h>
#include <variant>

namespace slimtune::io {

static_assert(std::endian::native == std::endian::little, "GGUF is written little-endian");

namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxAlignment = 1u << 20; // ggml rejects more
constexpr size_t kMaxKeyBytes = 65535;
constexpr size_t kMaxNameBytes = 63; // GGML_MAX_NAME = 64 with the NUL

// Lower-case ASCII letters, digits and '_' in non-empty segments joined by '.'.
bool valid_key(std::string_view key) {
    if (key.empty() || key.size() > kMaxKeyBytes || key.front() == '.' || key.back() == '.')
        return false;
    char prev = 0;
    for (char c : key) {
        const bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!word && !(c == '.' && prev != '.'))
            return false;
        prev = c;
    }
    return true;
}

// Appends the little-endian bytes of trivially copyable values to a header buffer.
class Encoder {
public:
    template <class T> void put(T v) {
        static_assert(std::is_trivially_copyable_v<T>);
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        out.append(b, sizeof(T));
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        out.append(s);
    }
    // The elements of `v` without their type tag (what follows the tag in a kv or an array).
    void put_elements(const GgufValue& v) {
        std::visit(
            [this](const auto& elems) {
                using T = typename std::decay_t<decltype(elems)>::value_type;
                for (const T& e : elems) {
                    if constexpr (std::is_same_v<T, std::string>) {
                        put_string(e);
                    } else if constexpr (std::is_same_v<T, GgufValue>) {
                        put_array_body(e);
                    } else {
                        put<T>(e);
                    }
                }
            },
            v.storage());
    }
    // Element type, count, elements: an array value after its ARRAY tag.
    void put_array_body(const GgufValue& v) {
        put<uint32_t>(static_cast<uint32_t>(v.array_type()));
        put<uint64_t>(v.size());
        put_elements(v);
    }
    void put_value(const GgufValue& v) {
        put<uint32_t>(static_cast<uint32_t>(v.type()));
        if (v.is_array())
            put_array_body(v);
        else
            put_elements(v);
    }

    std::string out;
};

uint64_t padding(uint64_t n, uint32_t alignment) {
    return (alignment - n % alignment) % alignment;
}

} // namespace

GgufWriter::GgufWriter(std::string path, uint32_t alignment)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp." + std::to_string(::getpid())),
      alignment_(alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment)
        throw ConfigError(path_ + ": GGUF alignment " + std::to_string(alignment) +
                          " is not a power of two up to 1 MiB");
    file_ = std::fopen(tmp_path_.c_str(), "wb");
    if (!file_)
        throw Error(path_ + ": cannot create temporary file '" + tmp_path_ +
                    "': " + std::strerror(errno));
}

GgufWriter::~GgufWriter() {
    if (file_)
        std::fclose(file_);
    if (!finished_)
        std::remove(tmp_path_.c_str());
}

void GgufWriter::check_open(const char* what) const {
    if (failed_)
        throw ConfigError(path_ + ": " + what + " after a failed write");
    if (finished_)
        throw ConfigError(path_ + ": " + what + " after finish()");
}

void GgufWriter::set(std::string key, GgufValue value) {
    check_open("set()");
    if (header_written_)
        throw ConfigError(path_ + ": key '" + key + "' set after tensor data started");
    if (!valid_key(key))
        throw ConfigError(path_ + ": invalid GGUF key '" + key +
                          "'; expected lower_snake_case segments joined by '.'");
    if (kv_index_.count(key))
        throw ConfigError(path_ + ": duplicate GGUF key '" + key + "'");
    if (key == "general.alignment" &&
        (value.type() != GgufValueType::UINT32 || value.as_u32() != alignment_))
        throw ConfigError(path_ + ": general.alignment must be UINT32 " +
                          std::to_string(alignment_) + " (the writer's alignment)");
    kv_index_.emplace(key, kvs_.size());
    kvs_.push_back({std::move(key), std::move(value)});
}

uint64_t GgufWriter::add_tensor(std::string name, std::vector<int64_t> ne, uint32_t type) {
    check_open("add_tensor()");
    if (header_written_)
        throw ConfigError(path_ + ": tensor '" + name + "' declared after tensor data started");
    if (name.empty() || name.size() > kMaxNameBytes)
        throw ConfigError(path_ + ": tensor name '" + name + "' must have 1 to " +
                          std::to_string(kMaxNameBytes) + " bytes");
    if (tensor_index_.count(name))
        throw ConfigError(path_ + ": duplicate tensor name '" + name + "'");
    uint64_t nbytes = 0;
    try {
        nbytes = gguf_tensor_nbytes(type, ne);
    } catch (const ConfigError& e) {
        throw ConfigError(path_ + ": tensor '" + name + "': " + e.what());
    }
    tensor_index_.emplace(name, tensors_.size());
    tensors_.push_back({std::move(name), std::move(ne), type, next_offset_, nbytes});
    next_offset_ += nbytes + padding(nbytes, alignment_);
    return nbytes;
}

void GgufWriter::write_bytes(const void* p, size_t n) {
    if (n != 0 && std::fwrite(p, 1, n, file_) != n) {
        failed_ = true;
        throw Error(path_ + ": write failed: " + std::strerror(errno));
    }
    written_ += n;
}

void GgufWriter::write_header() {
    if (alignment_ != kDefaultAlignment && !kv_index_.count("general.alignment"))
        set("general.alignment", GgufValue::u32(alignment_));
    Encoder enc;
    enc.out.append("GGUF", 4);
    enc.put<uint32_t>(3);
    enc.put<uint64_t>(tensors_.size());
    enc.put<uint64_t>(kvs_.size());
    for (const GgufKv& kv : kvs_) {
        enc.put_string(kv.key);
        enc.put_value(kv.value);
    }
    for (const GgufTensorInfo& t : tensors_) {
        enc.put_string(t.name);
        enc.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne)
            enc.put<int64_t>(d);
        enc.put<uint32_t>(t.type);
        enc.put<uint64_t>(t.offset);
    }
    enc.out.append(padding(enc.out.size(), alignment_), '\0');
    header_written_ = true;
    write_bytes(enc.out.data(), enc.out.size());
}

void GgufWriter::write_tensor_data(std::string_view name, const void* bytes, uint64_t nbytes) {
    check_open("write_tensor_data()");
    if (next_tensor_ >= tensors_.size())
        throw ConfigError(path_ + ": data for tensor '" + std::string(name) +
                          "' but every declared tensor is written");
    const GgufTensorInfo& t = tensors_[next_tensor_];
    if (name != t.name)
        throw ConfigError(path_ + ": data for tensor '" + std::string(name) +
                          "' where the next declared tensor is '" + t.name + "'");
    if (nbytes != t.nbytes)
        throw ConfigError(path_ + ": tensor '" + t.name + "' has " + std::to_string(nbytes) +
                          " bytes; expected " + std::to_string(t.nbytes));
    if (!header_written_)
        write_header();
    write_bytes(bytes, nbytes);
    static constexpr char kZeros[64] = {};
    for (uint64_t pad = padding(written_, alignment_); pad > 0;) {
        const uint64_t n = std::min<uint64_t>(pad, sizeof(kZeros));
        write_bytes(kZeros, n);
        pad -= n;
    }
    ++next_tensor_;
}

void GgufWriter::finish() {
    check_open("finish()");
    if (next_tensor_ != tensors_.size())
        throw ConfigError(path_ + ": tensor '" + tensors_[next_tensor_].name +
                          "' was declared but its data not written");
    if (!header_written_)
        write_header();
    std::FILE* f = file_;
    file_ = nullptr;
    if (std::fflush(f) != 0 || std::ferror(f)) {
        const int err = errno;
        std::fclose(f);
        failed_ = true;
        throw Error(path_ + ": write failed: " + std::strerror(err));
    }
    if (std::fclose(f) != 0) {
        failed_ = true;
        throw Error(path_ + ": write failed: " + std::strerror(errno));
    }
    if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
        failed_ = true;
        throw Error(path_ + ": cannot rename temporary file: " + std::strerror(errno));
    }
    finished_ = true;
}

} // namespace slimtune::io
