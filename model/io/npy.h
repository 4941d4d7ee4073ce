// NumPy .npy files holding little-endian float32 arrays in C order: what `slimtune logits`
// writes, loadable with numpy.load. Layout (numpy/lib/format.py): magic "\x93NUMPY", version
// major.minor, header length (uint16 LE in 1.0, uint32 LE in 2.0), the header (a Python dict
// literal: descr, fortran_order, shape; space-padded, ending in '\n', so that the data starts at
// a multiple of 64), then the raw data. Not here: other dtypes, Fortran order, .npz archives.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace slimtune::io {

// Writes `values` (C order, numel(shape) of them) to `path` atomically, byte for byte as
// numpy.save writes a '<f4' array (numpy >= 1.24 header padding included): format 1.0, or 2.0
// only when the header would not fit in 65535 bytes. An empty shape is a 0-d array (1 value).
// Throws ShapeError for a negative dim, an element count that overflows, or values.size() !=
// numel(shape); Error when the file cannot be written.
void write_npy_f32(const std::string& path,
                   const std::vector<int64_t>& shape,
                   std::span<const float> values);

struct NpyArray {
    std::vector<int64_t> shape; // outermost first; [] for a 0-d array
    std::vector<float> values;  // C order, numel(shape) of them
};

// Reads a '<f4', C-order array in format 1.0 or 2.0. Throws FormatError "<path>: <what>" for
// anything else: bad magic, another version, a header that runs past the end of the file or is
// not the dict literal numpy writes, another dtype, fortran_order True, a bad shape, or a data
// size other than exactly numel * 4 bytes. Error when the file cannot be read.
NpyArray read_npy_f32(const std::string& path);

} // namespace slimtune::io
