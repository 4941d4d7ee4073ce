#!/usr/bin/env bash
# The embedded default's path in miniature, on the real GCIDE text: corpus -> tokenizer-train ->
# curate -> init (a 2-layer llama) -> train in full mode from random weights. The loss must fall
# from ln(vocab) (what random weights give) by a clear margin, and the run must write a model
# directory that loads again.
#   check_init_pretrain.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR
set -euo pipefail
bin=$1 root=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$bin" corpus --out corpus > corpus.log
grep -q "medical.jsonl (5451), medical-heldout.jsonl (607)" corpus.log || { cat corpus.log; exit 1; }
"$bin" tokenizer-train corpus/general-heldout.jsonl --vocab-size 1024 --out tok > tok.log
# Dictionary senses are short and punctuation-heavy: Gopher's 50-word minimum and 80 % alphabetic
# words (made for web pages) would drop 95 % of them.
"$bin" curate corpus/medical.jsonl --out curated --curate.quality.min_words 8 \
    --curate.quality.min_alpha_words_ratio 0.5 > curate.log
grep -q "curated 3[0-9][0-9][0-9] of 5451 documents" curate.log || { cat curate.log; exit 1; }
"$bin" init --size tiny --hidden 64 --layers 2 --heads 4 --kv-heads 2 --intermediate 128 \
    --context 256 --tokenizer tok --out init > init.log
grep -q "init: llama tiny, 2 layers, hidden 64" init.log || { cat init.log; exit 1; }
# An existing directory is never overwritten.
if "$bin" init --size tiny --tokenizer tok --out init 2> again.err; then exit 1; fi
grep -q "exists" again.err
"$bin" train "$root/recipes/pretrain-tiny.ini" --model.path init --data.train curated/curated.jsonl \
    --train.max_steps 60 --train.batch_size 8 --train.seq_len 128 --sched.warmup_steps 10 \
    --eval.every 0 --checkpoint.every 0 --log.every 1 --train.output_dir run --threads 2 \
    > train.log 2>&1 || { tail -5 train.log; exit 1; }
# First and last training losses from metrics.jsonl.
losses=$(grep -o '"loss":[0-9.]*' run/metrics.jsonl | cut -d: -f2)
first=$(echo "$losses" | head -1) last=$(echo "$losses" | tail -1)
echo "loss $first -> $last over 60 steps (ln 1024 = 6.93)"
awk -v f="$first" -v l="$last" 'BEGIN { exit !(f > 6.5 && l < f - 1.5) }'
"$bin" inspect run/model | grep -q "2 layers, hidden 64"
echo "INIT-PRETRAIN-OK"
