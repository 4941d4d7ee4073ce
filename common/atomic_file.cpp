#include "common/atomic_file.h"

#include "common/error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <unistd.h>

namespace slimtune {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out)
            throw Error(path + ": cannot create temporary file '" + tmp +
                        "': " + std::strerror(errno));
        write(out);
        out.flush();
        if (!out)
            throw Error(path + ": write failed: " + std::strerror(errno));
        out.close();
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(path + ": cannot rename temporary file: " + std::strerror(errno));
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

} // namespace slimtune
