// Writers never leave a half-written file: they write PATH.tmp.<pid> and rename it over PATH
// only once everything is flushed. On any error the temporary is removed.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace slimtune {

// Calls write(out) on a stream to a temporary beside `path`, then renames it to `path`.
// Throws Error naming `path` if the file cannot be created, written or renamed.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

} // namespace slimtune
