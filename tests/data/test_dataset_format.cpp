// Dataset formats: detection, shape errors naming the field, text slots, ShareGPT roles, and
// the training examples each format becomes (ids and loss masks computed by hand with the
// tiny_letters tokenizer: '<s>' = 1, '</s>' = 2, 'a'..'z' = 3..28, the Metaspace '▁' = 34,
// prepended to every encoded piece).
#include "common/error.h"
#include "data/dataset_format.h"
#include "data/examples.h"
#include "tests/data/examples_util.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>

using namespace slimtune;
using namespace slimtune::data;
using Catch::Matchers::Contains;
using Ids = std::vector<std::int32_t>;

namespace {

const Tokenizer& tiny() {
    static const Tokenizer tok = Tokenizer::load(std::string(SLIMTUNE_SOURCE_DIR) +
                                                 "/tests/fixtures/tokenizer/tiny_letters");
    return tok;
}

RecordError record_error(std::string_view line, const RecordOptions& o = {}) {
    try {
        parse_record(line, o);
    } catch (const RecordError& e) {
        return e;
    }
    FAIL("no RecordError for " << line);
    return {};
}

TokenExample example(std::string_view line, ExampleOptions o = {}) {
    if (!o.tokenizer)
        o.tokenizer = &tiny();
    return record_to_example(parse_record(line, o.record), o);
}

constexpr std::int32_t M = kIgnoreLabel;

// The text of the tokens an example learns.
std::string learned_text(const TokenExample& e) {
    Ids learned;
    for (std::int32_t x : e.labels)
        if (x != M)
            learned.push_back(x);
    return tiny().decode(learned);
}

} // namespace

TEST_CASE("dataset format: detection by keys, and named formats", "[data]") {
    CHECK(parse_record(R"({"text":"a"})", {}).format == DatasetFormat::text);
    CHECK(parse_record(R"({"prompt":"a","completion":"b"})", {}).format ==
          DatasetFormat::prompt_completion);
    CHECK(parse_record(R"({"instruction":"a","output":"b"})", {}).format == DatasetFormat::alpaca);
    CHECK(parse_record(R"({"messages":[{"role":"user","content":"a"}]})", {}).format ==
          DatasetFormat::messages);
    CHECK(parse_record(R"({"conversations":[{"from":"human","value":"a"}]})", {}).format ==
          DatasetFormat::sharegpt);
    CHECK(parse_record(R"({"input_ids":[1,2],"text":"x"})", {}).format == DatasetFormat::tokens);
    CHECK(parse_record(R"({"body":"a"})", {.text_field = "body"}).format == DatasetFormat::text);
    CHECK(parse_dataset_format("sharegpt") == DatasetFormat::sharegpt);
    CHECK_THROWS_WITH(parse_dataset_format("csv"), Contains("'csv'") && Contains("alpaca"));
    // A named format checks its own fields.
    const RecordError e = record_error(R"({"text":"a"})", {.format = DatasetFormat::alpaca});
    CHECK(e.field == "instruction");
}

TEST_CASE("dataset format: malformed lines name the field", "[data]") {
    CHECK(record_error("{not json").field.empty());
    // The parser's message locates the error without quoting the line (it may hold PII).
    CHECK_THAT(record_error(R"({"text": "mail a@b.org)").what,
               Contains("not valid JSON") && Contains("column") && !Contains("a@b.org"));
    CHECK_THAT(record_error("[1]").what, Contains("JSON object"));
    CHECK_THAT(record_error(R"({"body":"a"})").what, Contains("no 'input_ids'"));
    CHECK(record_error(R"({"text":3})").field == "text");
    CHECK(record_error(R"({"prompt":"a"})").field == "completion");
    CHECK(record_error(R"({"instruction":"a","input":1,"output":"b"})").field == "input");
    CHECK(record_error(R"({"messages":[]})").field == "messages");
    CHECK(record_error(R"({"messages":[{"role":"user"}]})").field == "messages[0].content");
    const RecordError role = record_error(R"({"conversations":[{"from":"narrator","value":"a"}]})");
    CHECK(role.field == "conversations[0].from");
    CHECK_THAT(role.what, Contains("narrator") && Contains("data.role_map"));
    CHECK(record_error(R"({"input_ids":[1,-3]})").field == "input_ids");
    CHECK(record_error(R"({"input_ids":[1,2],"labels":[1]})").field == "labels");
    CHECK(record_error(R"({"input_ids":[1,2],"labels":[-100,-7]})").field == "labels");
    // A null Alpaca input is treated as absent.
    CHECK(parse_record(R"({"instruction":"a","input":null,"output":"b"})", {})
              .value.contains("input") == false);
}

TEST_CASE("dataset format: text slots, record text and conversations", "[data]") {
    RecordOptions o;
    Record a = parse_record(R"({"instruction":"Add","input":"2 and 3","output":"5","id":7})", o);
    REQUIRE(text_slots(a, o).size() == 3);
    *text_slots(a, o)[1] = "two and three"; // stages rewrite through the slots
    CHECK(record_text(a, o) == "Add\n\ntwo and three\n\n5");
    CHECK(a.value["id"] == 7); // other keys ride along
    const auto am = record_messages(a, o);
    REQUIRE(am.size() == 2);
    CHECK(am[0].role == "user");
    CHECK(am[0].content == "Add\n\ntwo and three");
    CHECK(am[1].content == "5");

    const Record s = parse_record(R"({"conversations":[{"from":"system","value":"S"},)"
                                  R"({"from":"human","value":"Q"},{"from":"gpt","value":"A"},)"
                                  R"({"from":"bot","value":"B"}]})",
                                  {.role_map = {{"bot", "assistant"}}});
    const auto sm = record_messages(s, {.role_map = {{"bot", "assistant"}}});
    REQUIRE(sm.size() == 4);
    CHECK((sm[0].role == "system" && sm[1].role == "user" && sm[2].role == "assistant" &&
           sm[3].role == "assistant"));
    // A user map overrides the defaults.
    CHECK(record_messages(s, {.role_map = {{"bot", "assistant"}, {"gpt", "user"}}})[2].role ==
          "user");
    CHECK(record_text(s, {}) == "S\n\nQ\n\nA\n\nB");
    CHECK(text_slots(parse_record(R"({"input_ids":[1]})", {}), {}).empty());
}

TEST_CASE("dataset format: examples and loss masks per format", "[data]") {
    // text: BOS, ▁ a b, EOS; BOS is never a target.
    TokenExample t = example(R"({"text":"ab"})");
    CHECK(t.ids == Ids{1, 34, 3, 4, 2});
    CHECK(t.labels == Ids{M, 34, 3, 4, 2});
    // prompt/completion: only the completion and EOS are learned, unless train_on_all.
    TokenExample pc = example(R"({"prompt":"a","completion":"b"})");
    CHECK(pc.ids == Ids{1, 34, 3, 34, 4, 2});
    CHECK(pc.labels == Ids{M, M, M, 34, 4, 2});
    CHECK(example(R"({"prompt":"a","completion":"b"})", {.train_on_all = true}).labels == pc.ids);
    // alpaca (the alpaca template by default): only the output and EOS "▁ o k </s>".
    TokenExample al = example(R"({"instruction":"do","output":"ok"})");
    Ids learned;
    for (std::int32_t l : al.labels)
        if (l != M)
            learned.push_back(l);
    CHECK(learned == Ids{34, 17, 13, 2});
    CHECK(al.ids.size() > 20); // the instruction header is there, masked
    // tokens: labels as given, or every id with train_on_all.
    CHECK(example(R"({"input_ids":[5,6,7],"labels":[-100,6,7]})").labels == Ids{M, 6, 7});
    // (no labels means "learn every token")
    CHECK(example(R"({"input_ids":[5,6,7],"labels":[-100,6,7]})", {.train_on_all = true})
              .labels.empty());
    CHECK_THROWS_AS(example(R"({"input_ids":[5,60]})", {.vocab_size = 35}), RecordError);
    // sharegpt through chatml: the assistant turn and its end-of-turn are learned.
    ExampleOptions chat{.chat_template = chat_template_by_name("chatml", tiny().config())};
    TokenExample sg = example(
        R"({"conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"yo"}]})", chat);
    CHECK_THAT(learned_text(sg), Contains("yo") && !Contains("hi"));
    // No template for a messages record: a configuration error naming the way out.
    CHECK_THROWS_WITH(example(R"({"messages":[{"role":"user","content":"a"}]})"),
                      Contains("data.chat_template"));
}

TEST_CASE("dataset format: bad lines fail with file:line, or are skipped and counted", "[data]") {
    test::TempDir dir("formats");
    const std::string path = dir.file("mixed.jsonl");
    std::ofstream(path) << R"({"text":"ab"})"
                        << "\n\n"
                        << R"({"text":5})"
                        << "\n"
                        << R"({"prompt":"a","completion":"b"})"
                        << "\n"
                        << "{oops\n";
    const ExampleOptions o{.tokenizer = &tiny()};
    CHECK_THROWS_WITH(read_token_examples(path, o),
                      Contains("mixed.jsonl:3: field 'text' must be a string"));
    ExampleStats st;
    const auto ex = read_token_examples(path, {.tokenizer = &tiny(), .skip_bad_lines = true}, &st);
    CHECK(ex.size() == 2);
    CHECK(st.lines == 5);
    CHECK(st.examples == 2);
    CHECK(st.bad_lines == 2);
    CHECK_THAT(st.first_bad, Contains("mixed.jsonl:3"));
    CHECK(st.formats == std::map<std::string, std::int64_t>{{"prompt_completion", 1}, {"text", 1}});
    // for_each_record, which examples are read with: a record the sink refuses is a bad line too.
    std::vector<std::int64_t> lines;
    RecordReadStats rs;
    for_each_record(
        path, {}, true,
        [&](const Record& r, std::int64_t line) {
            if (r.format == DatasetFormat::prompt_completion)
                throw RecordError{"prompt", "not wanted here"};
            lines.push_back(line);
        },
        &rs);
    CHECK(lines == std::vector<std::int64_t>{1});
    CHECK((rs.lines == 5 && rs.records == 1 && rs.bad_lines == 3));
}

TEST_CASE("packing: over-long examples truncated or dropped, and counted", "[data]") {
    const std::vector<TokenExample> ex{{{1, 2, 3, 4, 5, 6}, {}}, {{7, 8, 9}, {}}, {{4}, {}}};
    PackingStats st;
    auto b = pack_examples(ex, {.seq_len = 4, .batch_size = 2}, &st);
    CHECK((st.truncated == 1 && st.dropped == 0 && st.skipped == 1 && st.tokens == 7));
    b = pack_examples(ex, {.seq_len = 4, .batch_size = 2, .drop_overlong = true}, &st);
    CHECK((st.truncated == 0 && st.dropped == 1 && st.skipped == 1 && st.tokens == 3));
    REQUIRE(b.size() == 1);
    CHECK(b[0].ids == Ids{7, 8, 9, 0});
}

TEST_CASE("dataset format: TRL's conversational prompt/completion", "[data]") {
    const char* line =
        R"({"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],)"
        R"( "completion": [{"role": "assistant", "content": "A"}]})";
    Record r = parse_record(line, {});
    CHECK(r.format == DatasetFormat::prompt_completion);
    CHECK(is_conversational_prompt_completion(r));
    CHECK(is_conversation(r));
    CHECK_FALSE(is_conversational_prompt_completion(
        parse_record(R"({"prompt":"a","completion":"b"})", {})));
    const auto m = record_messages(r, {});
    REQUIRE(m.size() == 3);
    CHECK((m[0].role == "system" && m[1].role == "user" && m[2].role == "assistant"));
    CHECK(m[2].content == "A");
    CHECK(record_text(r, {}) == "S\n\nQ\n\nA");
    *text_slots(r, {})[2] = "B"; // curation rewrites the turns' contents
    CHECK(r.value["completion"][0]["content"] == "B");
    // Both sides lists of turns, each with string role and content.
    CHECK(record_error(R"({"prompt":[{"role":"user","content":"q"}],"completion":"a"})").field ==
          "completion");
    CHECK(record_error(R"({"prompt":[],"completion":[]})").field == "prompt");
    CHECK(record_error(R"({"prompt":[{"role":"user"}],"completion":[]})").field ==
          "prompt[0].content");
    CHECK(
        record_error(R"({"prompt":[{"role":"user","content":"q"}],"completion":[{"content":"a"}]})")
            .field == "completion[0].role");
}

TEST_CASE("dataset format: TRL conversational examples learn only the completion", "[data]") {
    const ExampleOptions chat{.chat_template = chat_template_by_name("chatml", tiny().config())};
    // One user turn and the reply: the same ids and loss mask as the messages record.
    const TokenExample trl = example(
        R"({"prompt":[{"role":"user","content":"hi"}],"completion":[{"role":"assistant","content":"yo"}]})",
        chat);
    const TokenExample msg = example(
        R"({"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]})",
        chat);
    CHECK(trl.ids == msg.ids);
    CHECK(trl.labels == msg.labels);
    // A prompt holding an earlier reply: the messages form learns both replies, the
    // prompt/completion form only the completion's.
    const std::string turns =
        R"([{"role":"user","content":"hi"},{"role":"assistant","content":"ab"},)"
        R"({"role":"user","content":"more"}])";
    const TokenExample two = example(
        R"({"prompt":)" + turns + R"(,"completion":[{"role":"assistant","content":"cd"}]})", chat);
    const TokenExample both = example(R"({"messages":)" + turns.substr(0, turns.size() - 1) +
                                          R"(,{"role":"assistant","content":"cd"}]})",
                                      chat);
    CHECK(two.ids == both.ids);
    CHECK_THAT(learned_text(both), Contains("ab") && Contains("cd"));
    CHECK_THAT(learned_text(two), Contains("cd") && !Contains("ab") && !Contains("more"));
    // With train_on_all, every token.
    ExampleOptions all = chat;
    all.train_on_all = true;
    CHECK(
        example(R"({"prompt":)" + turns + R"(,"completion":[{"role":"assistant","content":"cd"}]})",
                all)
            .labels == two.ids);
    // Without a template, the way out is named.
    CHECK_THROWS_WITH(
        example(
            R"({"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"a"}]})"),
        Contains("data.chat_template"));
}
