"""Checks a quickstart's report.html as Chromium rendered it (its --dump-dom output) against the
files the figures come from: metrics.jsonl (chart points, losses), quickstart.json (held-out
table, samples) and the GGUF model card (sizes, perplexities, change against float32).

    check_report.py QUICKSTART_DIR DOM_FILE
"""
import html.parser
import json
import math
import os
import re
import sys


class Page(html.parser.HTMLParser):
    """The figures (data-figure cells) and the chart polylines of a page."""

    def __init__(self):
        super().__init__()
        self.figures, self.series, self.svgs = {}, {}, []
        self._figure, self._svg = None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg" and "id" in a:
            self._svg = a["id"]
            self.svgs.append(a["id"])
        if tag == "polyline" and "data-series" in a:
            points = a.get("points", "").split()
            self.series[(self._svg, a["data-series"])] = (int(a["data-points"]), len(points))
        if tag == "td" and "data-figure" in a:
            self._figure = a["data-figure"]
            self.figures[self._figure] = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self._figure = None

    def handle_data(self, data):
        if self._figure:
            self.figures[self._figure] += data


def fail(what):
    print("check_report: " + what, file=sys.stderr)
    sys.exit(1)


def expect(page, name, want):
    got = page.figures.get(name)
    if got != want:
        fail(f"figure {name}: page shows {got!r}, the source says {want!r}")


def main():
    run_dir, dom_file = sys.argv[1], sys.argv[2]
    page = Page()
    page.feed(open(dom_file, encoding="utf-8").read())

    # Charts: one point per metrics record.
    records = [json.loads(l) for l in open(os.path.join(run_dir, "run", "metrics.jsonl")) if l.strip()]
    train = [r for r in records if "loss" in r]
    evals = [r for r in records if "eval_loss" in r]
    for svg in ("chart-loss", "chart-lr", "chart-tokens"):
        if svg not in page.svgs:
            fail(f"chart {svg} missing; charts: {page.svgs}")
    for key, want in {("chart-loss", "training loss"): len(train),
                      ("chart-loss", "validation loss"): len(evals),
                      ("chart-lr", "learning rate"): len(train),
                      ("chart-tokens", "tokens/s"): len(train)}.items():
        declared, drawn = page.series.get(key, (None, None))
        if declared != want or drawn != want:
            fail(f"{key}: {declared} points declared, {drawn} drawn; metrics.jsonl has {want}")
    if not train or not evals:
        fail("metrics.jsonl has no training or no evaluation record")
    expect(page, "train_records", str(len(train)))
    expect(page, "first_train_loss", f"{train[0]['loss']:.4f}")
    expect(page, "last_train_loss", f"{train[-1]['loss']:.4f}")
    expect(page, "last_eval_loss", f"{evals[-1]['eval_loss']:.4f}")

    # Held-out table: quickstart.json.
    q = json.load(open(os.path.join(run_dir, "quickstart.json")))
    for i, s in enumerate(q["heldout"]):
        expect(page, f"heldout{i}_base", f"{s['base_perplexity']:.2f}")
        expect(page, f"heldout{i}_tuned", f"{s['tuned_perplexity']:.2f}")
        expect(page, f"heldout{i}_tokens", str(s["tokens"]))
        if not math.isclose(s["change"], s["tuned_perplexity"] / s["base_perplexity"] - 1, rel_tol=1e-9):
            fail(f"quickstart.json: change of {s['name']} is not tuned/base - 1")

    # Export table: the model card's rows (| `file` | type | size | perplexity | Δ vs F32 |).
    card = open(os.path.join(run_dir, "export", "gguf", "README.md"), encoding="utf-8").read()
    rows = re.findall(r"^\| `([^`]+\.gguf)` \| (\S+) \| ([0-9.]+ MiB) \| ([0-9.]+) \| ([+-][0-9.]+) % \|$",
                      card, re.M)
    if len(rows) != 2:
        fail(f"model card: {len(rows)} GGUF rows with perplexities, expected 2")
    for _, gguf_type, size, ppl, delta in rows:
        expect(page, "bytes_" + gguf_type, size)
        expect(page, "ppl_" + gguf_type, ppl)
        expect(page, "ppl_change_" + gguf_type, delta + " %")
    f32 = re.search(r"float32 model.*?([0-9]+\.[0-9]{4})", card)
    if not f32:
        fail("model card: no float32 perplexity")
    expect(page, "ppl_f32", f32.group(1))

    # Samples: the continuations quickstart.json holds, llama.cpp's where it generated too.
    for i, s in enumerate(q["samples"]):
        expect(page, f"sample{i}_base", s["base"])
        expect(page, f"sample{i}_tuned", s["fine_tuned"])
        if q["llama_cpp"]["used"]:
            expect(page, f"sample{i}_llama_cpp", s["llama_cpp"])
        elif f"sample{i}_llama_cpp" in page.figures:
            fail("a llama.cpp column although llama.cpp did not generate")

    # Provenance: the manifest the run was trained on.
    manifest = json.load(open(os.path.join(run_dir, "run", "adapter", "slimtune_provenance.json")))
    expect(page, "manifest_sha256", manifest["dataset"]["manifest_sha256"])
    print(f"check_report: {len(page.figures)} figures and {len(page.series)} chart series match")


main()
