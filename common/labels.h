// The label that marks a position as not learned. Hugging Face's convention (PyTorch's
// cross_entropy ignore_index default), shared by the data that writes it and the loss that skips
// it.
#pragma once

#include <cstdint>

namespace slimtune {

inline constexpr std::int32_t kIgnoreLabel = -100;

} // namespace slimtune
