#include "data/curate/dedup.h"

#include "common/error.h"
#include "data/tokenizer/normalizer.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <limits>
#include <utf8proc.h>
#include <xxhash.h>

namespace slimtune::data::curate {

namespace {

// What a code point becomes after lower-casing, before NFD.
enum class AsciiClass : unsigned char { Keep, Digit, Separator };

// Controls, space and all ASCII punctuation are in datatrove's PUNCTUATION or \s.
constexpr std::array<AsciiClass, 128> kAsciiClasses = [] {
    std::array<AsciiClass, 128> t{};
    t.fill(AsciiClass::Separator);
    for (char c = 'a'; c <= 'z'; ++c)
        t[static_cast<std::size_t>(c)] = t[static_cast<std::size_t>(c - 32)] = AsciiClass::Keep;
    for (char c = '0'; c <= '9'; ++c)
        t[static_cast<std::size_t>(c)] = AsciiClass::Digit;
    return t;
}();

// The non-ASCII, non-control members of datatrove's PUNCTUATION string, sorted.
constexpr std::array<char32_t, 34> kWidePunctuation = {
    0x00AB, 0x00B4, 0x00BB, 0x2013, 0x2014, 0x2019, 0x201C, 0x201D, 0x201E, 0x2026, 0x2236, 0x2501,
    0x25BA, 0x3001, 0x3002, 0x3008, 0x3009, 0x300A, 0x300B, 0x300C, 0x300D, 0x3010, 0x3011, 0xFF01,
    0xFF05, 0xFF08, 0xFF09, 0xFF0C, 0xFF0E, 0xFF11, 0xFF1A, 0xFF1B, 0xFF1F, 0xFF5E};

// Python's str.isspace() beyond ASCII, U+2000..U+200A aside.
constexpr std::array<char32_t, 8> kWideSpaces = {0x85,   0xA0,   0x1680, 0x2028,
                                                 0x2029, 0x202F, 0x205F, 0x3000};

// A non-ASCII code point (already lower-cased) that becomes a space: C1 controls, datatrove's
// punctuation, Python whitespace.
bool is_wide_separator(char32_t cp) {
    return cp <= 0x9F || (cp >= 0x2000 && cp <= 0x200A) ||
           std::find(kWideSpaces.begin(), kWideSpaces.end(), cp) != kWideSpaces.end() ||
           std::binary_search(kWidePunctuation.begin(), kWidePunctuation.end(), cp);
}

bool is_decimal_digit(char32_t cp) {
    if (cp < 0x80)
        return cp >= '0' && cp <= '9';
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_ND;
}

// The separators datatrove's number pattern allows between the integer and decimal parts.
bool is_decimal_separator(char32_t cp) {
    return cp == '.' || cp == ',' || cp == 0x060C || cp == 0x066B || cp == 0x2396 || cp == 0x2397 ||
           cp == 0x2398;
}

// Where the run of decimal digits starting at byte `i` ends (`i` itself when there is none).
std::size_t digits_end(std::string_view s, std::size_t i) {
    for (std::size_t next = i; i < s.size() && is_decimal_digit(next_code_point(s, next));)
        i = next;
    return i;
}

// Byte offset where the number starting at `i` (a decimal digit) ends:
// \p{Nd}+ ( [.,،٫⎖⎗⎘] \p{Nd}+ )?
std::size_t number_end(std::string_view s, std::size_t i) {
    i = digits_end(s, i);
    if (i >= s.size())
        return i;
    std::size_t after_sep = i;
    if (!is_decimal_separator(next_code_point(s, after_sep)))
        return i;
    const std::size_t end = digits_end(s, after_sep);
    return end > after_sep ? end : i;
}

// Appends code points to the simplified text, turning separators into single spaces.
class SimplifiedWriter {
public:
    explicit SimplifiedWriter(std::size_t size_hint) { out_.reserve(size_hint); }
    void separator() { pending_space_ = !out_.empty(); }
    void ascii(char c) {
        flush_space();
        out_.push_back(c);
    }
    void code_point(char32_t cp) {
        flush_space();
        append_utf8(out_, cp);
    }
    std::string take() { return std::move(out_); }

private:
    void flush_space() {
        if (pending_space_)
            out_.push_back(' ');
        pending_space_ = false;
    }
    std::string out_;
    bool pending_space_ = false;
};

// Steps 3-5 for one lower-cased non-ASCII code point that is not a decimal digit.
void write_wide(SimplifiedWriter& w, char32_t lowered) {
    if (is_wide_separator(lowered)) {
        w.separator();
        return;
    }
    // A canonical decomposition is at most 4 code points; 8 leaves room.
    std::array<utf8proc_int32_t, 8> parts{};
    int boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(
        static_cast<utf8proc_int32_t>(lowered), parts.data(),
        static_cast<utf8proc_ssize_t>(parts.size()), UTF8PROC_DECOMPOSE, &boundclass);
    if (n < 0 || n > static_cast<utf8proc_ssize_t>(parts.size())) {
        w.code_point(lowered); // unassigned or over-long: keep as is
        return;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
        if (utf8proc_category(parts[static_cast<std::size_t>(k)]) != UTF8PROC_CATEGORY_MN)
            w.code_point(static_cast<char32_t>(parts[static_cast<std::size_t>(k)]));
    }
}

constexpr std::uint64_t kMersenne61 = (std::uint64_t{1} << 61) - 1;

__extension__ typedef unsigned __int128 uint128;

// x mod (2^61 - 1) for any 64-bit x.
inline std::uint64_t reduce61(std::uint64_t x) {
    x = (x & kMersenne61) + (x >> 61);
    return x >= kMersenne61 ? x - kMersenne61 : x;
}

// (a * x + b) mod p for a, b, x < p: 2^61 = 1 (mod p) folds the 122-bit product.
inline std::uint64_t affine61(std::uint64_t a, std::uint64_t x, std::uint64_t b) {
    const uint128 z = static_cast<uint128>(a) * x;
    std::uint64_t r = (static_cast<std::uint64_t>(z) & kMersenne61) +
                      static_cast<std::uint64_t>(z >> 61) + b; // < 3 * 2^61
    r = (r & kMersenne61) + (r >> 61);                         // < 2^61 + 2
    return r >= kMersenne61 ? r - kMersenne61 : r;
}

// Per permutation i: mins[i] = min over xs of affine61(a[i], x, b[i]).
void minhash_scalar(std::span<const std::uint64_t> xs,
                    std::span<const std::uint64_t> a,
                    std::span<const std::uint64_t> b,
                    std::span<std::uint64_t> mins) {
    // One permutation at a time: a_i, b_i and the running minimum stay in registers.
    for (std::size_t i = 0; i < mins.size(); ++i) {
        std::uint64_t m = std::numeric_limits<std::uint64_t>::max();
        for (const std::uint64_t x : xs)
            m = std::min(m, affine61(a[i], x, b[i]));
        mins[i] = m;
    }
}

#if defined(__x86_64__)
// The same values with AVX2, four shingles per step (about 1.7x the scalar loop here). AVX2 has no
// 64x64-bit multiply, so the product is built from 32-bit halves, using 2^61 = 1 (mod p):
// a*x = hh*2^64 + mid*2^32 + ll with hh = a_hi*x_hi < 2^58, mid = a_hi*x_lo + a_lo*x_hi < 2^62,
// ll = a_lo*x_lo < 2^64, and hh*2^64 = 8*hh, mid*2^32 = (mid >> 29) + (mid mod 2^29)*2^32,
// ll = (ll >> 61) + (ll & p). The sum plus b stays below 2^64; one fold and one conditional
// subtraction give the exact residue. xs.size() must be a multiple of 4.
__attribute__((target("avx2"))) void minhash_avx2(std::span<const std::uint64_t> xs,
                                                  std::span<const std::uint64_t> a,
                                                  std::span<const std::uint64_t> b,
                                                  std::span<std::uint64_t> mins) {
    const __m256i p = _mm256_set1_epi64x(static_cast<long long>(kMersenne61));
    const __m256i p_minus_1 = _mm256_set1_epi64x(static_cast<long long>(kMersenne61 - 1));
    for (std::size_t i = 0; i < mins.size(); ++i) {
        const __m256i a_lo = _mm256_set1_epi64x(static_cast<long long>(a[i] & 0xFFFFFFFFu));
        const __m256i a_hi = _mm256_set1_epi64x(static_cast<long long>(a[i] >> 32));
        const __m256i bias = _mm256_set1_epi64x(static_cast<long long>(b[i]));
        __m256i m = _mm256_set1_epi64x(std::numeric_limits<long long>::max());
        for (std::size_t j = 0; j < xs.size(); j += 4) {
            const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&xs[j]));
            const __m256i x_hi = _mm256_srli_epi64(x, 32);
            const __m256i ll = _mm256_mul_epu32(x, a_lo);
            const __m256i mid =
                _mm256_add_epi64(_mm256_mul_epu32(x, a_hi), _mm256_mul_epu32(x_hi, a_lo));
            const __m256i hh = _mm256_mul_epu32(x_hi, a_hi);
            __m256i sum = _mm256_add_epi64(_mm256_slli_epi64(hh, 3), _mm256_srli_epi64(mid, 29));
            sum = _mm256_add_epi64(sum, _mm256_srli_epi64(_mm256_slli_epi64(mid, 35), 3));
            sum = _mm256_add_epi64(sum, _mm256_srli_epi64(ll, 61));
            sum = _mm256_add_epi64(sum, _mm256_and_si256(ll, p));
            sum = _mm256_add_epi64(sum, bias);
            __m256i r = _mm256_add_epi64(_mm256_and_si256(sum, p), _mm256_srli_epi64(sum, 61));
            r = _mm256_sub_epi64(r, _mm256_and_si256(_mm256_cmpgt_epi64(r, p_minus_1), p));
            // Signed compare is safe: every value is below 2^62.
            m = _mm256_blendv_epi8(m, r, _mm256_cmpgt_epi64(m, r));
        }
        alignas(32) std::uint64_t lanes[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), m);
        mins[i] = std::min(std::min(lanes[0], lanes[1]), std::min(lanes[2], lanes[3]));
    }
}

bool cpu_has_avx2() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}
#else
bool cpu_has_avx2() {
    return false;
}
#endif

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Byte offsets where each ' '-separated word of non-empty `text` starts.
std::vector<std::size_t> word_starts(std::string_view text) {
    std::vector<std::size_t> starts;
    if (text.empty())
        return starts;
    starts.reserve(text.size() / 5 + 1);
    starts.push_back(0);
    for (const char *p = text.data(), *end = text.data() + text.size();;) {
        p = static_cast<const char*>(std::memchr(p, ' ', static_cast<std::size_t>(end - p)));
        if (!p)
            break;
        ++p;
        starts.push_back(static_cast<std::size_t>(p - text.data()));
    }
    return starts;
}

// The n-gram of words [k, k + n): its bytes in `text`, separators included.
std::string_view ngram_at(std::string_view text,
                          const std::vector<std::size_t>& starts,
                          std::size_t k,
                          std::size_t n) {
    const std::size_t begin = starts[k];
    const std::size_t end = k + n < starts.size() ? starts[k + n] - 1 : text.size();
    return text.substr(begin, end - begin);
}

void check_doc(std::int64_t doc, const char* where) {
    if (doc < 0)
        throw ConfigError(std::string(where) + ": document id must be >= 0, got " +
                          std::to_string(doc));
}

} // namespace

std::string simplify_text(std::string_view text) {
    SimplifiedWriter w(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x80) {
            switch (kAsciiClasses[byte]) {
            case AsciiClass::Keep:
                w.ascii(static_cast<char>(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
                ++i;
                break;
            case AsciiClass::Separator:
                w.separator();
                ++i;
                break;
            case AsciiClass::Digit:
                w.ascii('0');
                i = number_end(text, i);
                break;
            }
            continue;
        }
        const std::size_t begin = i;
        const char32_t cp = next_code_point(text, i);
        if (is_decimal_digit(cp)) {
            w.ascii('0');
            i = number_end(text, begin);
            continue;
        }
        char32_t lowered;
        if (cp == 0x130) // İ -> i + U+0307, whose mark step 5 drops
            lowered = 'i';
        else if (cp == 0x3A3)
            lowered = is_final_sigma(text, begin, i) ? 0x3C2 : 0x3C3;
        else
            lowered = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
        if (lowered < 0x80) // e.g. KELVIN SIGN -> 'k'
            w.ascii(static_cast<char>(lowered));
        else
            write_wide(w, lowered);
    }
    return w.take();
}

std::uint64_t hash64(std::string_view bytes) {
    return XXH64(bytes.data(), bytes.size(), 0);
}

MinHasher::MinHasher(const MinHashConfig& config, bool allow_simd)
    : config_(config), use_avx2_(allow_simd && cpu_has_avx2()) {
    const auto bad = [](const std::string& what) { throw ConfigError("minhash config: " + what); };
    if (config.ngram < 1)
        bad("ngram must be >= 1, got " + std::to_string(config.ngram));
    if (config.bands < 1)
        bad("bands must be >= 1, got " + std::to_string(config.bands));
    if (config.rows < 1)
        bad("rows must be >= 1, got " + std::to_string(config.rows));
    if (config.bands > 1024 / config.rows)
        bad("bands * rows must be <= 1024, got " + std::to_string(config.bands) + " x " +
            std::to_string(config.rows));
    const auto k = static_cast<std::size_t>(config.bands * config.rows);
    a_.reserve(k);
    b_.reserve(k);
    std::uint64_t state = config.seed;
    const auto draw = [&state](bool nonzero) {
        for (;;) {
            const std::uint64_t v = splitmix64(state) >> 3; // top 61 bits
            if (v < kMersenne61 && (v != 0 || !nonzero))
                return v;
        }
    };
    for (std::size_t i = 0; i < k; ++i) {
        a_.push_back(draw(true));
        b_.push_back(draw(false));
    }
}

std::vector<std::uint64_t> MinHasher::signature(std::string_view simplified) const {
    const std::vector<std::size_t> starts = word_starts(simplified);
    const auto n = static_cast<std::size_t>(config_.ngram);
    if (starts.size() < n)
        return {};
    // All shingle hashes first (reduced mod p), then the permutations over them.
    const std::size_t shingles = starts.size() - n + 1;
    std::vector<std::uint64_t> xs;
    xs.reserve(shingles + 3);
    for (std::size_t s = 0; s < shingles; ++s)
        xs.push_back(reduce61(hash64(ngram_at(simplified, starts, s, n))));
    std::vector<std::uint64_t> mins(a_.size());
#if defined(__x86_64__)
    if (use_avx2_) {
        while (xs.size() % 4 != 0)
            xs.push_back(xs[0]); // a repeated shingle leaves every minimum unchanged
        minhash_avx2(xs, a_, b_, mins);
        return mins;
    }
#endif
    minhash_scalar(xs, a_, b_, mins);
    return mins;
}

std::vector<std::uint64_t> MinHasher::band_keys(std::span<const std::uint64_t> signature) const {
    if (signature.empty())
        return {};
    if (signature.size() != a_.size())
        throw ConfigError("minhash band_keys: signature must have " + std::to_string(a_.size()) +
                          " values, got " + std::to_string(signature.size()));
    const auto rows = static_cast<std::size_t>(config_.rows);
    std::vector<std::uint64_t> keys(static_cast<std::size_t>(config_.bands));
    std::vector<unsigned char> bytes(rows * 8);
    for (std::size_t band = 0; band < keys.size(); ++band) {
        for (std::size_t r = 0; r < rows; ++r) {
            const std::uint64_t v = signature[band * rows + r];
            for (std::size_t byte = 0; byte < 8; ++byte)
                bytes[r * 8 + byte] = static_cast<unsigned char>(v >> (8 * byte));
        }
        keys[band] = XXH64(bytes.data(), bytes.size(), 0);
    }
    return keys;
}

DedupFingerprint MinHasher::fingerprint(std::string_view text) const {
    DedupFingerprint f;
    const std::string simplified = simplify_text(text);
    f.exact_hash = hash64(simplified);
    const std::vector<std::uint64_t> sig = signature(simplified);
    f.band_keys = band_keys(sig);
    f.sketch.reserve(sig.size());
    for (const std::uint64_t v : sig)
        f.sketch.push_back(static_cast<std::uint8_t>(v));
    return f;
}

std::optional<std::int64_t> FirstDocTable::find(std::uint64_t key) const {
    if (slots_.empty())
        return std::nullopt;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slot_of(key) & mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (s.doc < 0)
            return std::nullopt;
        if (s.key == key)
            return s.doc;
    }
}

std::optional<std::int64_t> FirstDocTable::find_or_insert(std::uint64_t key, std::int64_t doc) {
    if ((size_ + 1) * 4 > slots_.size() * 3)
        rehash(std::max<std::size_t>(16, slots_.size() * 2));
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = slot_of(key) & mask;; i = (i + 1) & mask) {
        Slot& s = slots_[i];
        if (s.doc < 0) {
            s = {key, doc};
            ++size_;
            return std::nullopt;
        }
        if (s.key == key)
            return s.doc;
    }
}

void FirstDocTable::reserve(std::size_t keys) {
    // At most 3/4 full after `keys` insertions.
    const std::size_t wanted = std::bit_ceil(std::max<std::size_t>(16, keys + keys / 3 + 1));
    if (wanted > slots_.size())
        rehash(wanted);
}

void FirstDocTable::rehash(std::size_t capacity) {
    std::vector<Slot> old(capacity, Slot{0, -1});
    old.swap(slots_);
    size_ = 0;
    for (const Slot& s : old)
        if (s.doc >= 0)
            find_or_insert(s.key, s.doc);
}

// Keys from callers need not be well mixed (tests use small integers): murmur3's finaliser.
std::size_t FirstDocTable::slot_of(std::uint64_t key) {
    key ^= key >> 33;
    key *= 0xFF51AFD7ED558CCDULL;
    key ^= key >> 33;
    key *= 0xC4CEB9FE1A85EC53ULL;
    key ^= key >> 33;
    return static_cast<std::size_t>(key);
}

LshIndex::LshIndex(int bands) {
    if (bands < 1)
        throw ConfigError("lsh index: bands must be >= 1, got " + std::to_string(bands));
    tables_.resize(static_cast<std::size_t>(bands));
}

std::optional<std::int64_t> LshIndex::find_or_insert(std::span<const std::uint64_t> band_keys,
                                                     std::int64_t doc) {
    check_doc(doc, "lsh index");
    if (band_keys.empty())
        return std::nullopt;
    if (band_keys.size() != tables_.size())
        throw ConfigError("lsh index: expected " + std::to_string(tables_.size()) +
                          " band keys, got " + std::to_string(band_keys.size()));
    std::optional<std::int64_t> earliest;
    for (std::size_t band = 0; band < tables_.size(); ++band) {
        const std::optional<std::int64_t> hit = tables_[band].find_or_insert(band_keys[band], doc);
        if (hit && (!earliest || *hit < *earliest))
            earliest = hit;
    }
    return earliest;
}

std::vector<std::int64_t> LshIndex::candidates_or_insert(std::span<const std::uint64_t> band_keys,
                                                         std::int64_t doc) {
    check_doc(doc, "lsh index");
    std::vector<std::int64_t> found;
    if (band_keys.empty())
        return found;
    if (band_keys.size() != tables_.size())
        throw ConfigError("lsh index: expected " + std::to_string(tables_.size()) +
                          " band keys, got " + std::to_string(band_keys.size()));
    for (std::size_t band = 0; band < tables_.size(); ++band)
        if (const auto hit = tables_[band].find_or_insert(band_keys[band], doc))
            found.push_back(*hit);
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
}

double sketch_jaccard(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    if (a.empty() || a.size() != b.size())
        return 0.0;
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        same += a[i] == b[i];
    const double m = static_cast<double>(same) / static_cast<double>(a.size());
    return std::clamp((m - 1.0 / 256.0) / (1.0 - 1.0 / 256.0), 0.0, 1.0);
}

void LshIndex::reserve(std::size_t docs) {
    for (FirstDocTable& t : tables_)
        t.reserve(docs);
}

std::size_t LshIndex::memory_bytes() const {
    std::size_t bytes = sizeof(*this) + tables_.size() * sizeof(FirstDocTable);
    for (const FirstDocTable& t : tables_)
        bytes += t.memory_bytes();
    return bytes;
}

std::optional<std::int64_t> ExactIndex::find_or_insert(std::uint64_t hash, std::int64_t doc) {
    check_doc(doc, "exact index");
    return table_.find_or_insert(hash, doc);
}

std::vector<std::string> word_shingles(std::string_view simplified, int ngram) {
    if (ngram < 1)
        throw ConfigError("word_shingles: ngram must be >= 1, got " + std::to_string(ngram));
    const std::vector<std::size_t> starts = word_starts(simplified);
    const auto n = static_cast<std::size_t>(ngram);
    std::vector<std::string> out;
    if (starts.size() < n)
        return out;
    out.reserve(starts.size() - n + 1);
    for (std::size_t k = 0; k + n <= starts.size(); ++k)
        out.emplace_back(ngram_at(simplified, starts, k, n));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

double jaccard(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    const auto as_set = [](const std::vector<std::string>& v) {
        std::vector<std::string_view> s(v.begin(), v.end());
        std::sort(s.begin(), s.end());
        s.erase(std::unique(s.begin(), s.end()), s.end());
        return s;
    };
    const std::vector<std::string_view> sa = as_set(a), sb = as_set(b);
    std::size_t common = 0;
    for (std::size_t i = 0, j = 0; i < sa.size() && j < sb.size();) {
        if (sa[i] < sb[j]) {
            ++i;
        } else if (sb[j] < sa[i]) {
            ++j;
        } else {
            ++common;
            ++i;
            ++j;
        }
    }
    const std::size_t all = sa.size() + sb.size() - common;
    return all == 0 ? 0.0 : static_cast<double>(common) / static_cast<double>(all);
}

double estimated_jaccard(std::span<const std::uint64_t> sig_a,
                         std::span<const std::uint64_t> sig_b) {
    if (sig_a.empty() || sig_b.empty())
        return 0.0;
    if (sig_a.size() != sig_b.size())
        throw ConfigError("estimated_jaccard: signatures differ in length (" +
                          std::to_string(sig_a.size()) + " vs " + std::to_string(sig_b.size()) +
                          ")");
    std::size_t equal = 0;
    for (std::size_t i = 0; i < sig_a.size(); ++i)
        equal += sig_a[i] == sig_b[i];
    return static_cast<double>(equal) / static_cast<double>(sig_a.size());
}

double lsh_candidate_probability(double jaccard, int bands, int rows) {
    if (!(jaccard >= 0.0 && jaccard <= 1.0) || bands < 1 || rows < 1)
        throw ConfigError("lsh_candidate_probability: need 0 <= jaccard <= 1, bands >= 1, rows >= "
                          "1; got " +
                          std::to_string(jaccard) + ", " + std::to_string(bands) + ", " +
                          std::to_string(rows));
    return 1.0 - std::pow(1.0 - std::pow(jaccard, rows), bands);
}

double lsh_threshold(int bands, int rows) {
    if (bands < 1 || rows < 1)
        throw ConfigError("lsh_threshold: need bands >= 1 and rows >= 1; got " +
                          std::to_string(bands) + ", " + std::to_string(rows));
    return std::pow(1.0 / bands, 1.0 / rows);
}

} // namespace slimtune::data::curate
