#!/usr/bin/env bash
# The CLI's conventions, end to end on the real binary: exit codes (0 success, 1 error in an
# input or the run, 2 usage: options, recipe keys and values), results on stdout and progress
# on stderr, grouped --help with --help-all, paths printed without "//", and SIGTERM handled as
# Ctrl-C (a checkpoint, exit 143, resumable).
#   check_cli_conventions.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR
set -uo pipefail
bin=$1 root=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
fix=$root/tests/fixtures
recipe=$fix/train/tiny_lora.ini
failed=0
fail() { echo "FAIL: $*"; failed=1; }

# expect STATUS NAME COMMAND...: runs COMMAND (stdout, stderr to files) and checks its status.
expect() {
    local want=$1 name=$2
    shift 2
    "$@" > "$name.out" 2> "$name.err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$name: exit $got, expected $want; stderr: $(head -c 300 "$name.err")"
    elif [ "$want" -ne 0 ] && [ "$(wc -l < "$name.err")" -ne 1 ]; then
        fail "$name: expected a one-line message on stderr, got: $(cat "$name.err")"
    else
        echo "ok $name (exit $got)"
    fi
}

# The curation gate's data, as the training tests use it.
"$bin" curate "$fix/train/tiny_ids.jsonl" --out curated/ > curate.out 2> curate.err || fail "curate"
grep -q "into curated/curated.jsonl" curate.out || fail "curate: path not printed as curated/curated.jsonl: $(cat curate.out)"
grep -q "//" curate.out curate.err && fail "curate: a path with // in: $(cat curate.out curate.err)"
args=(--model.path "$fix/models/llama_gqa" --data.train curated/curated.jsonl)

# 0
expect 0 version "$bin" version
expect 0 help "$bin" --help
# 2: usage
"$bin" > no_command.out 2> no_command.err
[ $? -eq 2 ] && grep -q "^usage: slimtune <command>" no_command.err || fail "no_command: not exit 2 with the usage"
expect 2 unknown_command "$bin" frobnicate
expect 2 unknown_option "$bin" quickstart --bogus
expect 2 bad_option_value "$bin" quickstart --threads many
expect 2 negative_threads "$bin" generate --model "$fix/models/llama_gqa" --tokens 1 --threads -1
expect 2 misspelt_recipe_key "$bin" train "$recipe" "${args[@]}" --lora.rnak 4
expect 2 recipe_value_out_of_range "$bin" train "$recipe" "${args[@]}" --lora.rank 0
expect 2 missing_recipe_file "$bin" train "$work/none.ini"
expect 2 contradicting_keys "$bin" train "$recipe" "${args[@]}" --data.validation curated/curated.jsonl
expect 2 unknown_export_type "$bin" export --model "$fix/models/llama_gqa" --type q9_9 --out x.gguf
expect 2 unknown_chat_template "$bin" chat-template --tokenizer "$fix/tokenizer/tiny_letters" --chat-template nope
# 1: inputs and runs
expect 1 missing_model "$bin" inspect "$work/no_model"
echo '{"text": "x"}' > raw.jsonl
expect 1 uncurated_data "$bin" train "$recipe" --model.path "$fix/models/llama_gqa" --data.train raw.jsonl
echo '{"input_ids": [1, 2' > broken.jsonl
expect 1 broken_jsonl "$bin" eval --model "$fix/models/llama_gqa" --data broken.jsonl

# Results on stdout, progress on stderr: a whole run prints one line on stdout.
"$bin" train "$recipe" "${args[@]}" --train.output_dir run > train.out 2> train.err || fail "train"
[ "$(wc -l < train.out)" -eq 1 ] && grep -q "^trained 8 steps" train.out ||
    fail "train: stdout should be the one result line, got: $(cat train.out)"
grep -q "^step 8/8 loss" train.err || fail "train: no progress lines on stderr"
grep -q "wrote run/adapter" train.err || fail "train: the output path is not on stderr"
grep -q "//" train.out train.err && fail "train: a path with //"
# A second run into the same directory, or a resume that changes the recipe: usage errors.
expect 2 reused_output_dir "$bin" train "$recipe" "${args[@]}" --train.output_dir run
expect 2 resume_changed_recipe "$bin" train --resume run --optim.lr 1e-2

# --help is grouped and short; --help-all explains every key.
"$bin" train --help > help.out
grep -q "^  \[lora\]: the LoRA adapters" help.out && grep -q "rank alpha dropout" help.out ||
    fail "train --help: no [lora] group with its key names"
grep -q "an integer > 0" help.out && fail "train --help: per-key details belong to --help-all"
[ "$(wc -l < help.out)" -lt 60 ] || fail "train --help: $(wc -l < help.out) lines, expected a page"
"$bin" train --help-all > help_all.out
grep -q "^    lora.rank = 8$" help_all.out && grep -q "an integer in \[1, 16384\]: rank r" help_all.out ||
    fail "train --help-all: lora.rank not explained"
"$bin" curate --help > curate_help.out
grep -q "^  \[curate.quality\]" curate_help.out || fail "curate --help: no [curate.quality] group"
echo "ok help"

# SIGTERM, as Slurm, systemd and Kubernetes send it: the step ends, a checkpoint is written,
# exit 143, and the run resumes from it.
"$bin" train "$recipe" "${args[@]}" --train.output_dir run_term --train.max_steps 1000000 \
    > term.out 2> term.err &
pid=$!
for _ in $(seq 100); do grep -q "^step" term.err 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid
wait $pid
status=$?
[ $status -eq 143 ] || fail "SIGTERM: exit $status, expected 143"
grep -q "stopped at step [0-9]* (SIGTERM); continue with: slimtune train --resume run_term" term.out ||
    fail "SIGTERM: no resume hint on stdout: $(cat term.out)"
ls run_term/checkpoints/step-*.h5 > /dev/null 2>&1 || fail "SIGTERM: no checkpoint written"
"$bin" train --resume run_term --stop-after 2 > resume.out 2> resume.err
status=$?
[ $status -eq 130 ] && grep -q "^resuming run_term/checkpoints/step-[0-9]*.h5" resume.err ||
    fail "SIGTERM: resume: exit $status: $(cat resume.err)"
echo "ok sigterm"

[ $failed -eq 0 ] && echo "CLI-CONVENTIONS-OK"
exit $failed
