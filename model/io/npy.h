// NumPy .npy files (format version 1.0, little-endian float32, C order): what `slimtune logits`
// writes, loadable with numpy.load.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace slimtune::io {

// Writes atomically; ShapeError if values do not fill the shape.
void write_npy_f32(const std::string& path,
                   const std::vector<int64_t>& shape,
                   std::span<const float> values);

struct NpyArray {
    std::vector<int64_t> shape;
    std::vector<float> values;
};
// Reads a '<f4' C-order array (format 1.0 or 2.0); FormatError naming the file otherwise.
NpyArray read_npy_f32(const std::string& path);

} // namespace slimtune::io
