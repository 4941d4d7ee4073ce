// One tokenized dataset in one flat binary file, memory-mapped read-only: training reads examples
// straight from the page cache instead of holding every example in RAM, so a dataset larger than
// memory is tokenized in one streaming pass and trained on with bounded RSS (the kernel pages
// token data in and out as it is read).
//
// File layout, little-endian, every section naturally aligned:
//   char     magic[8]               "SLTOKS01" ("SLTOKS" then the two-digit format version)
//   u64      examples               n
//   u64      tokens                 T, the sum of all examples' lengths
//   u64      offsets[n + 1]         example i is tokens [offsets[i], offsets[i+1]); offsets[0] = 0,
//                                   non-decreasing, offsets[n] = T
//   i32      ids[T]
//   i32      labels[T]              aligned with ids; -100 = not learned (a record without labels
//                                   stores its ids, so labels are always present)
// The file is exactly 24 + 8 (n + 1) + 8 T bytes long.
#pragma once

#include "common/mapped_file.h"
#include "data/examples.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace slimtune::data {

class TokenStore {
public:
    // Tokenizes `jsonl` (every format for_each_token_example reads) in
    // one streaming pass, writing `path` atomically (PATH.tmp.<pid>, then rename; on error the
    // temporary is removed). Memory: one example plus write buffers, whatever the dataset size.
    // Disk: ids, labels and offsets go to unlinked side files beside `path` while the count is
    // unknown, then are copied behind the header, so up to twice the store's size is used at the
    // end. Errors are for_each_token_example's, or Error naming `path` for I/O.
    static TokenStore build(const std::string& jsonl,
                            const ExampleOptions& options,
                            const std::string& path,
                            ExampleStats* stats = nullptr);

    // Maps `path` and checks it: Error "<path>: cannot open token store: <reason>" (or "cannot
    // map token store") when it cannot be opened, is not a regular file or cannot be mapped;
    // FormatError naming the file for a bad magic, a wrong version, a
    // truncated (or over-long) file, offsets not monotonic or beyond the data. Reads only the
    // header and the offsets; token pages are faulted in when used.
    static TokenStore open(const std::string& path);

    TokenStore(TokenStore&& other) noexcept;
    TokenStore& operator=(TokenStore&& other) noexcept;

    std::size_t size() const { return examples_; } // examples
    std::span<const std::int32_t> ids(std::size_t i) const;
    std::span<const std::int32_t> labels(std::size_t i) const; // always ids(i).size() long
    std::size_t length(std::size_t i) const;                   // ids(i).size(), from the offsets
    std::int64_t total_tokens() const { return static_cast<std::int64_t>(tokens_); }
    const std::string& path() const { return path_; }

private:
    TokenStore() = default;

    std::string path_;
    MappedFile map_;
    std::size_t examples_ = 0;
    std::uint64_t tokens_ = 0;
    const std::uint64_t* offsets_ = nullptr;
    const std::int32_t* ids_ = nullptr;
    const std::int32_t* labels_ = nullptr;
};

} // namespace slimtune::data
