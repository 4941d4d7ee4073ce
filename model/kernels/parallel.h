// OpenMP conventions shared by the kernels: static schedules (the same rows always go to the
// same thread), and a size below which a loop stays serial because waking the team costs more
// than it saves. Reductions never use an OpenMP float `reduction` clause: partial sums are kept
// in a fixed order so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace slimtune::kernels {

// Elements of work below which a loop runs on the calling thread.
inline constexpr int64_t kParallelMinWork = 1 << 14;

} // namespace slimtune::kernels
