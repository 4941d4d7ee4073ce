#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace slimtune {

void assert_fail(const char* cond, const char* file, int line, const std::string& msg) {
    std::fprintf(stderr, "slimtune: internal error at %s:%d: %s (%s)\n", file, line, msg.c_str(),
                 cond);
    std::abort();
}

} // namespace slimtune
