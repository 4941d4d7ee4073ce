#!/usr/bin/env bash
# `slimtune tokenizer-train` reads every record format that curate and train read: one record
# per format, each with a word no other record holds, repeated; after training, each word is one
# token, so each record's text was learned from. A pre-tokenized record is skipped and counted.
#   check_tokenizer_train_formats.sh SLIMTUNE_BINARY WORK_DIR
set -euo pipefail
bin=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
rep() { local s=""; for _ in $(seq 30); do s="$s $1"; done; echo "${s# }"; }
k=$(rep kiwifruit) j=$(rep jacaranda) q=$(rep quetzal) a=$(rep armadillo) m=$(rep marimba) z=$(rep zeppelin)
cat > "$work/all.jsonl" <<JSONL
{"text": "$k"}
{"prompt": "say it", "completion": "$j"}
{"prompt": [{"role": "user", "content": "say it"}], "completion": [{"role": "assistant", "content": "$q"}]}
{"instruction": "say it", "output": "$a"}
{"messages": [{"role": "user", "content": "say it"}, {"role": "assistant", "content": "$m"}]}
{"conversations": [{"from": "human", "value": "say it"}, {"from": "gpt", "value": "$z"}]}
{"input_ids": [1, 2, 3]}
JSONL
"$bin" tokenizer-train "$work/all.jsonl" --vocab-size 400 --out "$work/tok" > "$work/out.log" 2> "$work/err.log"
cat "$work/out.log" "$work/err.log"
for word in kiwifruit jacaranda quetzal armadillo marimba zeppelin; do
    ids=$(echo " $word" | "$bin" tokenize --tokenizer "$work/tok" --no-special)
    case "$ids" in
        \[*,*) echo "$word is not one token: $ids"; exit 1 ;;
    esac
done
echo EVERY-FORMAT-LEARNED
