#include "common/json_depth.h"

#include "common/error.h"

#include <string>

namespace slimtune {

void check_json_depth(std::string_view text, std::string_view where) {
    size_t depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth)
                throw FormatError(std::string(where) + ": JSON nested deeper than " +
                                  std::to_string(kMaxJsonDepth) + " levels (at byte " +
                                  std::to_string(i) + ")");
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
}

} // namespace slimtune
