#include "common/atomic_file.h"

#include "common/error.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <unistd.h>

namespace slimtune {

namespace {

// fsync(2) of the file at `path`: 0, or the errno of the open or the sync.
int fsync_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    const int err = synced ? 0 : errno;
    if (fd >= 0)
        ::close(fd);
    return err;
}

} // namespace

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
        if (!out)
            throw Error(path + ": write failed: " + std::strerror(errno));
        // The data must be on disk before the rename makes it PATH: otherwise a power cut
        // after the rename can leave PATH empty.
        if (const int err = fsync_file(tmp); err != 0)
            throw Error(path + ": cannot sync temporary file: " + std::strerror(err));
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(path + ": cannot rename temporary file: " + std::strerror(errno));
        const std::string parent = std::filesystem::path(path).parent_path().string();
        sync_directory(parent.empty() ? "." : parent);
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

namespace {

namespace fs = std::filesystem;

bool holds_directory(const fs::path& dir) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_directory(ec) && !it->is_symlink(ec))
            return true;
    return false;
}

void sync_file(const fs::path& p, const std::string& dir) {
    if (const int err = fsync_file(p.string()); err != 0)
        throw Error(dir + ": cannot sync '" + p.string() + "': " + std::strerror(err));
}

} // namespace

StagedDirectory::StagedDirectory(const std::string& dir) {
    std::error_code ec;
    fs::path abs = fs::absolute(dir, ec).lexically_normal();
    if (!abs.has_filename())
        abs = abs.parent_path();
    dir_ = abs.string();
    // Swapping the working directory (or one above it) would leave this process in the old
    // one, about to be removed.
    const fs::path cwd = fs::current_path(ec);
    const bool holds_cwd =
        std::mismatch(abs.begin(), abs.end(), cwd.begin(), cwd.end()).first == abs.end();
    if (holds_cwd || abs == abs.root_path())
        throw Error(dir + ": cannot publish into the current directory or one above it; "
                          "write into a directory of its own");
    stage_ = dir_ + ".tmp." + std::to_string(::getpid());
    fs::remove_all(stage_, ec); // left by a killed process that had the same pid
    const fs::path parent = fs::path(dir_).parent_path();
    if (!parent.empty())
        fs::create_directories(parent, ec);
    fs::create_directory(stage_, ec);
    if (ec)
        throw Error(stage_ + ": cannot create directory: " + ec.message());
}

StagedDirectory::~StagedDirectory() {
    std::error_code ec;
    fs::remove_all(stage_, ec);
}

void StagedDirectory::publish(const std::function<bool(const std::string&)>& superseded) {
    std::error_code ec;
    const bool existed = fs::is_directory(dir_, ec);
    std::vector<fs::path> moved_back; // the old directory's subdirectories
    if (existed) {
        for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
            const fs::path to = fs::path(stage_) / it->path().filename();
            std::error_code e;
            if (fs::exists(fs::symlink_status(to, e)))
                continue; // written anew
            if (superseded && superseded(it->path().filename().string()))
                continue;
            if (it->is_symlink(e))
                fs::copy_symlink(it->path(), to, e);
            else if (it->is_directory(e))
                moved_back.push_back(it->path().filename());
            else
                fs::create_hard_link(it->path(), to, e);
            if (e)
                throw Error(dir_ + ": cannot carry '" + it->path().filename().string() +
                            "' over: " + e.message());
        }
        if (ec)
            throw Error(dir_ + ": cannot list: " + ec.message());
    }
    for (fs::directory_iterator it(stage_, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec))
            sync_file(it->path(), dir_);
    sync_directory(stage_);
    if (!existed) {
        if (std::rename(stage_.c_str(), dir_.c_str()) != 0)
            throw Error(dir_ + ": cannot move the new files into place: " + std::strerror(errno));
    } else if (::renameat2(AT_FDCWD, stage_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) !=
               0) {
        if (errno == EBUSY || errno == EXDEV)
            throw Error(dir_ + ": cannot swap the new files in (a mount point?): " +
                        std::strerror(errno) + "; write into a directory inside it");
        if (errno != EINVAL && errno != ENOSYS)
            throw Error(dir_ + ": cannot swap the new files in: " + std::strerror(errno));
        const std::string aside = dir_ + ".old.tmp." + std::to_string(::getpid());
        if (std::rename(dir_.c_str(), aside.c_str()) != 0)
            throw Error(dir_ + ": cannot move the old files aside: " + std::strerror(errno));
        if (std::rename(stage_.c_str(), dir_.c_str()) != 0) {
            const int err = errno;
            std::rename(aside.c_str(), dir_.c_str());
            throw Error(dir_ + ": cannot move the new files into place: " + std::strerror(err));
        }
        std::rename(aside.c_str(), stage_.c_str()); // the destructor removes it
    }
    // The stage path now holds the old contents: its subdirectories go back into `dir`.
    for (const fs::path& name : moved_back) {
        std::error_code e;
        fs::rename(fs::path(stage_) / name, fs::path(dir_) / name, e);
        if (e)
            throw Error(dir_ + ": cannot move '" + name.string() + "' back: " + e.message());
    }
    const std::string parent = fs::path(dir_).parent_path().string();
    sync_directory(parent.empty() ? "." : parent);
}

void sync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
    std::vector<std::string> removed;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const size_t at = name.rfind(".tmp.");
        if (at == std::string::npos || at == 0 || at + 5 == name.size() || name.size() - at > 15)
            continue;
        const std::string digits = name.substr(at + 5);
        if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
            continue;
        const auto pid = static_cast<pid_t>(std::stoll(digits));
        // kill(pid, 0) fails with ESRCH only when no such process exists.
        if (pid <= 0 || (::kill(pid, 0) == 0 || errno != ESRCH))
            continue;
        std::error_code rm;
        if (it->is_directory(rm) && holds_directory(it->path()))
            continue;
        if (std::filesystem::remove_all(it->path(), rm) > 0 && !rm)
            removed.push_back(name);
    }
    std::sort(removed.begin(), removed.end());
    return removed;
}

} // namespace slimtune
