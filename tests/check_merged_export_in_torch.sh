#!/bin/sh
# The merged models `slimtune export --format hf` writes (one file, then shards) load in the
# PyTorch reference with the logits of PyTorch's own merge (tests/reference/
# check_merged_export.py). Exits 77 (skipped) where /usr/bin/python3 has no torch.
#   check_merged_export_in_torch.sh SLIMTUNE SOURCE_DIR WORK_DIR
set -eu
slimtune=$1 src=$2 work=$3
/usr/bin/python3 -c 'import torch' 2>/dev/null || {
    echo "skipped: /usr/bin/python3 has no torch (scripts/install-deps.sh --reference)"; exit 77; }
rm -rf "$work"
mkdir -p "$work"
for c in gpt2_lora:gpt2 llama_gqa_lora:llama_gqa; do
    adapter=${c%%:*} model=${c#*:}
    for shard in 2 0.00002; do
        out="$work/${adapter}_$shard"
        "$slimtune" export --model "$src/tests/fixtures/models/$model" \
            --adapter "$src/tests/fixtures/adapters/$adapter" --format hf --max-shard-gb "$shard" \
            --out "$out" >/dev/null
        /usr/bin/python3 "$src/tests/reference/check_merged_export.py" "$out" \
            "$src/tests/golden/export/$adapter.safetensors"
    done
done
ls "$work"/llama_gqa_lora_0.00002/model-00001-of-*.safetensors >/dev/null # shards were written
