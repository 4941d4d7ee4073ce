#!/usr/bin/env bash
# `slimtune quickstart --quick` end to end (what CI runs of the README's first command): every
# output it names exists, the planted contact lines are gone from the curated data, a second run
# into the same directory needs --overwrite, and the report renders in headless Chromium with the
# figures of metrics.jsonl, quickstart.json and the model card (tests/check_report.py).
#   check_quickstart.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR
set -euo pipefail
bin=$1 root=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" quickstart --quick --out qs --threads 2 > qs.out 2> qs.err || { tail -20 qs.err; fail "quickstart"; }
for f in data/medical-raw.jsonl data/medical-heldout.jsonl data/general-heldout.jsonl \
         curated/curated.jsonl curated/manifest.json curated/report.md run/metrics.jsonl \
         run/adapter/adapter_model.safetensors export/gguf/tiny-gcide-medical-Q8_0.gguf \
         export/gguf/tiny-gcide-medical-Q4_K_M.gguf export/gguf/README.md \
         export/peft/adapter_config.json quickstart.json report.html loss.svg; do
    [ -s "qs/$f" ] || fail "qs/$f missing or empty"
done
grep -q "^| medical (held out) | [0-9]* | " qs.err || fail "no held-out table: $(cat qs.err)"
grep -q "held-out medical perplexity .* -> " qs.out || fail "no final verdict: $(cat qs.out)"
grep -q "planted contact lines: 109 (.*), 0 left in curated.jsonl" qs.err || fail "planted PII: $(grep planted qs.err)"
grep -q "stmarys-clinic.org" qs/data/medical-raw.jsonl || fail "nothing was planted"
if grep -q "stmarys-clinic.org" qs/curated/curated.jsonl; then fail "planted e-mail in curated.jsonl"; fi

# A second run needs --overwrite, and says so in one line.
if "$bin" quickstart --quick --out qs > again.out 2> again.err; then fail "overwrote without --overwrite"; fi
grep -q "qs: holds an earlier quickstart; pass --overwrite" again.err || fail "$(cat again.err)"

# The report as a browser renders it.
chromium --headless --no-sandbox --disable-gpu --dump-dom "file://$work/qs/report.html" \
    > dom.html 2> chromium.err || { tail -5 chromium.err; fail "chromium"; }
/usr/bin/python3 "$root/tests/check_report.py" qs dom.html || fail "report figures"
echo QUICKSTART-OK
