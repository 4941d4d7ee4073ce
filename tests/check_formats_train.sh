#!/usr/bin/env bash
# Every record format through the whole path: curate a mixed JSONL (text, prompt/completion in
# both forms, Alpaca, OpenAI messages, ShareGPT, pre-tokenized) and train LoRA steps on the result with a
# real tokenizer and chat template, with a malformed line skipped and counted, and over-long
# examples dropped and counted.
#   check_formats_train.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR
set -euo pipefail
bin=$1 root=$2 work=$3
rm -rf "$work" && mkdir -p "$work/model"
# The llama_gqa reference checkpoint (vocabulary 160) with the tiny_letters tokenizer (35 ids;
# no special tokens for ChatML's markers, hence allow_template_markers_as_text).
for f in config.json model.safetensors; do
    ln -s "$root/tests/fixtures/models/llama_gqa/$f" "$work/model/$f"
done
cp "$root/tests/fixtures/tokenizer/tiny_letters/"*.json "$work/model/"
cat > "$work/raw.jsonl" <<'JSONL'
{"text": "notes are short dated and signed"}
{"prompt": "what is checked", "completion": "the account history and the payee"}
{"prompt": [{"role": "user", "content": "who signs the note"}], "completion": [{"role": "assistant", "content": "the doctor on duty"}]}
{"instruction": "name the follow up", "input": "discharge letter", "output": "the clinic visit"}
{"messages": [{"role": "user", "content": "when is the round"}, {"role": "assistant", "content": "at eight"}]}
{"conversations": [{"from": "human", "value": "who reads the notes"}, {"from": "gpt", "value": "the colleague on call"}]}
{"input_ids": [1, 5, 9, 12, 30, 2], "labels": [-100, -100, 9, 12, 30, 2]}
{"text": "a very long record that will not fit in the short training sequences of this test at all because it goes on and on"}
{"text": 7}
JSONL
# The sft profile, chosen from the records, keeps every short record.
"$bin" curate "$work/raw.jsonl" --out "$work/curated" --on-bad-line skip > "$work/curate.log" \
    2> "$work/curate.err"
grep -q "profile sft" "$work/curate.err"
cat "$work/curate.log"
"$bin" train "$root/tests/fixtures/train/tiny_lora.ini" --model.path "$work/model" \
    --data.train "$work/curated/curated.jsonl" --data.chat_template chatml \
    --data.allow_template_markers_as_text true \
    --data.validation_split 0 --data.overlong drop --train.seq_len 96 --train.max_steps 2 \
    --train.output_dir "$work/run" --eval.every 0 --checkpoint.every 0
test -f "$work/run/adapter/adapter_model.safetensors"
grep -q '"manifest_sha256"' "$work/run/adapter/slimtune_provenance.json"
echo FORMATS-TRAINED
