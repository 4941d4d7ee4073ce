#include "data/token_store.h"

#include "common/error.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

namespace slimtune::data {

// The file is mapped and read in place, so its little-endian layout must be the host's.
static_assert(std::endian::native == std::endian::little, "TokenStore maps little-endian files");

namespace {

constexpr std::string_view kMagic = "SLTOKS01";
constexpr std::size_t kHeaderBytes = 24; // magic, examples, tokens
constexpr std::size_t kBufferBytes = std::size_t{1} << 20;

std::string os_error() {
    return std::strerror(errno);
}

// An owned file descriptor.
struct Fd {
    int fd = -1;
    explicit Fd(int f = -1) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0)
            ::close(fd);
    }
};

// Writes all of [data, data + n) to fd, retrying short writes and EINTR.
void write_all(int fd, const char* data, std::size_t n, const std::string& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            throw Error(path + ": cannot write token store: " + os_error());
        data += w;
        n -= static_cast<std::size_t>(w);
    }
}

// A write buffer in front of a file descriptor: the only memory build() uses per section.
class BufferedWriter {
public:
    BufferedWriter(int fd, const std::string& path) : fd_(fd), path_(path) {
        buf_.reserve(kBufferBytes);
    }
    void put(const void* data, std::size_t n) {
        const char* p = static_cast<const char*>(data);
        if (buf_.size() + n > kBufferBytes)
            flush();
        if (n >= kBufferBytes) // larger than the buffer: no point copying it first
            write_all(fd_, p, n, path_);
        else
            buf_.insert(buf_.end(), p, p + n);
        bytes_ += n;
    }
    void flush() {
        write_all(fd_, buf_.data(), buf_.size(), path_);
        buf_.clear();
    }
    std::uint64_t bytes() const { return bytes_; }

private:
    int fd_;
    const std::string& path_;
    std::vector<char> buf_;
    std::uint64_t bytes_ = 0;
};

// A scratch file beside the store, unlinked as soon as it is created so that nothing is left
// behind whatever happens (the open descriptor keeps its data until it is closed).
Fd scratch_file(const std::string& path, const std::string& tag) {
    const std::string name = path + ".tmp." + std::to_string(::getpid()) + "." + tag;
    Fd f(::open(name.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (f.fd < 0)
        throw Error(path + ": cannot create scratch file '" + name + "': " + os_error());
    ::unlink(name.c_str());
    return Fd(std::exchange(f.fd, -1));
}

// Appends the first `bytes` of `from` to `to` (whose position is at its end): in the kernel
// where it can (copy_file_range), through a buffer where it cannot (other file systems, old
// kernels).
void append_file(int to, int from, std::uint64_t bytes, const std::string& path) {
    off_t in = 0;
    while (bytes > 0) {
        const ssize_t c = ::copy_file_range(from, &in, to, nullptr, bytes, 0);
        if (c < 0 && errno == EINTR)
            continue;
        if (c > 0) {
            bytes -= static_cast<std::uint64_t>(c);
            continue;
        }
        if (c == 0 || errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL)
            break;
        throw Error(path + ": cannot copy scratch data into the token store: " + os_error());
    }
    std::vector<char> buf(bytes > 0 ? kBufferBytes : 0);
    while (bytes > 0) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(bytes, buf.size()));
        const ssize_t r = ::pread(from, buf.data(), want, in);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            throw Error(path + ": cannot read back scratch data: " +
                        (r == 0 ? std::string("unexpected end") : os_error()));
        write_all(to, buf.data(), static_cast<std::size_t>(r), path);
        in += r;
        bytes -= static_cast<std::uint64_t>(r);
    }
}

std::string bytes_str(std::uint64_t n) {
    return std::to_string(n) + " bytes";
}

} // namespace

TokenStore TokenStore::build(const std::string& jsonl,
                             const ExampleOptions& options,
                             const std::string& path,
                             ExampleStats* stats) {
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    // The counts that head the file are known only at the end: sections go to scratch files
    // first, and are then copied behind the header.
    Fd offsets_fd = scratch_file(path, "offsets");
    Fd ids_fd = scratch_file(path, "ids");
    Fd labels_fd = scratch_file(path, "labels");
    std::uint64_t examples = 0, tokens = 0;
    {
        BufferedWriter offsets(offsets_fd.fd, path), ids(ids_fd.fd, path),
            labels(labels_fd.fd, path);
        offsets.put(&tokens, sizeof tokens);
        for_each_token_example(
            jsonl, options,
            [&](TokenExample&& e) {
                if (!e.labels.empty() && e.labels.size() != e.ids.size())
                    throw Error(jsonl + ": example " + std::to_string(examples) + " has " +
                                std::to_string(e.labels.size()) + " labels for " +
                                std::to_string(e.ids.size()) + " ids");
                const std::size_t bytes = e.ids.size() * sizeof(std::int32_t);
                ids.put(e.ids.data(), bytes);
                labels.put(e.labels.empty() ? e.ids.data() : e.labels.data(), bytes);
                tokens += e.ids.size();
                ++examples;
                offsets.put(&tokens, sizeof tokens);
            },
            stats);
        offsets.flush();
        ids.flush();
        labels.flush();
    }

    try {
        Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (out.fd < 0)
            throw Error(path + ": cannot create temporary file '" + tmp + "': " + os_error());
        char header[kHeaderBytes];
        std::memcpy(header, kMagic.data(), kMagic.size());
        std::memcpy(header + 8, &examples, 8);
        std::memcpy(header + 16, &tokens, 8);
        write_all(out.fd, header, sizeof header, path);
        append_file(out.fd, offsets_fd.fd, (examples + 1) * 8, path);
        append_file(out.fd, ids_fd.fd, tokens * 4, path);
        append_file(out.fd, labels_fd.fd, tokens * 4, path);
        if (::close(std::exchange(out.fd, -1)) != 0)
            throw Error(path + ": cannot write token store: " + os_error());
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            throw Error(path + ": cannot rename temporary file: " + os_error());
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
    return open(path);
}

TokenStore TokenStore::open(const std::string& path) {
    TokenStore s;
    s.path_ = path;
    s.map_ = MappedFile(path, "token store");
    const std::uint64_t size = s.map_.size();
    if (size < kHeaderBytes)
        throw FormatError(path + ": truncated token store; expected at least " +
                          bytes_str(kHeaderBytes) + ", got " + bytes_str(size));
    const char* base = reinterpret_cast<const char*>(s.map_.data());

    if (std::string_view(base, 8) != kMagic) {
        if (std::string_view(base, 6) == kMagic.substr(0, 6))
            throw FormatError(path + ": token store format version '" + std::string(base + 6, 2) +
                              "'; expected '" + std::string(kMagic.substr(6)) + "'");
        throw FormatError(path + ": not a token store (bad magic); expected \"" +
                          std::string(kMagic) + "\"");
    }
    std::uint64_t n = 0, tokens = 0;
    std::memcpy(&n, base + 8, 8);
    std::memcpy(&tokens, base + 16, 8);
    // Sizes are compared by division first, so that absurd counts cannot overflow.
    const std::uint64_t avail = size - kHeaderBytes;
    const bool fits = n < avail / 8 && tokens <= (avail - (n + 1) * 8) / 8;
    const std::uint64_t expected = fits ? kHeaderBytes + (n + 1) * 8 + tokens * 8 : 0;
    if (!fits || size < expected)
        throw FormatError(path + ": truncated token store; the header's " + std::to_string(n) +
                          " examples and " + std::to_string(tokens) + " tokens need " +
                          (fits ? bytes_str(expected) : std::string("more bytes")) + ", got " +
                          bytes_str(size));
    if (size > expected)
        throw FormatError(path + ": token store has trailing data; expected " +
                          bytes_str(expected) + ", got " + bytes_str(size));

    s.examples_ = static_cast<std::size_t>(n);
    s.tokens_ = tokens;
    // mmap returns page-aligned memory and every section starts at a multiple of its width.
    s.offsets_ = reinterpret_cast<const std::uint64_t*>(base + kHeaderBytes);
    s.ids_ = reinterpret_cast<const std::int32_t*>(base + kHeaderBytes + (n + 1) * 8);
    s.labels_ = s.ids_ + tokens;
    const std::uint64_t* off = s.offsets_;
    if (off[0] != 0)
        throw FormatError(path + ": corrupt token store; offset 0 is " + std::to_string(off[0]) +
                          ", expected 0");
    for (std::uint64_t i = 1; i <= n; ++i) {
        if (off[i] > tokens)
            throw FormatError(path + ": corrupt token store; offset " + std::to_string(i) + " is " +
                              std::to_string(off[i]) + ", beyond the data (" +
                              std::to_string(tokens) + " tokens)");
        if (off[i] < off[i - 1])
            throw FormatError(path + ": corrupt token store; offset " + std::to_string(i) + " is " +
                              std::to_string(off[i]) + ", below offset " + std::to_string(i - 1) +
                              " (" + std::to_string(off[i - 1]) + ")");
    }
    if (off[n] != tokens)
        throw FormatError(path + ": corrupt token store; the offsets end at " +
                          std::to_string(off[n]) + ", expected " + std::to_string(tokens) +
                          " tokens");
    return s;
}

TokenStore::TokenStore(TokenStore&& other) noexcept {
    *this = std::move(other);
}

TokenStore& TokenStore::operator=(TokenStore&& other) noexcept {
    if (this != &other) {
        path_ = std::move(other.path_);
        map_ = std::move(other.map_);
        examples_ = std::exchange(other.examples_, 0);
        tokens_ = std::exchange(other.tokens_, 0);
        offsets_ = std::exchange(other.offsets_, nullptr);
        ids_ = std::exchange(other.ids_, nullptr);
        labels_ = std::exchange(other.labels_, nullptr);
    }
    return *this;
}

std::size_t TokenStore::length(std::size_t i) const {
    SLIMTUNE_ASSERT(i < examples_,
                    path_ + ": example " + std::to_string(i) + " of " + std::to_string(examples_));
    return static_cast<std::size_t>(offsets_[i + 1] - offsets_[i]);
}

std::span<const std::int32_t> TokenStore::ids(std::size_t i) const {
    const std::size_t n = length(i);
    return {ids_ + offsets_[i], n};
}

std::span<const std::int32_t> TokenStore::labels(std::size_t i) const {
    const std::size_t n = length(i);
    return {labels_ + offsets_[i], n};
}

} // namespace slimtune::data
