// The run report: its SVG charts (one polyline point per finite value, ticks on round numbers)
// and report.html for a training run directory, with clear errors for anything else.
#include "common/error.h"
#include "tests/test_util.h"
#include "train/report.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <regex>

using namespace slimtune;
using namespace slimtune::train;

namespace {

void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    return {std::istreambuf_iterator<char>(in), {}};
}

// The number of "x,y" pairs in the points attribute of the polyline of `series`.
size_t drawn_points(const std::string& svg, const std::string& series) {
    const std::regex re("data-series=\"" + series +
                        "\" data-points=\"([0-9]+)\"[^>]*points=\"([^\"]*)\"");
    std::smatch m;
    REQUIRE(std::regex_search(svg, m, re));
    const std::string pts = m[2];
    const size_t n =
        pts.empty() ? 0 : 1 + static_cast<size_t>(std::count(pts.begin(), pts.end(), ' '));
    CHECK(std::stoul(m[1]) == n);
    return n;
}

} // namespace

TEST_CASE("a chart draws every finite point and labels round ticks", "[report]") {
    const ChartSeries loss{"loss", "#000", {{1, 4.0}, {2, 3.0}, {3, NAN}, {4, 2.5}, {5, INFINITY}}};
    const ChartSeries eval{"eval", "#f00", {{2, 3.5}, {4, 2.75}}, true};
    const std::string svg = svg_line_chart("c", "Loss <&>", "step", {loss, eval}, 640, 280);
    CHECK(drawn_points(svg, "loss") == 3);
    CHECK(drawn_points(svg, "eval") == 2);
    CHECK(svg.find("id=\"c\"") != std::string::npos);
    CHECK(svg.find("Loss &lt;&amp;&gt;") != std::string::npos); // the title is escaped
    // Markers for the sparse series only.
    CHECK(std::count(svg.begin(), svg.end(), '<') > 0);
    size_t circles = 0;
    for (size_t p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1))
        ++circles;
    CHECK(circles == 2);
    // y from 2.5 to 4 (padded 5 %): ticks at multiples of 0.5 (>text-anchor="end">2.5</text>).
    for (const char* tick : {">2.5<", ">3<", ">3.5<", ">4<"})
        CHECK(svg.find(tick) != std::string::npos);
    // x ticks 1..4 under the plot: x = 5 has no finite value, so it does not widen the axis.
    for (const char* tick : {">1<", ">2<", ">3<", ">4<"})
        CHECK(svg.find(tick) != std::string::npos);
    CHECK(svg.find(">5<") == std::string::npos);
}

TEST_CASE("a chart of one value or of nothing still draws", "[report]") {
    const std::string flat =
        svg_line_chart("f", "flat", "step", {{"lr", "#000", {{1, 0.5}, {2, 0.5}}}});
    CHECK(drawn_points(flat, "lr") == 2);
    CHECK(flat.find("nan") == std::string::npos);
    const std::string empty = svg_line_chart("e", "empty", "step", {{"lr", "#000", {}}});
    CHECK(drawn_points(empty, "lr") == 0);
}

TEST_CASE("report.html of a training run shows its metrics", "[report]") {
    test::TempDir dir("report_run");
    write(dir.file("metrics.jsonl"),
          "{\"step\":1,\"loss\":5.25,\"lr\":0.001,\"tokens\":100,\"tokens_per_s\":50}\n"
          "{\"step\":2,\"loss\":4.125,\"lr\":0.002,\"tokens\":100,\"tokens_per_s\":150}\n"
          "{\"step\":2,\"eval_loss\":4.5,\"eval_ppl\":90.0,\"eval_tokens\":10}\n");
    write(dir.file("recipe.ini"), "[train]\nmode = lora # <b>\n");
    const ReportFiles f = write_report(dir.path);
    const std::string html = read(f.html);
    CHECK(html.find("data-figure=\"first_train_loss\">5.2500<") != std::string::npos);
    CHECK(html.find("data-figure=\"last_train_loss\">4.1250<") != std::string::npos);
    CHECK(html.find("data-figure=\"last_eval_loss\">4.5000<") != std::string::npos);
    CHECK(html.find("data-figure=\"mean_tokens_per_s\">100<") != std::string::npos);
    CHECK(html.find("mode = lora # &lt;b&gt;") != std::string::npos); // the recipe, escaped
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("http://") == html.find("http://www.w3.org/2000/svg")); // no external URL
    CHECK(drawn_points(html, "training loss") == 2);
    CHECK(drawn_points(html, "validation loss") == 1);
    const std::string svg = read(f.svg);
    CHECK(svg.rfind("<?xml", 0) == 0);
    CHECK(drawn_points(svg, "training loss") == 2);
}

TEST_CASE("report refuses what is not a run, naming the file", "[report]") {
    test::TempDir dir("report_bad");
    CHECK_THROWS_WITH(write_report(dir.path),
                      Catch::Contains(dir.path) && Catch::Contains("not a training run directory"));
    write(dir.file("metrics.jsonl"), "{\"step\":1,\"loss\":2}\n[1,2\n");
    CHECK_THROWS_AS(write_report(dir.path), FormatError);
    CHECK_THROWS_WITH(write_report(dir.path), Catch::Contains("metrics.jsonl:2"));
    write(dir.file("metrics.jsonl"), "{\"step\":1,\"loss\":2}\n");
    write(dir.file("quickstart.json"), "{\"heldout\": [");
    CHECK_THROWS_WITH(write_report(dir.path), Catch::Contains("quickstart.json"));
}
