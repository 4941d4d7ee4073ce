// The run report: gather what the run directory holds, then print it as HTML sections.
#include "train/report.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "train/provenance.h"
#include "train/run_dir.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---- reading ----
json read_json(const fs::path& path, std::string_view what) {
    const std::string text = read_file(path, what);
    check_json_depth(text, path.string());
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw FormatError(path.string() + ": " + std::string(what) +
                          " is not valid JSON: " + e.what());
    }
}

json read_json_if_present(const fs::path& path, std::string_view what) {
    std::error_code ec;
    return fs::exists(path, ec) ? read_json(path, what) : json();
}

// The number at `key` of a metrics record, NaN when absent or not a number.
double number(const json& record, const char* key) {
    const auto it = record.find(key);
    return it != record.end() && it->is_number() ? it->get<double>()
                                                 : std::numeric_limits<double>::quiet_NaN();
}

struct Metrics {
    std::vector<json> train, eval; // records with "loss", records with "eval_loss"
};

Metrics read_metrics(const fs::path& path) {
    std::ifstream in = open_regular_file(path, "metrics file");
    Metrics m;
    std::string line;
    for (int64_t n = 1; read_line(in, line, path.string(), n); ++n) {
        if (line.empty())
            continue;
        check_json_depth(line, path.string() + ":" + std::to_string(n));
        json r = json::parse(line, nullptr, false);
        if (!r.is_object() || !r.contains("step"))
            throw FormatError(path.string() + ":" + std::to_string(n) +
                              ": not a metrics record (a JSON object with a step)");
        if (r.contains("eval_loss"))
            m.eval.push_back(std::move(r));
        else if (r.contains("loss"))
            m.train.push_back(std::move(r));
    }
    return m;
}

// The adapter/ or model/ provenance of a run, null when the run wrote neither yet.
json run_provenance(const fs::path& run) {
    for (const char* sub : {kAdapterDir, kModelDir})
        if (json p = read_provenance((run / sub).string()); !p.is_null())
            return p;
    return json();
}

// Everything the page shows.
struct Inputs {
    fs::path dir, run;
    Metrics metrics;
    json provenance, quickstart, curation; // null when absent
    std::string recipe;
};

Inputs gather(const std::string& dir) {
    Inputs in;
    in.dir = dir;
    std::error_code ec;
    in.quickstart = read_json_if_present(in.dir / "quickstart.json", "quickstart summary");
    in.run = in.quickstart.is_null() ? in.dir : in.dir / "run";
    if (!fs::exists(in.run / "metrics.jsonl", ec))
        throw ConfigError(dir + ": not a training run directory (no metrics.jsonl) nor a "
                                "quickstart directory (no quickstart.json)");
    in.metrics = read_metrics(in.run / "metrics.jsonl");
    in.provenance = run_provenance(in.run);
    if (fs::exists(in.run / "recipe.ini", ec))
        in.recipe = read_file(in.run / "recipe.ini", "recipe");
    // The curation report: the quickstart's, else the one beside the manifest the run names.
    fs::path curation;
    if (!in.quickstart.is_null())
        curation = in.dir / "curated" / "report.json";
    else if (in.provenance.is_object() && in.provenance["dataset"].contains("manifest"))
        curation = fs::path(in.provenance["dataset"]["manifest"].get<std::string>()).parent_path() /
                   "report.json";
    if (!curation.empty())
        in.curation = read_json_if_present(curation, "curation report");
    return in;
}

// ---- formatting ----
std::string escape(std::string_view s) {
    std::string out;
    for (const char c : s)
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    return out;
}

// Absent figures: NaN (a double: value(key, NAN) would read the JSON number as a float).
constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

std::string fixed(double v, int digits) {
    return fixed_digits(v, digits, "–");
}
// A relative change as a signed percentage: +0.02 %.
std::string percent(double fraction, int digits) {
    return std::isfinite(fraction)
               ? (fraction >= 0 ? "+" : "") + fixed(100.0 * fraction, digits) + " %"
               : "–";
}
std::string integer(const json& v) {
    return v.is_number() ? std::to_string(v.get<int64_t>()) : "–";
}
// A table cell holding a figure the test reads back: data-figure="NAME".
std::string figure(const std::string& name, const std::string& text) {
    return "<td data-figure=\"" + escape(name) + "\">" + escape(text) + "</td>";
}

// Rounded tick values covering [lo, hi]: about five, at 1, 2 or 5 times a power of ten.
std::vector<double> ticks(double lo, double hi) {
    const double span = hi - lo;
    const double raw = span / 5.0;
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (const double m : {1.0, 2.0, 5.0, 10.0})
        if (raw <= m * mag) {
            step = m * mag;
            break;
        }
    std::vector<double> t;
    for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
        t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

std::string tick_label(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", v);
    return b;
}

} // namespace

std::string svg_line_chart(const std::string& id,
                           const std::string& title,
                           const std::string& x_label,
                           const std::vector<ChartSeries>& series,
                           int width,
                           int height) {
    // Data bounds over every finite point.
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (const ChartSeries& s : series)
        for (const auto& [x, y] : s.points)
            if (std::isfinite(x) && std::isfinite(y)) {
                x0 = std::min(x0, x), x1 = std::max(x1, x);
                y0 = std::min(y0, y), y1 = std::max(y1, y);
            }
    if (!std::isfinite(x0))
        x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    if (x1 == x0)
        x1 = x0 + 1;
    if (y1 == y0)
        y0 -= std::max(1e-12, std::abs(y0) * 0.05), y1 += std::max(1e-12, std::abs(y1) * 0.05);
    const double pad = (y1 - y0) * 0.05;
    y0 -= pad, y1 += pad;
    // Plot area inside margins for the tick labels, the title and the legend.
    const double left = 64, right = width - 16.0, top = 40, bottom = height - 40.0;
    auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * (right - left); };
    auto py = [&](double y) { return bottom - (y - y0) / (y1 - y0) * (bottom - top); };

    std::ostringstream o;
    o << "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" << escape(id) << "\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<title>" << escape(title) << "</title>\n"
      << "<text x=\"" << left << "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">"
      << escape(title) << "</text>\n";
    o << "<g stroke=\"#ddd\">\n";
    for (const double t : ticks(y0, y1))
        o << "<line x1=\"" << left << "\" x2=\"" << right << "\" y1=\"" << py(t) << "\" y2=\""
          << py(t) << "\"/>\n";
    o << "</g>\n<g fill=\"#444\">\n";
    for (const double t : ticks(y0, y1))
        o << "<text x=\"" << left - 6 << "\" y=\"" << py(t) + 4 << "\" text-anchor=\"end\">"
          << tick_label(t) << "</text>\n";
    for (const double t : ticks(x0, x1))
        o << "<text x=\"" << px(t) << "\" y=\"" << bottom + 16 << "\" text-anchor=\"middle\">"
          << tick_label(t) << "</text>\n";
    o << "<text x=\"" << (left + right) / 2 << "\" y=\"" << height - 6
      << "\" text-anchor=\"middle\">" << escape(x_label) << "</text>\n</g>\n";
    o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << right - left << "\" height=\""
      << bottom - top << "\" fill=\"none\" stroke=\"#888\"/>\n";
    double legend_x = left + 160;
    for (const ChartSeries& s : series) {
        size_t n = 0;
        std::ostringstream pts;
        for (const auto& [x, y] : s.points)
            if (std::isfinite(x) && std::isfinite(y))
                pts << (n++ ? " " : "") << px(x) << "," << py(y);
        o << "<polyline class=\"series\" data-series=\"" << escape(s.name) << "\" data-points=\""
          << n << "\" fill=\"none\" stroke=\"" << s.colour << "\" stroke-width=\"1.5\" points=\""
          << pts.str() << "\"/>\n";
        if (s.markers)
            for (const auto& [x, y] : s.points)
                if (std::isfinite(x) && std::isfinite(y))
                    o << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"3\" fill=\""
                      << s.colour << "\"/>\n";
        o << "<rect x=\"" << legend_x << "\" y=\"8\" width=\"12\" height=\"3\" fill=\"" << s.colour
          << "\"/><text x=\"" << legend_x + 16 << "\" y=\"13\">" << escape(s.name) << "</text>\n";
        legend_x += 30 + 7.0 * static_cast<double>(s.name.size());
    }
    o << "</svg>\n";
    return o.str();
}

namespace {

ChartSeries series_of(const std::vector<json>& records,
                      const char* key,
                      std::string name,
                      std::string colour,
                      bool markers = false) {
    ChartSeries s{std::move(name), std::move(colour), {}, markers};
    for (const json& r : records)
        s.points.emplace_back(number(r, "step"), number(r, key));
    return s;
}

std::string loss_chart(const Metrics& m) {
    return svg_line_chart("chart-loss", "Loss", "step",
                          {series_of(m.train, "loss", "training loss", "#1f77b4"),
                           series_of(m.eval, "eval_loss", "validation loss", "#d62728", true)});
}

// ---- sections ----
std::string summary_section(const Inputs& in) {
    std::ostringstream o;
    const Metrics& m = in.metrics;
    o << "<h2>Training</h2>\n<table>\n";
    o << "<tr><th>steps logged</th>" << figure("train_records", std::to_string(m.train.size()))
      << "</tr>\n";
    if (!m.train.empty()) {
        o << "<tr><th>last step</th>" << figure("last_step", integer(m.train.back()["step"]))
          << "</tr>\n";
        o << "<tr><th>first training loss</th>"
          << figure("first_train_loss", fixed(number(m.train.front(), "loss"), 4)) << "</tr>\n";
        o << "<tr><th>last training loss</th>"
          << figure("last_train_loss", fixed(number(m.train.back(), "loss"), 4)) << "</tr>\n";
        // Records are single steps (log.every thins them): a mean over them, not a total.
        double tps = 0;
        for (const json& r : m.train)
            tps += std::isfinite(number(r, "tokens_per_s")) ? number(r, "tokens_per_s") : 0;
        o << "<tr><th>mean tokens/s</th>"
          << figure("mean_tokens_per_s", fixed(tps / static_cast<double>(m.train.size()), 0))
          << "</tr>\n";
    }
    if (!m.eval.empty())
        o << "<tr><th>last validation loss</th>"
          << figure("last_eval_loss", fixed(number(m.eval.back(), "eval_loss"), 4)) << "</tr>\n";
    o << "</table>\n";
    o << loss_chart(m);
    o << svg_line_chart("chart-lr", "Learning rate", "step",
                        {series_of(m.train, "lr", "learning rate", "#2ca02c")});
    o << svg_line_chart("chart-tokens", "Tokens per second", "step",
                        {series_of(m.train, "tokens_per_s", "tokens/s", "#9467bd")});
    return o.str();
}

std::string curation_section(const json& c) {
    if (!c.is_object())
        return "";
    std::ostringstream o;
    o << "<h2>Curation</h2>\n<table>\n<tr><th>documents in</th>"
      << figure("curation_in", integer(c["totals"]["documents_in"])) << "</tr>\n"
      << "<tr><th>documents out</th>"
      << figure("curation_out", integer(c["totals"]["documents_out"])) << "</tr>\n</table>\n";
    o << "<table id=\"curation-stages\">\n<tr><th>stage</th><th>in</th><th>kept</th>"
         "<th>modified</th><th>dropped</th><th>reasons</th></tr>\n";
    for (const json& s : c["stages"]) {
        if (!s.value("enabled", true))
            continue;
        std::string reasons;
        for (const char* k : {"drop_reasons", "changes"})
            if (s.contains(k))
                for (const auto& [why, n] : s[k].items())
                    reasons += (reasons.empty() ? "" : ", ") + why + " " + integer(n);
        o << "<tr><td>" << escape(s.value("name", "")) << "</td><td>" << integer(s["in"])
          << "</td><td>" << integer(s["kept"]) << "</td><td>" << integer(s["modified"])
          << "</td><td>" << integer(s["dropped"]) << "</td><td>" << escape(reasons)
          << "</td></tr>\n";
    }
    o << "</table>\n";
    if (c.contains("pii")) {
        o << "<h3>PII redacted</h3>\n<table>\n<tr><th>documents</th>"
          << figure("pii_documents", integer(c["pii"]["documents"])) << "</tr>\n";
        for (const auto& [type, n] : c["pii"]["spans_by_type"].items())
            o << "<tr><th>" << escape(type) << "</th>" << figure("pii_" + type, integer(n))
              << "</tr>\n";
        o << "</table>\n";
    }
    const json& bias = c.contains("bias") ? c["bias"] : json();
    if (bias.is_object() && bias["before"].contains("groups")) {
        o << "<h3>Representation before and after curation</h3>\n<table>\n"
             "<tr><th>group</th><th>documents before balancing</th><th>after</th></tr>\n";
        const json& before = bias["before"]["groups"];
        const json& after = bias["after"]["groups"];
        for (size_t i = 0; i < before.size() && i < after.size(); ++i) {
            if (before[i].value("documents", 0) == 0 && after[i].value("documents", 0) == 0)
                continue;
            o << "<tr><td>"
              << escape(before[i].value("axis", "") + "/" + before[i].value("group", ""))
              << "</td><td>" << integer(before[i]["documents"]) << "</td><td>"
              << integer(after[i]["documents"]) << "</td></tr>\n";
        }
        o << "</table>\n";
    }
    return o.str();
}

std::string evaluation_section(const json& q) {
    if (!q.is_object() || !q.contains("heldout"))
        return "";
    std::ostringstream o;
    o << "<h2>Held-out evaluation</h2>\n<table id=\"evaluation\">\n<tr><th>text</th>"
         "<th>tokens</th><th>base perplexity</th><th>fine-tuned perplexity</th><th>change</th>"
         "</tr>\n";
    int i = 0;
    for (const json& s : q["heldout"]) {
        const std::string k = "heldout" + std::to_string(i++);
        o << "<tr><td>" << escape(s.value("name", "")) << "</td>"
          << figure(k + "_tokens", integer(s["tokens"]))
          << figure(k + "_base", fixed(s.value("base_perplexity", kNone), 2))
          << figure(k + "_tuned", fixed(s.value("tuned_perplexity", kNone), 2))
          << figure(k + "_change", percent(s.value("change", kNone), 1)) << "</tr>\n";
    }
    o << "</table>\n";
    return o.str();
}

std::string export_section(const json& q) {
    if (!q.is_object() || !q.contains("exports"))
        return "";
    const json& e = q["exports"];
    const double f32 = e.value("f32_perplexity", kNone);
    std::ostringstream o;
    o << "<h2>Exports</h2>\n<table id=\"exports\">\n<tr><th>file</th><th>type</th><th>size</th>"
         "<th>perplexity</th><th>change against float32</th></tr>\n"
      << "<tr><td>(float32 in memory)</td><td>f32</td><td></td>" << figure("ppl_f32", fixed(f32, 4))
      << "<td></td></tr>\n";
    for (const json& f : e["files"]) {
        const std::string type = f.value("type", "");
        const double ppl = f["perplexity"].is_number() ? f["perplexity"].get<double>() : kNone;
        o << "<tr><td>" << escape(f.value("file", "")) << "</td><td>" << escape(type) << "</td>"
          << figure("bytes_" + type, mebibytes(f.value("bytes", std::uint64_t{0})))
          << figure("ppl_" + type, fixed(ppl, 4))
          << figure("ppl_change_" + type, percent(ppl / f32 - 1.0, 2)) << "</tr>\n";
    }
    o << "</table>\n";
    if (q.contains("samples") && !q["samples"].empty()) {
        // llama.cpp's column only where it generated too (its library was found).
        const bool llama_cpp = q["samples"].front().value("llama_cpp", json()).is_string();
        o << "<h3>Samples (greedy)</h3>\n<table id=\"samples\">\n<tr><th>prompt</th>"
             "<th>base model</th><th>fine-tuned (Q4_K_M GGUF, slimtune)</th>"
          << (llama_cpp ? "<th>fine-tuned (the same file, llama.cpp)</th>" : "") << "</tr>\n";
        for (size_t i = 0; i < q["samples"].size(); ++i) {
            const json& s = q["samples"][i];
            const std::string id = "sample" + std::to_string(i);
            o << "<tr><td>" << escape(s.value("prompt", "")) << "</td>"
              << figure(id + "_base", s.value("base", ""))
              << figure(id + "_tuned", s.value("fine_tuned", ""));
            if (llama_cpp)
                o << figure(id + "_llama_cpp", s.value("llama_cpp", json()).is_string()
                                                   ? s["llama_cpp"].get<std::string>()
                                                   : std::string());
            o << "</tr>\n";
        }
        o << "</table>\n";
    }
    return o.str();
}

std::string provenance_section(const Inputs& in) {
    std::ostringstream o;
    o << "<h2>Provenance</h2>\n<table>\n";
    const json& p = in.provenance;
    if (p.is_object()) {
        const json& d = p.value("dataset", json::object());
        o << "<tr><th>base model</th><td>" << escape(p.value("base_model", "")) << "</td></tr>\n"
          << "<tr><th>dataset manifest SHA-256</th>"
          << figure("manifest_sha256", d.value("manifest_sha256", "")) << "</tr>\n"
          << "<tr><th>curated file SHA-256</th>"
          << figure("curated_sha256", d.value("curated_sha256", "")) << "</tr>\n"
          << "<tr><th>curated by slimtune</th><td>" << escape(d.value("curated_by", ""))
          << "</td></tr>\n";
    } else {
        o << "<tr><td>the run has not written its adapter or model yet</td></tr>\n";
    }
    o << "<tr><th>report by slimtune</th><td>" << SLIMTUNE_VERSION_STRING << "</td></tr>\n"
      << "</table>\n";
    if (!in.recipe.empty())
        o << "<h3>Recipe</h3>\n<pre>" << escape(in.recipe) << "</pre>\n";
    return o.str();
}

std::string page(const Inputs& in) {
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<title>slimtune report: " << escape(in.dir.string()) << "</title>\n"
      << "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1em}td,th{border:1px solid #ccc;"
         "padding:2px 8px;text-align:left}svg{display:block;margin:1em 0}"
         "pre{background:#f6f6f6;padding:1em;overflow:auto}</style>\n</head>\n<body>\n"
      << "<h1>slimtune run report</h1>\n<p>" << escape(in.dir.string()) << "</p>\n"
      << evaluation_section(in.quickstart) << summary_section(in) << curation_section(in.curation)
      << export_section(in.quickstart) << provenance_section(in) << "</body>\n</html>\n";
    return o.str();
}

} // namespace

ReportFiles write_report(const std::string& dir) {
    const Inputs in = gather(dir);
    ReportFiles files{(in.dir / "report.html").string(), (in.dir / "loss.svg").string()};
    const std::string html = page(in);
    write_file_atomic(files.html, [&](std::ostream& os) { os << html; });
    const std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + loss_chart(in.metrics);
    write_file_atomic(files.svg, [&](std::ostream& os) { os << svg; });
    return files;
}

} // namespace slimtune::train
