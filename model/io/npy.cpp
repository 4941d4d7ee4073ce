#include "model/io/npy.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "model/tensor.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace slimtune::io {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
} // namespace

void write_npy_f32(const std::string& path,
                   const std::vector<int64_t>& shape,
                   std::span<const float> values) {
    if (shape_numel(shape) != static_cast<int64_t>(values.size()))
        throw ShapeError(path + ": " + std::to_string(values.size()) +
                         " values do not fill shape " + shape_str(shape));
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i)
        dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1)
        dims += ",";
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
    const size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    write_file_atomic(path, [&](std::ostream& out) {
        out.write(kMagic, 6);
        const char version[2] = {1, 0};
        out.write(version, 2);
        const uint16_t len = static_cast<uint16_t>(dict.size());
        const char len_bytes[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
        out.write(len_bytes, 2);
        out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
        out.write(reinterpret_cast<const char*>(values.data()),
                  static_cast<std::streamsize>(values.size() * sizeof(float)));
    });
}

NpyArray read_npy_f32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string b = ss.str();
    auto bad = [&](const std::string& what) { return FormatError(path + ": " + what); };
    if (b.size() < 10 || b.compare(0, 6, kMagic, 6) != 0)
        throw bad("not a .npy file (bad magic)");
    const int major = static_cast<unsigned char>(b[6]);
    size_t len = 0, start = 0;
    if (major == 1) {
        len = static_cast<unsigned char>(b[8]) |
              static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (b.size() < 12)
            throw bad("truncated header");
        for (int i = 0; i < 4; ++i)
            len |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
        start = 12;
    } else {
        throw bad("unsupported .npy version " + std::to_string(major));
    }
    if (len > b.size() - start)
        throw bad("header length " + std::to_string(len) + " runs past the end of the file");
    const std::string dict = b.substr(start, len);
    if (dict.find("'descr': '<f4'") == std::string::npos)
        throw bad("only little-endian float32 ('<f4') arrays are supported");
    if (dict.find("'fortran_order': False") == std::string::npos)
        throw bad("only C-order arrays are supported");
    const size_t open = dict.find("'shape': (");
    const size_t close = open == std::string::npos ? open : dict.find(')', open);
    if (close == std::string::npos)
        throw bad("header has no shape");
    NpyArray a;
    std::string dims = dict.substr(open + 10, close - open - 10);
    std::stringstream ds(dims);
    std::string item;
    while (std::getline(ds, item, ',')) {
        if (item.find_first_not_of(' ') == std::string::npos)
            continue;
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
        }
        if (v < 0)
            throw bad("bad shape '" + dims + "'");
        a.shape.push_back(v);
    }
    const int64_t n = shape_numel(a.shape);
    const size_t data_at = start + len;
    if (b.size() - data_at != static_cast<size_t>(n) * sizeof(float))
        throw bad("data holds " + std::to_string(b.size() - data_at) + " bytes, expected " +
                  std::to_string(n * 4) + " for shape (" + dims + ")");
    a.values.resize(static_cast<size_t>(n));
    if (n)
        std::memcpy(a.values.data(), b.data() + data_at, static_cast<size_t>(n) * sizeof(float));
    return a;
}

} // namespace slimtune::io
