#include "data/tokenizer/bpe_model.h"

#include "common/error.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <mutex>

namespace slimtune::data {

namespace {

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
}

} // namespace

BpeModel::BpeModel(TokenIdMap vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options,
                   const std::string& where)
    : vocab_(std::move(vocab)), options_(options) {
    std::size_t cap = 16;
    while (cap < merges.size() * 2)
        cap <<= 1;
    merges_.assign(cap, MergeEntry{kEmpty, 0, 0});
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [left, right] = merges[rank];
        const auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(left + right);
        if (l == vocab_.end() || r == vocab_.end() || m == vocab_.end())
            throw FormatError(where + ": merge " + std::to_string(rank) + " ('" + left + "' + '" +
                              right + "') uses or makes a token that is not in the vocabulary");
        const std::uint64_t key = pair_key(l->second, r->second);
        std::size_t slot = mix(key) & (cap - 1);
        while (merges_[slot].key != kEmpty && merges_[slot].key != key)
            slot = (slot + 1) & (cap - 1);
        if (merges_[slot].key == key)
            continue; // a repeated merge keeps its first (lowest) rank
        merges_[slot] = {key, static_cast<std::int32_t>(rank), m->second};
        ++merge_count_;
    }
    small_char_ids_.assign(kSmallChars, -1);
    for (char32_t cp = 0; cp < kSmallChars; ++cp) {
        std::string s;
        append_utf8(s, cp);
        if (const auto it = vocab_.find(s); it != vocab_.end())
            small_char_ids_[cp] = it->second;
    }
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        const auto it = vocab_.find(std::string_view(name));
        byte_ids_[b] = it == vocab_.end() ? -1 : it->second;
    }
}

const BpeModel::MergeEntry* BpeModel::find_merge(std::int32_t left, std::int32_t right) const {
    const std::uint64_t key = pair_key(left, right);
    const std::size_t mask = merges_.size() - 1;
    for (std::size_t slot = mix(key) & mask;; slot = (slot + 1) & mask) {
        const MergeEntry& e = merges_[slot];
        if (e.key == key)
            return &e;
        if (e.key == kEmpty)
            return nullptr;
    }
}

std::optional<std::int32_t> BpeModel::token_to_id(std::string_view token) const {
    const auto it = vocab_.find(token);
    if (it == vocab_.end())
        return std::nullopt;
    return it->second;
}

std::int32_t BpeModel::char_id(std::string_view ch, char32_t cp) const {
    if (cp < kSmallChars)
        return small_char_ids_[cp];
    const auto it = vocab_.find(ch);
    return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::encode(std::string_view piece, std::vector<std::int32_t>& out) const {
    if (piece.empty())
        return;
    if (options_.ignore_merges) {
        if (const auto it = vocab_.find(piece); it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    const bool cacheable = piece.size() < kCacheMaxPiece;
    if (cacheable) {
        std::shared_lock lock(cache_mutex_);
        if (const auto it = cache_.find(piece); it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    encode_uncached(piece, out);
    if (cacheable) {
        std::unique_lock lock(cache_mutex_);
        if (cache_.size() < kCacheCapacity)
            cache_.emplace(std::string(piece),
                           std::vector<std::int32_t>(
                               out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
    }
}

void BpeModel::encode_uncached(std::string_view piece, std::vector<std::int32_t>& out) const {
    // Symbols form a linked list over the piece's characters; a symbol with id -1 is a
    // character outside the vocabulary (it never merges).
    struct Symbol {
        std::int32_t id;
        std::int32_t prev, next;
        std::uint32_t begin, end; // byte range in `piece`
    };
    thread_local std::vector<Symbol> syms;
    syms.clear();
    for (std::size_t i = 0; i < piece.size();) {
        const std::size_t b = i;
        const char32_t cp = next_code_point(piece, i);
        const auto n = static_cast<std::int32_t>(syms.size());
        syms.push_back({char_id(piece.substr(b, i - b), cp), n - 1, n + 1,
                        static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(i)});
    }
    syms.back().next = -1;

    // Candidate merges ordered by (rank, position of the left symbol): lowest rank first,
    // leftmost on ties. Stale entries are skipped when popped.
    struct Candidate {
        std::int32_t rank, pos, left_id, right_id, result;
        bool operator>(const Candidate& o) const {
            return rank != o.rank ? rank > o.rank : pos > o.pos;
        }
    };
    thread_local std::vector<Candidate> heap;
    heap.clear();
    auto consider = [&](std::int32_t pos) {
        const Symbol& s = syms[static_cast<std::size_t>(pos)];
        if (s.next < 0 || s.id < 0)
            return;
        const std::int32_t rid = syms[static_cast<std::size_t>(s.next)].id;
        if (rid < 0)
            return;
        if (const MergeEntry* m = find_merge(s.id, rid)) {
            heap.push_back({m->rank, pos, s.id, rid, m->result});
            std::push_heap(heap.begin(), heap.end(), std::greater<>{});
        }
    };
    for (std::size_t i = 0; i + 1 < syms.size(); ++i)
        consider(static_cast<std::int32_t>(i));
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& left = syms[static_cast<std::size_t>(c.pos)];
        if (left.id != c.left_id || left.next < 0)
            continue;
        Symbol& right = syms[static_cast<std::size_t>(left.next)];
        if (right.id != c.right_id)
            continue;
        left.id = c.result;
        left.end = right.end;
        left.next = right.next;
        if (right.next >= 0)
            syms[static_cast<std::size_t>(right.next)].prev = c.pos;
        right.id = -2; // dead: no stale candidate can match it again
        if (left.prev >= 0)
            consider(left.prev);
        consider(c.pos);
    }

    bool last_was_unk = false;
    for (std::int32_t i = 0; i >= 0; i = syms[static_cast<std::size_t>(i)].next) {
        const Symbol& s = syms[static_cast<std::size_t>(i)];
        if (s.id >= 0) {
            out.push_back(s.id);
            last_was_unk = false;
            continue;
        }
        if (options_.byte_fallback) {
            bool all = true;
            for (std::uint32_t k = s.begin; k < s.end; ++k)
                all &= byte_ids_[static_cast<unsigned char>(piece[k])] >= 0;
            if (all) {
                for (std::uint32_t k = s.begin; k < s.end; ++k)
                    out.push_back(byte_ids_[static_cast<unsigned char>(piece[k])]);
                last_was_unk = false;
                continue;
            }
        }
        if (!options_.unk_id)
            continue; // no unknown token configured: the character is dropped (as tokenizers)
        if (options_.fuse_unk && last_was_unk)
            continue;
        out.push_back(*options_.unk_id);
        last_was_unk = true;
    }
}

} // namespace slimtune::data
