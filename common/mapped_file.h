// A whole file mapped read-only (PROT_READ, MAP_PRIVATE): the one mmap in slimtune, used by the
// safetensors and GGUF readers and the token store. Readers parse the bytes in place, so a file
// larger than memory costs address space, not RAM; the kernel pages data in as it is read.
// NOTE: the mapping reflects later changes to the file; truncating it while it is mapped raises
// SIGBUS on access, as with any mmap reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace slimtune {

class MappedFile {
public:
    MappedFile() = default; // maps nothing
    // Maps the regular file `path` whole. An empty file maps nothing (data() is nullptr): mmap
    // cannot map zero bytes, and each reader reports a file too short in its own words.
    // Throws Error naming the file, with `kind` ("token store") after the verb when given:
    // "<path>: cannot open[ kind]: <reason>" when it cannot be opened, is a directory ("Is a
    // directory") or another non-regular file ("not a regular file"), and
    // "<path>: cannot map[ kind]: <reason>" when mmap fails.
    explicit MappedFile(const std::string& path, std::string_view kind = {});

    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile(); // unmaps

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::span<const uint8_t> bytes() const { return {data_, size_}; }

    // Tells the kernel the whole pages inside `range` (a part of this mapping) are not needed
    // any more, so they leave the resident set; a later read maps them in again from the file.
    // Pages shared with bytes outside the range are kept.
    void release_pages(std::span<const uint8_t> range) const noexcept;

private:
    void unmap() noexcept;

    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
};

} // namespace slimtune
