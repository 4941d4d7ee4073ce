// The shared defences of every reader of a user's file (issue 23): the JSON nesting bound, the
// regular-file open that cannot block, the size caps and the bounded line reader.
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

using namespace slimtune;

namespace {

std::string nested(size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

} // namespace

TEST_CASE("check_json_depth: 128 levels pass, 129 are refused before parsing", "[common]") {
    CHECK_NOTHROW(check_json_depth(nested(kMaxJsonDepth), "f.json"));
    CHECK_THROWS_WITH(check_json_depth(nested(kMaxJsonDepth + 1), "f.json"),
                      "f.json: JSON nested deeper than 128 levels (at byte 128)");
    // Objects count as arrays do; brackets inside strings (escaped quotes included) do not.
    CHECK_THROWS_AS(check_json_depth(std::string(200, '{'), "f"), FormatError);
    CHECK_NOTHROW(check_json_depth("{\"a\": \"" + std::string(500, '[') + "\\\"[[[\"}", "f"));
    // 100 k levels: the scan itself must not recurse.
    CHECK_THROWS_AS(check_json_depth(nested(100000), "f"), FormatError);
}

TEST_CASE("open_regular_file refuses FIFOs, devices and directories without blocking", "[common]") {
    test::TempDir tmp("input_files");
    const std::string fifo = tmp.file("config.json");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    // With no writer, a blocking open of a FIFO waits forever: this returning at all is the test.
    CHECK_THROWS_WITH(read_file(fifo, "config"), fifo + ": cannot open config: not a regular file");
    CHECK_THROWS_WITH(open_regular_file("/dev/zero", "config"),
                      "/dev/zero: cannot open config: not a regular file");
    CHECK_THROWS_WITH(read_file(tmp.str(), "config"),
                      tmp.str() + ": cannot open config: Is a directory");
    CHECK_THROWS_WITH(read_file(tmp.file("missing"), "config"),
                      tmp.file("missing") + ": cannot open config: No such file or directory");
}

TEST_CASE("read_file enforces its size cap", "[common]") {
    test::TempDir tmp("input_files");
    const std::string path = tmp.file("f.json");
    std::ofstream(path) << std::string(100, 'x');
    CHECK(read_file(path, "config", 100).size() == 100);
    CHECK_THROWS_WITH(read_file(path, "config", 99),
                      path + ": config is 100 bytes; expected at most 99");
}

TEST_CASE("read_line reads like std::getline and refuses an over-long line", "[common]") {
    std::istringstream in("a\n\nbcd\nlast");
    std::string line;
    std::vector<std::string> lines;
    for (int64_t n = 1; read_line(in, line, "f.jsonl", n); ++n)
        lines.push_back(line);
    CHECK(lines == std::vector<std::string>{"a", "", "bcd", "last"});
    std::istringstream ends_with_newline("x\n");
    CHECK(read_line(ends_with_newline, line, "f", 1));
    CHECK_FALSE(read_line(ends_with_newline, line, "f", 2));

    std::istringstream longer("ok\n" + std::string(11, 'y') + "\n");
    CHECK(read_line(longer, line, "f.jsonl", 1, 10));
    CHECK_THROWS_WITH(read_line(longer, line, "f.jsonl", 2, 10),
                      "f.jsonl:2: line is longer than 10 bytes (the most read as one record)");
}
