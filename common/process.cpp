#include "common/process.h"

#include <limits>
#include <malloc.h>

namespace slimtune {

void keep_freed_memory_resident() {
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

} // namespace slimtune
