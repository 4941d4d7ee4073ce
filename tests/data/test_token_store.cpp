// The memory-mapped token store (build, read back, corrupt files) and lazy packing (plan and
// make_batch against the pack_examples that built whole epochs up front, kept below verbatim as
// the reference). Token ids by hand with the tiny_letters tokenizer: '<s>' = 1, '</s>' = 2,
// 'a'..'z' = 3..28, the Metaspace '▁' = 34.
#include "common/error.h"
#include "common/rng.h"
#include "data/examples.h"
#include "data/packing.h"
#include "data/token_store.h"
#include "tests/data/examples_util.h"
#include "tests/test_util.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

using namespace slimtune;
using namespace slimtune::data;
using Catch::Matchers::Contains;
using Ids = std::vector<std::int32_t>;
namespace fs = std::filesystem;

namespace {

constexpr std::int32_t M = kIgnoreLabel;

const Tokenizer& tiny() {
    static const Tokenizer tok = Tokenizer::load(std::string(SLIMTUNE_SOURCE_DIR) +
                                                 "/tests/fixtures/tokenizer/tiny_letters");
    return tok;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

Ids to_ids(std::span<const std::int32_t> s) {
    return Ids(s.begin(), s.end());
}

// Overwrites `bytes` at `offset` of a file.
void patch(const std::string& path, std::size_t offset, const void* bytes, std::size_t n) {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(n));
}

void patch_u64(const std::string& path, std::size_t offset, std::uint64_t v) {
    patch(path, offset, &v, sizeof v);
}

// pack_examples as it was before the plan/build split (verbatim): the reference the new one
// must match bit for bit.
std::vector<TokenBatch>
legacy_pack(std::span<const TokenExample> examples, const PackingOptions& o, PackingStats* stats) {
    if (o.seq_len < 2 || o.batch_size < 1)
        throw ConfigError("packing: seq_len must be >= 2 and batch_size >= 1");
    PackingStats st;
    const auto S = static_cast<std::size_t>(o.seq_len);
    struct Row {
        std::vector<std::int32_t> ids, labels, positions, doc;
    };
    std::vector<Row> rows;
    Row row;
    auto flush = [&] {
        if (!row.ids.empty())
            rows.push_back(std::move(row));
        row = Row{};
    };
    std::int32_t doc = 0;
    for (const TokenExample& e : examples) {
        if (!e.labels.empty() && e.labels.size() != e.ids.size())
            throw ConfigError("packing: an example has " + std::to_string(e.labels.size()) +
                              " labels for " + std::to_string(e.ids.size()) + " ids");
        if (e.ids.size() < 2) {
            ++st.skipped;
            continue;
        }
        std::size_t n = e.ids.size();
        if (n > S && o.drop_overlong) {
            ++st.dropped;
            continue;
        }
        if (n > S) {
            n = S;
            ++st.truncated;
        }
        if (!o.pack || row.ids.size() + n > S)
            flush();
        for (std::size_t i = 0; i < n; ++i) {
            row.ids.push_back(e.ids[i]);
            row.labels.push_back(e.labels.empty() ? e.ids[i] : e.labels[i]);
            row.positions.push_back(static_cast<std::int32_t>(i));
            row.doc.push_back(doc);
        }
        ++doc;
        st.tokens += static_cast<std::int64_t>(n);
    }
    flush();
    st.rows = static_cast<std::int64_t>(rows.size());
    std::vector<TokenBatch> batches;
    for (std::size_t first = 0; first < rows.size();
         first += static_cast<std::size_t>(o.batch_size)) {
        const std::size_t n_rows =
            std::min(rows.size() - first, static_cast<std::size_t>(o.batch_size));
        TokenBatch b;
        b.batch = static_cast<std::int64_t>(n_rows);
        b.seq = o.seq_len;
        const std::size_t total = n_rows * S;
        b.ids.assign(total, o.pad_id);
        b.targets.assign(total, kIgnoreLabel);
        b.positions.assign(total, 0);
        b.doc_ids.assign(total, 0);
        for (std::size_t r = 0; r < n_rows; ++r) {
            const Row& row_r = rows[first + r];
            const std::size_t base = r * S;
            for (std::size_t t = 0; t < S; ++t) {
                if (t < row_r.ids.size()) {
                    b.ids[base + t] = row_r.ids[t];
                    b.positions[base + t] = row_r.positions[t];
                    b.doc_ids[base + t] = row_r.doc[t];
                    if (t + 1 < row_r.ids.size() && row_r.doc[t + 1] == row_r.doc[t])
                        b.targets[base + t] = row_r.labels[t + 1];
                } else {
                    b.doc_ids[base + t] = -1;
                }
                b.counted += b.targets[base + t] != kIgnoreLabel;
            }
        }
        batches.push_back(std::move(b));
    }
    if (stats)
        *stats = st;
    return batches;
}

void require_same(const std::vector<TokenBatch>& a, const std::vector<TokenBatch>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("batch " << i);
        REQUIRE(a[i].batch == b[i].batch);
        REQUIRE(a[i].seq == b[i].seq);
        REQUIRE(a[i].ids == b[i].ids);
        REQUIRE(a[i].targets == b[i].targets);
        REQUIRE(a[i].positions == b[i].positions);
        REQUIRE(a[i].doc_ids == b[i].doc_ids);
        REQUIRE(a[i].counted == b[i].counted);
    }
}

void require_same(const PackingStats& a, const PackingStats& b) {
    CHECK(a.truncated == b.truncated);
    CHECK(a.dropped == b.dropped);
    CHECK(a.skipped == b.skipped);
    CHECK(a.rows == b.rows);
    CHECK(a.tokens == b.tokens);
}

std::size_t below(Rng& rng, std::size_t n) {
    return static_cast<std::size_t>(rng.next_u64() % n);
}

// Random examples of 0 .. 2 seq_len tokens, half with labels (some masked).
std::vector<TokenExample> random_examples(Rng& rng, std::size_t count, std::size_t seq_len) {
    std::vector<TokenExample> ex(count);
    for (TokenExample& e : ex) {
        // Short examples are common so that rows hold several.
        const std::size_t n =
            below(rng, 4) == 0 ? below(rng, 2 * seq_len + 1) : below(rng, seq_len / 2 + 2);
        const bool labelled = below(rng, 2) == 0;
        for (std::size_t i = 0; i < n; ++i) {
            e.ids.push_back(static_cast<std::int32_t>(below(rng, 1000)));
            if (labelled)
                e.labels.push_back(below(rng, 3) == 0 ? M : e.ids.back());
        }
    }
    return ex;
}

PackingOptions random_options(Rng& rng) {
    return {.seq_len = static_cast<std::int64_t>(2 + below(rng, 15)),
            .batch_size = static_cast<std::int64_t>(1 + below(rng, 5)),
            .pack = below(rng, 4) != 0,
            .drop_overlong = below(rng, 2) == 0,
            .pad_id = static_cast<std::int32_t>(below(rng, 3))};
}

std::vector<TokenBatch> build_all(const PackPlan& plan,
                                  const std::function<ExampleView(std::size_t)>& example) {
    std::vector<TokenBatch> out;
    for (std::size_t b = 0; b < plan.batches(); ++b)
        out.push_back(make_batch(plan, b, example));
    return out;
}

// VmHWM or VmRSS of this process, in bytes (0 when /proc is not there).
std::int64_t proc_status_bytes(const std::string& key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key + ":", 0) == 0)
            return std::stoll(line.substr(key.size() + 1)) * 1024;
    return 0;
}

} // namespace

TEST_CASE("token store: records read back as read_token_examples", "[data][token_store]") {
    test::TempDir dir("token_store");
    const std::string jsonl = dir.file("mixed.jsonl");
    write_text(jsonl, R"({"input_ids":[5,6,7]})"
                      "\n"
                      R"({"text":"ab"})"
                      "\n\n"
                      R"({"input_ids":[9,8],"labels":[-100,8]})"
                      "\n"
                      R"({"prompt":"a","completion":"b"})"
                      "\n"
                      R"({"input_ids":[4]})"
                      "\n");
    const ExampleOptions o{.tokenizer = &tiny()};
    ExampleStats st;
    const TokenStore s = TokenStore::build(jsonl, o, dir.file("mixed.tok"), &st);
    CHECK(st.lines == 6);
    CHECK(st.examples == 5);
    CHECK(st.formats == std::map<std::string, std::int64_t>{
                            {"prompt_completion", 1}, {"text", 1}, {"tokens", 3}});
    REQUIRE(s.size() == 5);
    CHECK(s.total_tokens() == 3 + 5 + 2 + 6 + 1);
    CHECK(s.path() == dir.file("mixed.tok"));
    // Exactly header + offsets + ids + labels.
    CHECK(fs::file_size(s.path()) == 24 + 8 * 6 + 8 * 17);
    // By hand: labels default to the ids; BOS and the prompt are masked.
    CHECK(to_ids(s.ids(0)) == Ids{5, 6, 7});
    CHECK(to_ids(s.labels(0)) == Ids{5, 6, 7});
    CHECK(to_ids(s.ids(1)) == Ids{1, 34, 3, 4, 2});
    CHECK(to_ids(s.labels(1)) == Ids{M, 34, 3, 4, 2});
    CHECK(to_ids(s.ids(2)) == Ids{9, 8});
    CHECK(to_ids(s.labels(2)) == Ids{M, 8});
    CHECK(to_ids(s.ids(3)) == Ids{1, 34, 3, 34, 4, 2});
    CHECK(to_ids(s.labels(3)) == Ids{M, M, M, 34, 4, 2});
    CHECK(to_ids(s.ids(4)) == Ids{4}); // stored; packing is what skips 1-token examples
    CHECK(to_ids(s.labels(4)) == Ids{4});
    CHECK(s.length(3) == 6);

    const std::vector<TokenExample> ref = read_token_examples(jsonl, o);
    REQUIRE(ref.size() == s.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
        CHECK(to_ids(s.ids(i)) == ref[i].ids);
        CHECK(to_ids(s.labels(i)) == (ref[i].labels.empty() ? ref[i].ids : ref[i].labels));
    }
    // The header bytes, and a second open of the same file.
    std::ifstream in(s.path(), std::ios::binary);
    char magic[8];
    in.read(magic, 8);
    CHECK(std::string(magic, 8) == "SLTOKS01");
    const TokenStore again = TokenStore::open(s.path());
    CHECK(again.size() == 5);
    CHECK(to_ids(again.labels(3)) == Ids{M, M, M, 34, 4, 2});
    // Moving hands the mapping over.
    TokenStore moved = TokenStore::open(s.path());
    TokenStore target = std::move(moved);
    CHECK(to_ids(target.ids(2)) == Ids{9, 8});
    target = TokenStore::open(s.path());
    CHECK(target.total_tokens() == 17);
    // Only the store is left beside the JSONL: no temporaries.
    CHECK(test::entry_names(dir.path) == std::vector<std::string>{"mixed.jsonl", "mixed.tok"});
}

TEST_CASE("token store: zero examples", "[data][token_store]") {
    test::TempDir dir("token_store");
    write_text(dir.file("blank.jsonl"), "\n  \n\t\n");
    ExampleStats st;
    const TokenStore s = TokenStore::build(dir.file("blank.jsonl"), {}, dir.file("blank.tok"), &st);
    CHECK(st.lines == 3);
    CHECK(s.size() == 0);
    CHECK(s.total_tokens() == 0);
    CHECK(fs::file_size(dir.file("blank.tok")) == 32); // header and offsets[0] = 0
    CHECK(TokenStore::open(dir.file("blank.tok")).size() == 0);
    const PackPlan plan = plan_packing({}, [&](std::size_t i) { return s.length(i); }, {});
    CHECK(plan.batches() == 0);
    CHECK(plan.rows() == 0);
}

TEST_CASE("token store: corrupt files are FormatErrors naming the file", "[data][token_store]") {
    test::TempDir dir("token_store");
    write_text(dir.file("a.jsonl"), "{\"input_ids\":[5,6,7]}\n{\"input_ids\":[8,9]}\n");
    const std::string good = dir.file("good.tok");
    TokenStore::build(dir.file("a.jsonl"), {}, good);
    const auto size = fs::file_size(good);
    REQUIRE(size == 24 + 8 * 3 + 8 * 5);
    int copies = 0;
    // A fresh copy of the good store to damage.
    auto copy = [&] {
        const std::string p = dir.file("bad" + std::to_string(copies++) + ".tok");
        fs::copy_file(good, p);
        return p;
    };
    auto rejects = [](const std::string& p, const std::string& what) {
        INFO(what);
        CHECK_THROWS_AS(TokenStore::open(p), FormatError);
        CHECK_THROWS_WITH(TokenStore::open(p), Contains(p) && Contains(what));
    };

    std::string p = copy();
    fs::resize_file(p, size - 4); // the last label cut off
    rejects(p, "truncated");
    p = copy();
    fs::resize_file(p, 10);
    rejects(p, "truncated");
    p = copy();
    patch_u64(p, 8, std::uint64_t{1} << 62); // absurd example count: no overflow
    rejects(p, "truncated");
    p = copy();
    patch_u64(p, 16, 6); // one token more than the file holds
    rejects(p, "truncated");
    p = copy();
    patch(p, 0, "GGUF", 4);
    rejects(p, "bad magic");
    p = copy();
    patch(p, 6, "02", 2);
    rejects(p, "version '02'");
    p = copy();
    patch_u64(p, 24 + 8, 9); // offset 1 past the 5 tokens
    rejects(p, "offset 1 is 9, beyond the data");
    p = copy();
    patch_u64(p, 24 + 8, 0); // offsets 0, 0, 5: monotonic, fine (an empty example)
    CHECK(TokenStore::open(p).length(0) == 0);
    p = copy();
    patch_u64(p, 24 + 8, 4); // 0, 4, 5 then 2 below 4
    patch_u64(p, 24 + 16, 2);
    rejects(p, "offset 2 is 2, below offset 1");
    p = copy();
    patch_u64(p, 24, 1);
    rejects(p, "offset 0 is 1");
    p = copy();
    std::ofstream(p, std::ios::binary | std::ios::app) << "x";
    rejects(p, "trailing data");
    CHECK_THROWS_WITH(TokenStore::open(dir.file("missing.tok")), Contains("missing.tok"));
    CHECK(TokenStore::open(good).size() == 2); // the original is untouched
}

TEST_CASE("token store: a failed build leaves no files and keeps the old store",
          "[data][token_store]") {
    test::TempDir dir("token_store");
    write_text(dir.file("good.jsonl"), "{\"input_ids\":[5,6,7]}\n");
    write_text(dir.file("bad.jsonl"), "{\"input_ids\":[5,6,7]}\n{\"input_ids\":[1,\n");
    const std::string out = dir.file("out.tok");
    TokenStore::build(dir.file("good.jsonl"), {}, out);
    CHECK_THROWS_AS(TokenStore::build(dir.file("bad.jsonl"), {}, out), FormatError);
    CHECK_THROWS_WITH(TokenStore::build(dir.file("bad.jsonl"), {}, out), Contains("bad.jsonl:2"));
    CHECK(test::entry_names(dir.path) ==
          std::vector<std::string>{"bad.jsonl", "good.jsonl", "out.tok"});
    CHECK(to_ids(TokenStore::open(out).ids(0)) == Ids{5, 6, 7});
    // Skipped lines are counted, as read_token_examples counts them.
    ExampleStats st;
    const TokenStore s =
        TokenStore::build(dir.file("bad.jsonl"), {.skip_bad_lines = true}, out, &st);
    CHECK((s.size() == 1 && st.bad_lines == 1));
    // A missing input: an Error naming it, and nothing written.
    CHECK_THROWS_WITH(TokenStore::build(dir.file("none.jsonl"), {}, dir.file("none.tok")),
                      Contains("none.jsonl"));
    CHECK(!fs::exists(dir.file("none.tok")));
}

TEST_CASE("packing: plan and make_batch match the original pack_examples bit for bit",
          "[data][packing]") {
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        INFO("seed " << seed);
        Rng rng(seed);
        const PackingOptions o = random_options(rng);
        INFO("seq_len " << o.seq_len << " batch " << o.batch_size << " pack " << o.pack << " drop "
                        << o.drop_overlong);
        const auto ex = random_examples(rng, below(rng, 40), static_cast<std::size_t>(o.seq_len));
        PackingStats want_st, got_st;
        const auto want = legacy_pack(ex, o, &want_st);
        require_same(pack_examples(ex, o, &got_st), want);
        require_same(got_st, want_st);

        // Any order: planning a shuffled order equals packing the shuffled examples.
        std::vector<std::size_t> order(ex.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        for (std::size_t i = order.size(); i > 1; --i)
            std::swap(order[i - 1], order[below(rng, i)]);
        std::vector<TokenExample> shuffled;
        for (std::size_t i : order)
            shuffled.push_back(ex[i]);
        const PackPlan plan = plan_packing(
            order, [&](std::size_t i) { return ex[i].ids.size(); }, o);
        const auto view = [&](std::size_t i) { return ExampleView{ex[i].ids, ex[i].labels}; };
        const auto want_shuffled = legacy_pack(shuffled, o, &want_st);
        require_same(build_all(plan, view), want_shuffled);
        require_same(plan.stats, want_st);
        CHECK(plan.batches() == want_shuffled.size());
        CHECK(plan.row_begin.size() == (plan.rows() == 0 ? 0 : plan.rows() + 1));
    }
}

TEST_CASE("packing: errors of the plan/build split", "[data][packing]") {
    const std::vector<TokenExample> ex{{{1, 2, 3}, {}}, {{4, 5}, {4}}, {{6, 7}, {}}};
    // A labels/ids mismatch is a ConfigError, whether packed or not.
    CHECK_THROWS_AS(pack_examples(ex, {}), ConfigError);
    CHECK_THROWS_WITH(pack_examples(ex, {}), Contains("1 labels for 2 ids"));
    const std::vector<std::size_t> order{0, 1, 2};
    const auto len = [&](std::size_t i) { return ex[i].ids.size(); };
    const auto view = [&](std::size_t i) { return ExampleView{ex[i].ids, ex[i].labels}; };
    const PackPlan plan = plan_packing(order, len, {.seq_len = 4, .batch_size = 1});
    REQUIRE(plan.batches() == 2); // rows [3 tokens], [2 + 2 tokens]
    CHECK(plan.row_begin == std::vector<std::size_t>{0, 1, 3});
    CHECK_THROWS_AS(make_batch(plan, 1, view), ConfigError);
    CHECK_NOTHROW(make_batch(plan, 0, view));
    CHECK_THROWS_AS(make_batch(plan, 2, view), Error); // past the last batch
    CHECK_THROWS_AS(plan_packing(order, len, {.seq_len = 1}), ConfigError);
    // An example longer than planned would overrun its row.
    const std::vector<TokenExample> longer{{{1, 2, 3, 4}, {}}, {{4, 5, 6}, {}}, {{6, 7}, {}}};
    CHECK_THROWS_WITH(make_batch(plan, 1,
                                 [&](std::size_t i) {
                                     return ExampleView{longer[i].ids, longer[i].labels};
                                 }),
                      Contains("example 2") && Contains("planned"));
}

TEST_CASE("token store: packing from a store equals packing its examples",
          "[data][token_store][packing]") {
    test::TempDir dir("token_store");
    Rng rng(42);
    const auto ex = random_examples(rng, 500, 24);
    std::string text;
    for (const TokenExample& e : ex) {
        text += "{\"input_ids\":[";
        for (std::size_t i = 0; i < e.ids.size(); ++i)
            text += (i ? "," : "") + std::to_string(e.ids[i]);
        text += "]";
        if (!e.labels.empty()) {
            text += ",\"labels\":[";
            for (std::size_t i = 0; i < e.labels.size(); ++i)
                text += (i ? "," : "") + std::to_string(e.labels[i]);
            text += "]";
        }
        text += "}\n";
    }
    write_text(dir.file("r.jsonl"), text);
    const TokenStore s = TokenStore::build(dir.file("r.jsonl"), {}, dir.file("r.tok"));
    REQUIRE(s.size() == 500);
    // Records with an empty input_ids list are not valid JSONL examples, so compare with what
    // read_token_examples makes of the same file.
    const auto ref = read_token_examples(dir.file("r.jsonl"), {});
    std::vector<std::size_t> order(s.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::int64_t seq : {2, 7, 24, 31}) {
        for (bool pack : {true, false}) {
            const PackingOptions o{.seq_len = seq, .batch_size = 3, .pack = pack};
            PackingStats want_st;
            const auto want = legacy_pack(ref, o, &want_st);
            const PackPlan plan = plan_packing(
                order, [&](std::size_t i) { return s.length(i); }, o);
            require_same(build_all(plan,
                                   [&](std::size_t i) {
                                       return ExampleView{s.ids(i), s.labels(i)};
                                   }),
                         want);
            require_same(plan.stats, want_st);
        }
    }
}

TEST_CASE("token store: a large streaming build keeps memory bounded", "[data][token_store]") {
    test::TempDir dir("token_store");
    const std::string jsonl = dir.file("big.jsonl");
    constexpr std::size_t kRecords = 200000, kTokens = 64;
    {
        std::ofstream out(jsonl, std::ios::binary);
        Rng rng(7);
        std::string line;
        char num[16];
        for (std::size_t r = 0; r < kRecords; ++r) {
            line = "{\"input_ids\":[";
            for (std::size_t i = 0; i < kTokens; ++i) {
                const auto end = std::to_chars(num, num + sizeof num, rng.next_u64() % 50000).ptr;
                line.append(num, end);
                line += i + 1 < kTokens ? ',' : ']';
            }
            line += "}\n";
            out << line;
        }
    }
    const double jsonl_mb = static_cast<double>(fs::file_size(jsonl)) / 1e6;
    // Reset the peak (Linux >= 4.0) so that VmHWM measures this build alone.
    const bool reset = static_cast<bool>(std::ofstream("/proc/self/clear_refs") << "5");
    const std::int64_t rss_before = proc_status_bytes("VmRSS");
    const auto t0 = std::chrono::steady_clock::now();
    const TokenStore s = TokenStore::build(jsonl, {}, dir.file("big.tok"));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::int64_t growth = proc_status_bytes("VmHWM") - rss_before;
    const auto store_bytes = static_cast<std::int64_t>(fs::file_size(s.path()));
    REQUIRE(s.size() == kRecords);
    CHECK(s.total_tokens() == static_cast<std::int64_t>(kRecords * kTokens));
    CHECK(store_bytes ==
          static_cast<std::int64_t>(24 + 8 * (kRecords + 1) + 8 * kRecords * kTokens));
    std::printf("token store build: %.1f MB JSONL -> %.1f MB store in %.2f s (%.1f MB/s); peak RSS "
                "growth %.1f MB%s\n",
                jsonl_mb, static_cast<double>(store_bytes) / 1e6, secs, jsonl_mb / secs,
                static_cast<double>(growth) / 1e6, reset ? "" : " (peak not reset)");
    // The last record is where the file says it is.
    Rng rng(7);
    rng.take((kRecords - 1) * kTokens);
    CHECK(s.ids(kRecords - 1)[0] == static_cast<std::int32_t>(rng.next_u64() % 50000));
    // Sanitizers keep freed memory in quarantine, so only a plain build can check the bound.
#if !defined(__SANITIZE_ADDRESS__)
    if (reset && rss_before > 0) {
        CHECK(growth < 32 * 1000 * 1000);
        CHECK(store_bytes > 3 * 32 * 1000 * 1000);
    }
#endif
}
