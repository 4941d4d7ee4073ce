// BPE training: the merge order on a hand-worked corpus, determinism, stopping rules, the
// written tokenizer loading back, and errors. (That transformers.js loads the output and
// encodes identically is checked live by tests/check_trained_tokenizer.sh.)
#include "common/error.h"
#include "data/tokenizer/bpe_trainer.h"
#include "data/tokenizer/tokenizer.h"

#include <catch2/catch.hpp>

using namespace slimtune;
using namespace slimtune::data;
using nlohmann::json;

namespace {

BpeTrainerOptions small(std::size_t vocab) {
    BpeTrainerOptions o;
    o.vocab_size = vocab;
    o.min_frequency = 1;
    o.pre_tokenizer = "gpt2";
    o.special_tokens = {"<|endoftext|>"};
    return o;
}

} // namespace

TEST_CASE("BPE training merges the most frequent pair first, smaller ids on ties", "[bpe_train]") {
    // Pieces (GPT-2 split): "low"x5, " low"x2... worked by hand below.
    BpeTrainer t(small(1 + 256 + 4));
    for (int i = 0; i < 5; ++i)
        t.add_text("lowest");
    for (int i = 0; i < 3; ++i)
        t.add_text("slow");
    const json tj = t.train();
    const auto& merges = tj["model"]["merges"];
    REQUIRE(merges.size() == 4);
    // Counts: lo 8, ow 8, we 5, es 5, st 5, sl 3. "l"+"o" and "o"+"w" tie at 8: the pair with
    // the smaller left id wins ('l' < 'o'). Then lo+w (8), then e+s / s+t / low+e tie at 5:
    // 'e' is the smallest left id. Then low+es and es+t tie at 5: "low" (id 258) is older
    // than "es" (259).
    CHECK(merges[0] == json::array({"l", "o"}));
    CHECK(merges[1] == json::array({"lo", "w"}));
    CHECK(merges[2] == json::array({"e", "s"}));
    CHECK(merges[3] == json::array({"low", "es"}));
    CHECK(tj["model"]["vocab"]["<|endoftext|>"] == 0);
    CHECK(tj["model"]["vocab"].size() == 261);
    CHECK(t.stats().unique_pieces == 2);
    CHECK(t.stats().pieces == 8);

    const Tokenizer tok = Tokenizer::from_json(tj, t.tokenizer_config(), "trained");
    const auto lowes = tok.token_to_id("lowes"), t_id = tok.token_to_id("t");
    REQUIRE(lowes);
    REQUIRE(t_id);
    CHECK(tok.encode("lowest") == std::vector<std::int32_t>{*lowes, *t_id});
    CHECK(tok.decode(tok.encode("slow lowest<|endoftext|>")) == "slow lowest<|endoftext|>");
    CHECK(tok.encode("<|endoftext|>") == std::vector<std::int32_t>{0});
}

TEST_CASE("BPE training is deterministic and honours min_frequency and max_token_chars",
          "[bpe_train]") {
    const std::vector<std::string> docs = {
        "The patient was discharged on day 3 with oral antibiotics.",
        "Discharge summary: patient stable, antibiotics continued for 7 days.",
        "Patient's blood pressure 120/80; heart rate 72 bpm. 日本語 テキスト",
        "  indented   text\twith\ttabs\r\nand CRLF  "};
    auto run = [&](BpeTrainerOptions o) {
        BpeTrainer t(o);
        for (int rep = 0; rep < 3; ++rep)
            for (const auto& d : docs)
                t.add_text(d);
        return std::make_pair(t.train(), t.stats());
    };
    for (const std::string pre : {"qwen2", "llama3", "gpt2", "smollm"}) {
        BpeTrainerOptions o = small(400);
        o.pre_tokenizer = pre;
        const auto [a, sa] = run(o);
        const auto [b, sb] = run(o);
        CHECK(a.dump() == b.dump());
        CHECK(sa.vocab_size == a["model"]["vocab"].size());
        // Every document round-trips through the trained tokenizer.
        const Tokenizer tok = Tokenizer::from_json(a, nullptr, pre);
        for (const auto& d : docs)
            CHECK(tok.decode(tok.encode(d), {.clean_up_tokenization_spaces = false}) == d);
    }
    // Each document is added 3 times: with min_frequency 1 training runs until every piece is
    // one token; with 4 it stops once only pairs private to one piece (seen 3 times) remain.
    BpeTrainerOptions o = small(100000);
    auto [tj, st] = run(o);
    CHECK_FALSE(st.stopped_by_frequency);
    o.min_frequency = 4;
    auto [tj4, st4] = run(o);
    CHECK(st4.stopped_by_frequency);
    CHECK(st4.merges > 0);
    CHECK(st4.merges < st.merges);
    o.min_frequency = 1;
    o.max_token_chars = 3;
    auto [tj3, st3] = run(o);
    for (const auto& [tok, id] : tj3["model"]["vocab"].items())
        if (id.get<int>() > 0) // skip the special token
            CHECK(std::string(tok).size() <= 3 * 4);
    std::size_t longest = 0;
    for (const auto& m : tj3["model"]["merges"]) {
        const std::string merged = m[0].get<std::string>() + m[1].get<std::string>();
        std::size_t chars = 0;
        for (char c : merged)
            chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        longest = std::max(longest, chars);
    }
    CHECK(longest == 3);
}

TEST_CASE("BPE training: special tokens are never learned, bad options are errors", "[bpe_train]") {
    BpeTrainer t(small(300));
    t.add_text("<|endoftext|><|endoftext|>ab<|endoftext|>ab");
    const json tj = t.train();
    for (const auto& m : tj["model"]["merges"])
        CHECK(m[0].get<std::string>().find('|') == std::string::npos);
    CHECK(t.stats().pieces == 2);

    BpeTrainerOptions o = small(200);
    CHECK_THROWS_WITH(BpeTrainer(o), Catch::Contains("minimum 257"));
    o = small(300);
    o.pre_tokenizer = "bert";
    CHECK_THROWS_WITH(BpeTrainer(o), Catch::Contains("unknown pre-tokenizer 'bert'"));
    o = small(300);
    o.special_tokens = {"<a>", "<a>"};
    CHECK_THROWS_AS(BpeTrainer(o), ConfigError);
}
