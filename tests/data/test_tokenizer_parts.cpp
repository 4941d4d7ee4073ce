// The tokenizer's parts on hand-checked cases: UTF-8 repair, regex translation, split
// behaviors, normalizers, decoders, BPE merge order, added-token flags, and errors.
#include "common/error.h"
#include "common/rng.h"
#include "data/tokenizer/decoder.h"
#include "data/tokenizer/known_splits.h"
#include "data/tokenizer/normalizer.h"
#include "data/tokenizer/pre_tokenizer.h"
#include "data/tokenizer/regex.h"
#include "data/tokenizer/tokenizer.h"
#include "data/tokenizer/utf8.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace slimtune;
using namespace slimtune::data;
using nlohmann::json;
using slimtune::test::TempDir;

namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

std::string repeat(const std::string& s, int n) {
    std::string r;
    for (int i = 0; i < n; ++i)
        r += s;
    return r;
}

// A tiny byte-level-free BPE over letters: vocab a b c d ab abc cd, merges a+b, ab+c, c+d.
json tiny_tokenizer() {
    return {{"model",
             {{"type", "BPE"},
              {"vocab",
               {{"a", 0},
                {"b", 1},
                {"c", 2},
                {"d", 3},
                {"ab", 4},
                {"abc", 5},
                {"cd", 6},
                {"<unk>", 7}}},
              {"merges", json::array({"a b", "ab c", "c d"})},
              {"unk_token", "<unk>"}}},
            {"pre_tokenizer", {{"type", "WhitespaceSplit"}}},
            {"added_tokens", json::array()}};
}

} // namespace

TEST_CASE("sanitize_utf8 replaces ill-formed sequences as the WHATWG decoder does", "[tokenizer]") {
    CHECK(sanitize_utf8("plain ascii") == "plain ascii");
    CHECK(sanitize_utf8("caf\xC3\xA9") == "caf\xC3\xA9");
    CHECK(sanitize_utf8("\x80") == kFFFD);                    // lone continuation
    CHECK(sanitize_utf8("a\xE2\x82") == "a" + kFFFD);         // truncated 3-byte: one U+FFFD
    CHECK(sanitize_utf8("\xE2\x82z") == kFFFD + "z");         // maximal subpart, then z
    CHECK(sanitize_utf8("\xC0\xAF") == kFFFD + kFFFD);        // overlong: C0 never leads
    CHECK(sanitize_utf8("\xE0\x80\xAF") == repeat(kFFFD, 3)); // overlong 3-byte
    CHECK(sanitize_utf8("\xED\xA0\x80") == repeat(kFFFD, 3)); // surrogate
    CHECK(sanitize_utf8("\xF0\x9F\x98") == kFFFD);            // truncated emoji: one
    CHECK(sanitize_utf8("\xF5\xFF") == repeat(kFFFD, 2));
    CHECK(sanitize_utf8("\xF4\x90\x80\x80") == repeat(kFFFD, 4)); // above U+10FFFF
    std::size_t n = 0;
    sanitize_utf8("x\x80y\xC3", &n);
    CHECK(n == 2);
    CHECK(is_valid_utf8("\xF0\x9F\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\xF0\x9F\x98"));
}

TEST_CASE("split_spans implements every Split behavior", "[tokenizer]") {
    // tokenizers' own example: "the-final--countdown" split on '-'.
    const std::string text = "the-final--countdown";
    std::vector<Span> spans;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '-')
            spans.push_back({i, i + 1, true});
    using V = std::vector<std::string>;
    CHECK(split_spans(text, spans, SplitBehavior::Removed) == V{"the", "final", "countdown"});
    CHECK(split_spans(text, spans, SplitBehavior::Isolated) ==
          V{"the", "-", "final", "-", "-", "countdown"});
    CHECK(split_spans(text, spans, SplitBehavior::MergedWithPrevious) ==
          V{"the-", "final-", "-", "countdown"});
    CHECK(split_spans(text, spans, SplitBehavior::MergedWithNext) ==
          V{"the", "-final", "-", "-countdown"});
    CHECK(split_spans(text, spans, SplitBehavior::Contiguous) ==
          V{"the", "-", "final", "--", "countdown"});
}

TEST_CASE("Split pre-tokenizer from JSON: string and regex patterns, invert", "[tokenizer]") {
    auto run = [](const json& cfg, const std::string& text) {
        auto p = make_pre_tokenizer(cfg, "test");
        std::vector<std::string> pieces{text};
        p->split(pieces, true);
        return pieces;
    };
    using V = std::vector<std::string>;
    const json merged_next = {{"type", "Split"},
                              {"pattern", {{"String", " "}}},
                              {"behavior", "MergedWithNext"},
                              {"invert", false}};
    CHECK(run(merged_next, "a b  c") == V{"a", " b", " ", " c"});
    const json words = {{"type", "Split"},
                        {"pattern", {{"Regex", "\\p{L}+"}}},
                        {"behavior", "Removed"},
                        {"invert", true}};
    CHECK(run(words, "héllo, wörld!") == V{"héllo", "wörld"});
    const json digits = {{"type", "Digits"}, {"individual_digits", false}};
    CHECK(run(digits, "ab12c345") == V{"ab", "12", "c", "345"});
    const json metaspace = {{"type", "Metaspace"},
                            {"replacement", "\xE2\x96\x81"},
                            {"prepend_scheme", "always"},
                            {"split", true}};
    CHECK(run(metaspace, "Hey friend") == V{"\xE2\x96\x81Hey", "\xE2\x96\x81"
                                                               "friend"});
}

TEST_CASE("translated patterns use JavaScript's \\s, ASCII \\d and literal contractions",
          "[tokenizer]") {
    auto matches = [](const std::string& pattern, const std::string& text) {
        const Regex re(translate_js_pattern(pattern), "test");
        std::vector<std::string> out;
        re.for_each_match(
            text, [&](std::size_t b, std::size_t e) { out.push_back(text.substr(b, e - b)); });
        return out;
    };
    using V = std::vector<std::string>;
    CHECK(matches("\\s+", "a\xC2\xA0\xE3\x80\x80"
                          "b") == V{"\xC2\xA0\xE3\x80\x80"}); // NBSP, U+3000
    CHECK(matches("\\s+", "a\xEF\xBB\xBF"
                          "b") == V{"\xEF\xBB\xBF"}); // U+FEFF is JS space
    CHECK(matches("\\s+", "a\xC2\x85"
                          "b")
              .empty()); // U+0085 is not
    CHECK(matches("\\d+", "12\xD9\xA3"
                          "4") == V{"12", "4"}); // Arabic-Indic 3: not \d
    CHECK(matches("[^\\s\\p{L}]+", "ab, \xC2\xA0!") == V{",", "!"});
    CHECK(matches("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "it'S we'LL x'\xC5\xBF") == V{"'S", "'LL"});
    CHECK(matches("a.c", "a\nc abc a\xE2\x80\xA8"
                         "c") == V{"abc"});
    CHECK_THROWS_AS(Regex("(unclosed", "test"), FormatError);
}

TEST_CASE("normalizers: NFC/NFKC, JavaScript lowercase, strip, prepend, replace", "[tokenizer]") {
    CHECK(unicode_normalize("e\xCC\x81", UnicodeForm::NFC) == "\xC3\xA9");
    CHECK(unicode_normalize("\xC3\xA9", UnicodeForm::NFD) == "e\xCC\x81");
    CHECK(unicode_normalize("\xEF\xAC\x81", UnicodeForm::NFKC) == "fi"); // U+FB01 ligature
    CHECK(unicode_normalize("\xEF\xBC\x91\xEF\xBC\x92", UnicodeForm::NFKC) == "12");
    CHECK(to_lower("HELLO World") == "hello world");
    CHECK(to_lower("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3") ==
          "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");  // ΟΔΟΣ -> οδος
    CHECK(to_lower("\xCE\xA3") == "\xCF\x83");  // a lone capital sigma is not final
    CHECK(to_lower("\xC4\xB0") == "i\xCC\x87"); // İ -> i + combining dot above
    CHECK(strip_marks("e\xCC\x81"
                      "a") == "ea");
    CHECK(trim_js("\xC2\xA0 x \t", true, true) == "x");
    const json seq = {
        {"type", "Sequence"},
        {"normalizers",
         json::array(
             {{{"type", "Prepend"}, {"prepend", "\xE2\x96\x81"}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}},
              {{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}}})}};
    CHECK(make_normalizer(seq, "t")->normalize("a b") == "\xE2\x96\x81"
                                                         "a\xE2\x96\x81"
                                                         "b");
    CHECK_THROWS_WITH(make_normalizer(json{{"type", "Precompiled"}}, "tok.json"),
                      Catch::Contains("tok.json") && Catch::Contains("Precompiled"));
}

TEST_CASE("decoders: byte fallback, fuse, strip, metaspace, byte level", "[tokenizer]") {
    const json llama = {
        {"type", "Sequence"},
        {"decoders",
         json::array(
             {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
    const auto d = make_decoder(llama, "t");
    auto join = [](const std::vector<std::string>& v) {
        std::string s;
        for (const auto& x : v)
            s += x;
        return s;
    };
    CHECK(join(d->decode_chain({"\xE2\x96\x81Hi", "<0xE2>", "<0x82>", "<0xAC>", "\xE2\x96\x81x"},
                               {})) == "Hi\xE2\x82\xAC x");
    // An incomplete byte sequence becomes one U+FFFD.
    CHECK(join(d->decode_chain({"<0xE2>", "<0x82>", "a"}, {})) == kFFFD + "a");
    const auto bl = make_decoder(json{{"type", "ByteLevel"}}, "t");
    CHECK(join(bl->decode_chain({"\xC4\xA0hello", "<|x|>", "\xC4\x8A"}, {false, true, false})) ==
          " hello<|x|>\n");
    const auto ms = make_decoder(json{{"type", "Metaspace"}, {"prepend_scheme", "first"}}, "t");
    CHECK(join(ms->decode_chain({"\xE2\x96\x81"
                                 "a",
                                 "\xE2\x96\x81"
                                 "b"},
                                {})) == "a b");
}

TEST_CASE("byte-level map is GPT-2's and invertible", "[tokenizer]") {
    CHECK(byte_to_unicode('A') == U'A');
    CHECK(byte_to_unicode(' ') == 0x120);  // Ġ
    CHECK(byte_to_unicode('\n') == 0x10A); // Ċ
    CHECK(byte_to_unicode(0xAD) == 0x143);
    for (int b = 0; b < 256; ++b)
        CHECK(unicode_to_byte(byte_to_unicode(static_cast<std::uint8_t>(b))) == b);
    CHECK(unicode_to_byte(0x3000) == -1);
}

TEST_CASE("BPE applies the lowest-ranked merge first, leftmost on ties", "[tokenizer]") {
    const Tokenizer t = Tokenizer::from_json(tiny_tokenizer(), nullptr, "tiny");
    using V = std::vector<std::int32_t>;
    CHECK(t.encode("abcd") == V{5, 3});       // a+b, ab+c beat c+d (rank 2)
    CHECK(t.encode("cd abab") == V{6, 4, 4}); // separate words
    CHECK(t.encode("axb") == V{0, 7, 1});     // x is unknown
    CHECK(t.decode(V{5, 3}) == "abc d");      // no decoder: tokens joined by spaces
    CHECK_THROWS_WITH(t.decode(V{99}), Catch::Contains("99") && Catch::Contains("outside"));
    json fused = tiny_tokenizer();
    fused["model"]["fuse_unk"] = true;
    CHECK(Tokenizer::from_json(fused, nullptr, "tiny").encode("axyzb") == V{0, 7, 1});
    json ignore = tiny_tokenizer();
    ignore["model"]["ignore_merges"] = true;
    ignore["model"]["vocab"]["abcd"] = 8;
    CHECK(Tokenizer::from_json(ignore, nullptr, "tiny").encode("abcd") == V{8});
}

TEST_CASE("added tokens: leftmost-longest, lstrip, rstrip, single_word, post-processor",
          "[tokenizer]") {
    json j = tiny_tokenizer();
    j["added_tokens"] =
        json::array({{{"id", 10}, {"content", "<x>"}, {"special", true}},
                     {{"id", 11}, {"content", "<x>>"}, {"special", true}},
                     {{"id", 12}, {"content", "[L]"}, {"lstrip", true}, {"special", true}},
                     {{"id", 13}, {"content", "[R]"}, {"rstrip", true}, {"special", true}},
                     {{"id", 14}, {"content", "cd"}, {"single_word", true}}});
    j["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<x>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"special_tokens", {{"<x>", {{"id", "<x>"}, {"ids", {10}}, {"tokens", {"<x>"}}}}}}};
    const Tokenizer t = Tokenizer::from_json(j, nullptr, "added");
    using V = std::vector<std::int32_t>;
    CHECK(t.encode("ab<x>>c", false) == V{4, 11, 2}); // longest match wins
    CHECK(t.encode("ab", true) == V{10, 4});          // BOS from TemplateProcessing
    CHECK(t.prefix_ids() == V{10});
    CHECK(t.encode("ab  [L]  c", false) == V{4, 12, 2}); // lstrip eats the spaces before
    CHECK(t.encode("ab  [R]  c", false) == V{4, 13, 2}); // rstrip eats the spaces after
    CHECK(t.encode("cd", false) == V{14});               // single word: matched
    CHECK(t.encode("abcd", false) == V{5, 3});           // inside a word: not matched
    CHECK(t.decode(V{10, 4, 13}, {.skip_special_tokens = true}) == "ab");
    CHECK(t.is_special(10));
    CHECK_FALSE(t.is_special(14));
}

TEST_CASE("tokenizer files: clear errors naming the file", "[tokenizer]") {
    TempDir dir("tok_errors");
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir.file(name)) << text;
        return dir.file(name);
    };
    CHECK_THROWS_WITH(Tokenizer::load(dir.file("missing.json")), Catch::Contains("missing.json"));
    CHECK_THROWS_WITH(Tokenizer::load(dir.str()), Catch::Contains("no tokenizer.json"));
    const std::string bad = write("bad.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    CHECK_THROWS_WITH(Tokenizer::load(bad),
                      Catch::Contains("bad.json") && Catch::Contains("malformed JSON"));
    const std::string wp = write("wp.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
    CHECK_THROWS_WITH(Tokenizer::load(wp),
                      Catch::Contains("wp.json") && Catch::Contains("WordPiece"));
    json j = tiny_tokenizer();
    j["model"]["merges"].push_back("c zz");
    CHECK_THROWS_WITH(Tokenizer::from_json(j, nullptr, "m.json"),
                      Catch::Contains("m.json") && Catch::Contains("merge 3"));
    j = tiny_tokenizer();
    j["model"]["vocab"]["a"] = "zero";
    CHECK_THROWS_AS(Tokenizer::from_json(j, nullptr, "v.json"), FormatError);
    j = tiny_tokenizer();
    j["pre_tokenizer"] = {
        {"type", "Split"}, {"pattern", {{"Regex", "(("}}}, {"behavior", "Isolated"}};
    CHECK_THROWS_WITH(Tokenizer::from_json(j, nullptr, "r.json"), Catch::Contains("bad regex"));
    write("tokenizer.model", "x");
    CHECK_THROWS_WITH(Tokenizer::load(dir.str()), Catch::Contains("SentencePiece"));
}

TEST_CASE("GPT-2's vocab.json + merges.txt load like the tokenizer.json they make", "[tokenizer]") {
    TempDir dir("gpt2_files");
    std::ofstream(dir.file("vocab.json"))
        << R"({"h": 0, "i": 1, "hi": 2, "\u0120": 3, "\u0120hi": 4, "<|endoftext|>": 5})";
    std::ofstream(dir.file("merges.txt")) << "#version: 0.2\nh i\n\xC4\xA0 hi\n";
    const Tokenizer t = Tokenizer::load(dir.str());
    using V = std::vector<std::int32_t>;
    CHECK(t.encode("hi hi<|endoftext|>") == V{2, 4, 5});
    CHECK(t.decode(V{2, 4, 5}) == "hi hi<|endoftext|>");
    CHECK(t.is_special(5));
    std::ofstream(dir.file("merges.txt")) << "#version: 0.2\nh i x\n";
    CHECK_THROWS_WITH(Tokenizer::load(dir.str()), Catch::Contains("merges.txt:2"));
}

TEST_CASE("hand-written GPT-2 / Llama-3 / Qwen2 splits equal PCRE2's matches", "[tokenizer]") {
    const std::vector<std::pair<KnownSplit, std::string>> patterns = {
        {KnownSplit::Gpt2, kGpt2SplitPattern},
        {KnownSplit::Llama3,
         "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
         "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
        {KnownSplit::Qwen2, "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                            "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}};
    // Texts: the tokenizer corpus, then random strings over an alphabet chosen to hit every
    // branch (apostrophes and contraction letters, spaces of every kind, CR/LF, digits of
    // several scripts, letters, marks, symbols, emoji). Characters whose class changed between
    // Unicode 14 (PCRE2) and 15 (utf8proc) are left out.
    std::vector<std::string> texts;
    std::ifstream corpus(std::string(SLIMTUNE_SOURCE_DIR) +
                         "/tests/fixtures/tokenizer/corpus.jsonl");
    REQUIRE(corpus.good());
    for (std::string line; std::getline(corpus, line);)
        texts.push_back(json::parse(line)["text"].get<std::string>());
    const std::vector<std::string> alphabet = {"'",
                                               "'",
                                               "s",
                                               "S",
                                               "t",
                                               "r",
                                               "e",
                                               "v",
                                               "m",
                                               "l",
                                               "L",
                                               "d",
                                               "D",
                                               "x",
                                               " ",
                                               " ",
                                               " ",
                                               "\t",
                                               "\n",
                                               "\r",
                                               "\r\n",
                                               "\xC2\xA0",
                                               "\xE3\x80\x80",
                                               "\xEF\xBB\xBF",
                                               "\xC2\x85",
                                               "\xE2\x80\xA8",
                                               "0",
                                               "7",
                                               "\xD9\xA3",
                                               "\xEF\xBC\x95",
                                               "\xC2\xB2",
                                               "\xC3\xA9",
                                               "\xCC\x81",
                                               "\xE4\xB8\xAD",
                                               "\xED\x95\x9C",
                                               ".",
                                               ",",
                                               "!",
                                               "(",
                                               "-",
                                               "$",
                                               "\xE2\x82\xAC",
                                               "\xF0\x9F\x98\x80",
                                               "\xE2\x80\x8D",
                                               "_",
                                               "\xE2\x96\x81"};
    slimtune::Rng rng(1234);
    for (int i = 0; i < 3000; ++i) {
        std::string s;
        const auto len = 1 + rng.next_u64() % 24;
        for (std::uint64_t k = 0; k < len; ++k)
            s += alphabet[rng.next_u64() % alphabet.size()];
        texts.push_back(s);
    }
    for (const auto& [kind, pattern] : patterns) {
        REQUIRE(known_split_of(pattern) == kind);
        const Regex re(translate_js_pattern(pattern), "test");
        std::size_t differ = 0;
        for (const std::string& t : texts) {
            std::vector<std::pair<std::size_t, std::size_t>> a, b;
            re.for_each_match(t, [&](std::size_t x, std::size_t y) { a.emplace_back(x, y); });
            for_each_known_split(kind, t,
                                 [&](std::size_t x, std::size_t y) { b.emplace_back(x, y); });
            if (a != b && ++differ <= 3)
                UNSCOPED_INFO("pattern " << static_cast<int>(kind) << " differs on "
                                         << json(t).dump());
        }
        CHECK(differ == 0);
    }
    CHECK(known_split_of("\\s+") == KnownSplit::None);
}
