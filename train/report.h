// `slimtune report DIR`: one self-contained HTML page about a run (no script, no network; the
// charts are inline SVG), and its loss curves as loss.svg for READMEs and model cards.
//
// DIR is a training run directory (metrics.jsonl, recipe.ini, adapter/ or model/ with
// slimtune_provenance.json) or a quickstart directory (quickstart.json, with the run in run/).
// The page shows the training and validation loss, the learning rate and tokens/s per step,
// the curation summary (documents in and out per stage, PII found, group representation before
// and after), the held-out evaluation and the export table when the quickstart measured them,
// and the provenance (manifest hash, curated file hash, recipe, versions). Every figure is
// printed from the files it comes from, in one format per kind of figure, so a test can compare
// the page with metrics.jsonl and the model card.
#pragma once

#include <string>
#include <vector>

namespace slimtune::train {

struct ReportFiles {
    std::string html, svg; // DIR/report.html, DIR/loss.svg
};

// Writes both files atomically. FormatError naming the file for a damaged input;
// ConfigError when DIR is neither kind of directory.
ReportFiles write_report(const std::string& dir);

// One line of a chart: its name, colour and points (x ascending).
struct ChartSeries {
    std::string name, colour;
    std::vector<std::pair<double, double>> points;
    bool markers = false; // dots at the points (sparse series such as evaluations)
};

// A line chart as an <svg> element (width x height pixels), axes labelled with rounded ticks.
// Each series is one <polyline data-series="NAME" data-points="N">. Non-finite points are left
// out. `id` becomes the element's id.
std::string svg_line_chart(const std::string& id,
                           const std::string& title,
                           const std::string& x_label,
                           const std::vector<ChartSeries>& series,
                           int width = 640,
                           int height = 280);

} // namespace slimtune::train
