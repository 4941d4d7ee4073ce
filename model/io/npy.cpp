// .npy writer and reader for '<f4' C-order arrays. The writer reproduces numpy.save's header
// exactly (numpy/lib/format.py: _write_array_header and _wrap_header, numpy 1.24): the dict
// keys sorted, the shape as Python's tuple repr, spaces after the dict so the first dim can
// grow in place, then spaces and '\n' up to a multiple of 64 bytes. The reader parses the dict
// literal itself (numpy uses ast.literal_eval) and accepts only what describes a '<f4' C array.
#include "model/io/npy.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>

namespace slimtune::io {

static_assert(std::endian::native == std::endian::little,
              ".npy '<f4' data is little-endian; the reader and writer copy it as-is");

namespace {

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kArrayAlign = 64;          // numpy's ARRAY_ALIGN: data offset multiple
constexpr size_t kGrowthAxisMaxDigits = 21; // numpy's GROWTH_AXIS_MAX_DIGITS

// Python's repr of the shape tuple: "()", "(5,)", "(2, 3)".
std::string shape_repr(const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1)
        s += ",";
    return s + ")";
}

// Magic, version, header length and the padded header: everything before the data.
std::string npy_header(const std::vector<int64_t>& shape) {
    std::string dict =
        "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_repr(shape) + ", }";
    // numpy pads after the dict so that the first (growth) axis can be rewritten with up to 21
    // digits without moving the data. A 0-d array has no axis to grow.
    if (!shape.empty())
        dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
    // NOTE: numpy's padding is 64 - (prefix + len(dict) + 1) % 64, which is 64 (not 0) when
    // already aligned: copy that, so the bytes match numpy.save in every case.
    for (const int major : {1, 2}) {
        const size_t prefix = major == 1 ? 10 : 12; // magic, version, uint16 or uint32 length
        const size_t unpadded = dict.size() + 1;    // + '\n'
        const size_t header_len = unpadded + (kArrayAlign - (prefix + unpadded) % kArrayAlign);
        if (major == 1 && header_len > std::numeric_limits<uint16_t>::max())
            continue; // numpy switches to format 2.0 only when 1.0 cannot hold the header
        std::string out(kMagic, sizeof kMagic);
        out += static_cast<char>(major);
        out += '\0';
        for (size_t i = 0; i < prefix - 8; ++i) // little-endian length
            out += static_cast<char>((header_len >> (8 * i)) & 0xff);
        out += dict;
        out.append(header_len - unpadded, ' ');
        out += '\n';
        return out;
    }
    // Unreachable: a header over 4 GiB would need a shape of some 10^8 dims.
    throw ShapeError(".npy header for " + std::to_string(shape.size()) + " dims is too long");
}

// Reads the Python dict literal numpy writes. Only what a '<f4' header can contain is accepted:
// string values, True/False, and tuples of non-negative integers.
class HeaderParser {
public:
    HeaderParser(const std::string& path, std::string_view text) : path_(path), s_(text) {}

    struct Parsed {
        std::string descr;
        bool fortran_order = false;
        std::vector<int64_t> shape;
    };

    Parsed parse() {
        Parsed out;
        bool seen_descr = false, seen_order = false, seen_shape = false;
        skip_space();
        expect('{', "a '{'");
        skip_space();
        while (!at('}')) {
            const std::string key = parse_string("a key");
            skip_space();
            expect(':', "':' after key '" + key + "'");
            skip_space();
            if (key == "descr") {
                check_once(seen_descr, key);
                out.descr = parse_string("a string for 'descr'");
            } else if (key == "fortran_order") {
                check_once(seen_order, key);
                out.fortran_order = parse_bool(key);
            } else if (key == "shape") {
                check_once(seen_shape, key);
                out.shape = parse_shape();
            } else {
                fail("unexpected key '" + key + "'; expected 'descr', 'fortran_order', 'shape'");
            }
            skip_space();
            if (!at('}'))
                expect(',', "',' or '}' after the value of '" + key + "'");
            skip_space();
        }
        ++pos_; // '}'
        skip_space();
        if (pos_ != s_.size())
            fail("text after the closing '}'");
        if (!seen_descr || !seen_order || !seen_shape)
            fail(std::string("no '") +
                 (!seen_descr   ? "descr"
                  : !seen_order ? "fortran_order"
                                : "shape") +
                 "' key; expected 'descr', 'fortran_order' and 'shape'");
        return out;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw FormatError(path_ + ": header: " + what);
    }

    bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

    void skip_space() {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r'))
            ++pos_;
    }

    void expect(char c, const std::string& what) {
        if (!at(c))
            fail("expected " + what + " at offset " + std::to_string(pos_) + ", got " +
                 (pos_ < s_.size() ? "'" + printable(s_.substr(pos_, 1)) + "'" : "end of header"));
        ++pos_;
    }

    void check_once(bool& seen, const std::string& key) {
        if (seen)
            fail("key '" + key + "' appears twice");
        seen = true;
    }

    // A '...' or "..." literal without escapes (numpy's keys and dtype strings have none).
    std::string parse_string(const std::string& what) {
        if (!at('\'') && !at('"'))
            expect('\'', what);
        const char quote = s_[pos_++];
        const size_t end = s_.find(quote, pos_);
        if (end == std::string_view::npos)
            fail("unterminated string at offset " + std::to_string(pos_ - 1));
        const std::string_view body = s_.substr(pos_, end - pos_);
        if (body.find('\\') != std::string_view::npos)
            fail("escape in string '" + printable(body) + "'; expected none");
        pos_ = end + 1;
        return std::string(body);
    }

    bool parse_bool(const std::string& key) {
        for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}})
            if (s_.substr(pos_, std::strlen(word)) == word) {
                pos_ += std::strlen(word);
                return value;
            }
        fail("'" + key + "' is not True or False");
    }

    // "()", "(5,)", "(2, 3)" or "(2, 3,)". "(5)" is an int in Python, not a tuple: rejected.
    std::vector<int64_t> parse_shape() {
        expect('(', "a tuple for 'shape'");
        std::vector<int64_t> shape;
        skip_space();
        bool comma_after_last = false;
        while (!at(')')) {
            shape.push_back(parse_dim());
            skip_space();
            comma_after_last = at(',');
            if (!comma_after_last && !at(')'))
                expect(',', "',' or ')' in 'shape'");
            if (comma_after_last)
                ++pos_;
            skip_space();
        }
        ++pos_; // ')'
        if (shape.size() == 1 && !comma_after_last)
            fail("'shape' (" + std::to_string(shape[0]) + ") is not a tuple; expected (" +
                 std::to_string(shape[0]) + ",)");
        return shape;
    }

    int64_t parse_dim() {
        const size_t start = pos_;
        int64_t v = 0;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s_[pos_] - '0', &v))
                fail("dim at offset " + std::to_string(start) + " does not fit in int64");
            ++pos_;
        }
        if (pos_ == start)
            fail("expected a non-negative integer dim in 'shape' at offset " +
                 std::to_string(start));
        return v;
    }

    static std::string printable(std::string_view s) {
        std::string out;
        for (const char c : s.substr(0, 100)) {
            const auto u = static_cast<unsigned char>(c);
            if (u >= 0x20 && u < 0x7f) {
                out += c;
            } else {
                static constexpr char kHex[] = "0123456789abcdef";
                out += "\\x";
                out += kHex[u >> 4];
                out += kHex[u & 15];
            }
        }
        return s.size() > 100 ? out + "..." : out;
    }

    const std::string& path_;
    std::string_view s_;
    size_t pos_ = 0;
};

} // namespace

void write_npy_f32(const std::string& path,
                   const std::vector<int64_t>& shape,
                   std::span<const float> values) {
    int64_t numel = 1;
    for (const int64_t d : shape) {
        if (d < 0)
            throw ShapeError(path + ": negative dim in shape " + shape_repr(shape));
        if (__builtin_mul_overflow(numel, d, &numel))
            throw ShapeError(path + ": element count of shape " + shape_repr(shape) +
                             " overflows int64");
    }
    if (static_cast<uint64_t>(numel) != values.size())
        throw ShapeError(path + ": " + std::to_string(values.size()) +
                         " values do not fill shape " + shape_repr(shape) + "; expected " +
                         std::to_string(numel));
    const std::string header = npy_header(shape);
    write_file_atomic(path, [&](std::ostream& out) {
        out.write(header.data(), static_cast<std::streamsize>(header.size()));
        if (!values.empty())
            out.write(reinterpret_cast<const char*>(values.data()),
                      static_cast<std::streamsize>(values.size_bytes()));
    });
}

NpyArray read_npy_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open: " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff size_off = in.tellg();
    in.seekg(0, std::ios::beg);
    if (size_off < 0 || !in)
        throw Error(path + ": cannot read: not a regular file");
    const auto file_size = static_cast<uint64_t>(size_off);
    auto read = [&](char* dst, uint64_t n) {
        if (!in.read(dst, static_cast<std::streamsize>(n)))
            throw Error(path + ": cannot read: " + std::strerror(errno));
    };
    auto bad = [&](const std::string& what) { return FormatError(path + ": " + what); };

    char start[12];
    if (file_size < 10)
        throw bad("file is " + std::to_string(file_size) + " bytes; too short for a .npy header");
    read(start, 8);
    if (std::memcmp(start, kMagic, sizeof kMagic) != 0)
        throw bad("not a .npy file; expected magic \\x93NUMPY");
    const int major = static_cast<unsigned char>(start[6]);
    const int minor = static_cast<unsigned char>(start[7]);
    if ((major != 1 && major != 2) || minor != 0)
        throw bad(".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                  " is not supported; expected 1.0 or 2.0");
    const size_t len_bytes = major == 1 ? 2 : 4;
    if (file_size < 8 + len_bytes)
        throw bad("file is " + std::to_string(file_size) + " bytes; too short for a .npy header");
    read(start + 8, len_bytes);
    uint64_t header_len = 0;
    for (size_t i = 0; i < len_bytes; ++i)
        header_len |= static_cast<uint64_t>(static_cast<unsigned char>(start[8 + i])) << (8 * i);
    const uint64_t data_offset = 8 + len_bytes + header_len;
    if (data_offset > file_size)
        throw bad("header length " + std::to_string(header_len) + " runs past the end of the " +
                  std::to_string(file_size) + "-byte file");
    std::string text(static_cast<size_t>(header_len), '\0');
    read(text.data(), header_len);

    const HeaderParser::Parsed h = HeaderParser(path, text).parse();
    if (h.descr != "<f4")
        throw bad("dtype '" + h.descr +
                  "' is not supported; expected '<f4' (little-endian float32)");
    if (h.fortran_order)
        throw bad("fortran_order is True; expected a C-order array");
    int64_t numel = 1;
    for (const int64_t d : h.shape)
        if (__builtin_mul_overflow(numel, d, &numel))
            throw bad("element count of shape " + shape_repr(h.shape) + " overflows int64");
    const uint64_t data_size = file_size - data_offset;
    if (data_size % sizeof(float) != 0 || data_size / sizeof(float) != static_cast<uint64_t>(numel))
        throw bad("data is " + std::to_string(data_size) + " bytes; expected " +
                  (static_cast<uint64_t>(numel) <= std::numeric_limits<uint64_t>::max() / 4
                       ? std::to_string(static_cast<uint64_t>(numel) * 4)
                       : std::to_string(numel) + " * 4") +
                  " for shape " + shape_repr(h.shape));

    NpyArray a;
    a.shape = h.shape;
    a.values.resize(static_cast<size_t>(numel));
    if (numel != 0)
        read(reinterpret_cast<char*>(a.values.data()), data_size);
    return a;
}

} // namespace slimtune::io
