#include "common/mapped_file.h"

#include "common/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace slimtune {

namespace {

// Owns a file descriptor until the mapping is made (a mapping outlives its descriptor).
struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
};

} // namespace

MappedFile::MappedFile(const std::string& path, std::string_view kind) {
    const std::string suffix = kind.empty() ? ": " : " " + std::string(kind) + ": ";
    const std::string cannot_open = path + ": cannot open" + suffix;
    // O_NONBLOCK: a FIFO in place of a model file is refused below instead of blocking the open.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        throw Error(cannot_open + std::strerror(errno));
    const FdCloser closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        throw Error(cannot_open + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
        throw Error(cannot_open + std::strerror(EISDIR));
    if (!S_ISREG(st.st_mode))
        throw Error(cannot_open + "not a regular file");
    const auto size = static_cast<size_t>(st.st_size);
    if (size == 0)
        return;
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        throw Error(path + ": cannot map" + suffix + std::strerror(errno));
    data_ = static_cast<const uint8_t*>(p);
    size_ = size;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        unmap();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

MappedFile::~MappedFile() {
    unmap();
}

void MappedFile::unmap() noexcept {
    if (data_ != nullptr)
        ::munmap(const_cast<uint8_t*>(data_), size_); // NOLINT: munmap takes void*
    data_ = nullptr;
    size_ = 0;
}

void MappedFile::release_pages(std::span<const uint8_t> range) const noexcept {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(range.data());
    const auto end = begin + range.size();
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last > first)
        ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

} // namespace slimtune
