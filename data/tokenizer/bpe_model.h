// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocabulary, ranked merges,
// byte_fallback, fuse_unk, ignore_merges. Encodes one pre-tokenized piece at a time by applying
// the lowest-ranked merge first, leftmost on ties (tokenizers' and transformers.js' order).
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace slimtune::data {

// string -> id map that accepts string_view lookups without allocating.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};
using TokenIdMap = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

struct BpeOptions {
    std::optional<std::int32_t> unk_id; // unknown characters map here (none: they are dropped)
    bool byte_fallback = false;         // unknown characters become <0xXX> byte tokens
    bool fuse_unk = false;              // consecutive unknowns become one unk
    bool ignore_merges = false;         // a piece that is itself in the vocabulary is one token
};

class BpeModel {
public:
    // `vocab` maps every token the model may emit (model vocabulary plus added tokens, as
    // transformers.js does) to its id; `merges` in rank order. Throws FormatError naming
    // `where` when a merge's parts or result are not in the vocabulary.
    BpeModel(TokenIdMap vocab,
             const std::vector<std::pair<std::string, std::string>>& merges,
             BpeOptions options,
             const std::string& where);
    BpeModel(BpeModel&&) = delete;

    // Appends the ids of one pre-tokenized piece to `out`.
    void encode(std::string_view piece, std::vector<std::int32_t>& out) const;

    std::optional<std::int32_t> token_to_id(std::string_view token) const;
    std::size_t merge_count() const { return merge_count_; }
    const BpeOptions& options() const { return options_; }

private:
    struct MergeEntry {
        std::uint64_t key; // (left id << 32) | right id; kEmpty marks a free slot
        std::int32_t rank, result;
    };
    static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
    const MergeEntry* find_merge(std::int32_t left, std::int32_t right) const;
    void encode_uncached(std::string_view piece, std::vector<std::int32_t>& out) const;
    std::int32_t char_id(std::string_view ch, char32_t cp) const;

    TokenIdMap vocab_;
    BpeOptions options_;
    std::vector<MergeEntry> merges_; // open addressing, power-of-two size
    std::size_t merge_count_ = 0;
    std::vector<std::int32_t> small_char_ids_; // id of code point cp < kSmallChars, or -1
    std::int32_t byte_ids_[256];               // ids of <0x00>..<0xFF>, -1 when absent
    static constexpr char32_t kSmallChars = 0x800;

    // Word cache, as tokenizers keeps one: most pieces of real text repeat.
    mutable std::shared_mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>>
        cache_;
    static constexpr std::size_t kCacheCapacity = 10000;
    static constexpr std::size_t kCacheMaxPiece = 256;
};

} // namespace slimtune::data
