#!/usr/bin/env bash
# The bad-input table: each hostile or careless input of issue 23 (a class each), run through the
# CLI, must end with its one-line message and exit code within 20 s: no crash, no hang, no
# unbounded memory (each case runs under a 4 GiB address-space limit). Prints the table the
# README's reliability section quotes, then BAD-INPUTS-OK.
#   check_bad_inputs.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR [sanitized]
# A sanitized binary reserves terabytes of shadow address space, so `ulimit -v` would kill it at
# start; there the same 4 GiB bound is ASan's: no allocation over it, and no resident set over it.
set -uo pipefail
bin=$1 root=$2 work=$3 build_kind=${4:-plain}
if [[ $build_kind = sanitized ]]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}max_allocation_size_mb=4096:allocator_may_return_null=1:hard_rss_limit_mb=4096
    address_space_kb=unlimited
else
    address_space_kb=4194304
fi
rm -rf "$work" && mkdir -p "$work"
cd "$work" || exit 1
fix=$root/tests/fixtures
failed=0

# A copy of the llama_gqa reference model: config.json and model.safetensors, optionally the
# tiny_letters tokenizer.
model_dir() {
    mkdir -p "$1"
    cp "$fix/models/llama_gqa/config.json" "$fix/models/llama_gqa/model.safetensors" "$1/"
}
# config.json of the reference model with KEY set to the JSON VALUE.
with_config() {
    model_dir "$1"
    python3 - "$1/config.json" "$2" "$3" <<'PY'
import json, sys
p, key, value = sys.argv[1], sys.argv[2], sys.argv[3]
c = json.load(open(p)); c[key] = json.loads(value); json.dump(c, open(p, "w"))
PY
}
# case NAME WANT_EXIT WANT_TEXT COMMAND...: runs COMMAND; its stderr must hold WANT_TEXT and its
# exit code be WANT_EXIT.
case_() {
    local name=$1 want_rc=$2 want=$3
    shift 3
    local err
    err=$( ([[ $address_space_kb = unlimited ]] || ulimit -v "$address_space_kb"; timeout 20 "$@") 2>&1 >/dev/null)
    local rc=$?
    local line
    line=$(printf '%s\n' "$err" | grep -v '^\s*$' | tail -1)
    if [[ $rc -ne $want_rc || "$err" != *"$want"* ]]; then
        echo "FAIL $name: exit $rc (want $want_rc); output: $err" >&2
        failed=1
    fi
    printf '| %s | `%s` | %s |\n' "$name" "${line//$work\//}" "$rc"
}

# ---- crashes ----
python3 -c "print('[' * 100000 + ']' * 100000)" > deep.json
model_dir deep_config && cp deep.json deep_config/config.json
case_ "config.json nested 100 k deep" 1 "JSON nested deeper than 128 levels" \
    "$bin" inspect deep_config
mkdir -p deep_tok
ROOT=$root python3 - deep_tok/tokenizer.json <<'PY'
import json, os, sys
t = json.load(open(os.environ["ROOT"] + "/tests/fixtures/tokenizer/tiny_letters/tokenizer.json"))
deep = '{"type": "Sequence", "normalizers": [' * 20000 + '{"type": "NFC"}' + ']}' * 20000
t["normalizer"] = None
text = json.dumps(t).replace('"normalizer": null', '"normalizer": ' + deep, 1)
open(sys.argv[1], "w").write(text)
PY
case_ "tokenizer.json Sequence 20 k deep" 1 "JSON nested deeper than 128 levels" \
    sh -c "echo hi | '$bin' tokenize --tokenizer deep_tok"
python3 -c "print('{\"text\": \"a\", \"extra\": ' + '[' * 100000 + ']' * 100000 + '}')" > deep.jsonl
case_ "JSONL line with a field 100 k deep (curate)" 1 "JSON nested deeper than 128 levels" \
    "$bin" curate deep.jsonl --out deep_out
case_ "--threads 100000000" 2 "--threads: 100000000 is out of range" \
    "$bin" eval --model "$fix/models/llama_gqa" --data deep.jsonl --threads 100000000

# ---- hangs ----
model_dir fifo_config && rm fifo_config/config.json && mkfifo fifo_config/config.json
case_ "config.json is a FIFO" 1 "not a regular file" "$bin" inspect fifo_config
model_dir fifo_weights && rm fifo_weights/model.safetensors && mkfifo fifo_weights/model.safetensors
case_ "model.safetensors is a FIFO" 1 "not a regular file" "$bin" inspect fifo_weights
model_dir fifo_index && mkfifo fifo_index/model.safetensors.index.json
case_ "shard index is a FIFO" 1 "not a regular file" "$bin" inspect fifo_index
model_dir zero_config && rm zero_config/config.json && ln -s /dev/zero zero_config/config.json
case_ "config.json -> /dev/zero" 1 "not a regular file" "$bin" inspect zero_config
python3 -c "import json; print(json.dumps({'input_ids': list(range(1, 150)) * 4}))" > long.jsonl
case_ "eval example past max_position_embeddings" 1 "beyond the model's 256 positions" \
    "$bin" eval --model "$fix/models/llama_gqa" --data long.jsonl

# ---- unbounded memory ----
mkdir -p big_id && ROOT=$root python3 - big_id/tokenizer.json <<'PY'
import json, os, sys
t = json.load(open(os.environ["ROOT"] + "/tests/fixtures/tokenizer/tiny_letters/tokenizer.json"))
t["model"]["vocab"]["zzz"] = 2**31 - 1
json.dump(t, open(sys.argv[1], "w"))
PY
case_ "tokenizer id 2^31-1" 1 "is far beyond the" sh -c "echo hi | '$bin' tokenize --tokenizer big_id"
mkdir -p replace_chain && ROOT=$root python3 - replace_chain/tokenizer.json <<'PY'
import json, os, sys
t = json.load(open(os.environ["ROOT"] + "/tests/fixtures/tokenizer/tiny_letters/tokenizer.json"))
step = {"type": "Replace", "pattern": {"String": "a"}, "content": "aaaaaaaaaa"}
t["normalizer"] = {"type": "Sequence", "normalizers": [step] * 10}
json.dump(t, open(sys.argv[1], "w"))
PY
case_ "10 chained expanding Replace normalizers" 1 "Replace steps can make a text" \
    sh -c "echo aaaa | '$bin' tokenize --tokenizer replace_chain"
with_config many_layers num_hidden_layers 1000000000
case_ "config num_hidden_layers 10^9" 1 "'layer count' is 1000000000; expected at most 1024" \
    "$bin" inspect many_layers
with_config big_head head_dim 100000000
case_ "config head_dim 10^8" 1 "'head dim' is 100000000; expected at most 4096" \
    "$bin" inspect big_head
case_ "recipe train.seq_len 10^10" 2 "train.seq_len" \
    "$bin" train "$fix/train/tiny_lora.ini" --train.seq_len 10000000000
case_ "recipe lora.rank 10^9" 2 "lora.rank" \
    "$bin" train "$fix/train/tiny_lora.ini" --lora.rank 1000000000
model_dir big_header
python3 - big_header/model.safetensors <<'PY'
import struct, sys
n = 30 * 1000 * 1000
open(sys.argv[1], "wb").write(struct.pack("<Q", n) + b"{" + b"[" * (n - 1))
PY
case_ "safetensors header of 30 MB of '['" 1 "nested deeper than 128 levels" "$bin" inspect big_header
python3 -c "import sys; sys.stdout.write('{\"text\": \"' + 'a' * (65 << 20) + '\"}\n')" > long_line.jsonl
case_ "a 65 MB JSONL line (curate)" 1 "line is longer than 67108864 bytes" \
    "$bin" curate long_line.jsonl --out long_out

# ---- wrong exit codes, silent garbage ----
model_dir nan_weights
python3 - nan_weights/model.safetensors <<'PY'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
name = sorted(k for k in h if k != "__metadata__")[0]
start = 8 + n + h[name]["data_offsets"][0]
b[start:start + 4] = struct.pack("<f", float("nan"))
open(p, "wb").write(b)
PY
case_ "NaN in model weights" 1 "holds NaN or Inf" \
    "$bin" logits --model nan_weights --tokens 1,2,3 --out never.npy
with_config zero_theta rope_theta 0
case_ "rope_theta 0" 1 "'rope_theta' must be a positive number" "$bin" inspect zero_theta
with_config neg_eps rms_norm_eps -1e-5
case_ "rms_norm_eps negative" 1 "must be a positive number" "$bin" inspect neg_eps
case_ "recipe train.epochs 1e300" 2 "train.epochs" \
    "$bin" train "$fix/train/tiny_lora.ini" --train.epochs 1e300 --train.max_steps 0
python3 -c "
import json
for i in range(8): print(json.dumps({'input_ids': [1, 5, 9, 12 + i], 'labels': [-100] * 4}))" > masked.jsonl
"$bin" curate masked.jsonl --out masked_cur > /dev/null 2>&1
case_ "every label masked (train)" 1 "every label of every training example is masked" \
    "$bin" train "$fix/train/tiny_lora.ini" --model.path "$fix/models/llama_gqa" \
    --data.train masked_cur/curated.jsonl --data.validation_split 0 --train.output_dir masked_run
model_dir bad_shape
python3 - bad_shape/model.safetensors <<'PY'
import json, struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
name = [k for k in h if k.endswith("q_proj.weight")][0]
s = h[name]["shape"]; h[name]["shape"] = [s[1], s[0]] if s[0] != s[1] else [s[0] // 2, s[1] * 2]
t = json.dumps(h, separators=(",", ":")).encode(); t += b" " * (n - len(t))
assert len(t) == n
open(p, "wb").write(b[:8] + t + b[8 + n:])
PY
case_ "inspect: tensor shape not the config's" 1 "q_proj.weight" "$bin" inspect bad_shape

# ---- disk full ----
# A file size limit makes every write past it fail with EFBIG, as a full disk fails with ENOSPC:
# the checkpoint write must fail with its one line, leave no temporary, and not crash at exit.
"$bin" curate "$fix/train/tiny_ids.jsonl" --out tiny_cur > /dev/null 2>&1
case_ "disk full during a checkpoint write" 1 "cannot write" \
    sh -c "trap '' XFSZ; ulimit -f 24; exec '$bin' train '$fix/train/tiny_lora.ini' \
        --model.path '$fix/models/llama_gqa' --data.train tiny_cur/curated.jsonl \
        --train.output_dir full_run --checkpoint.every 1"
if ls full_run/checkpoints/*.tmp.* > /dev/null 2>&1; then
    echo "FAIL disk full: a temporary checkpoint was left behind" >&2
    failed=1
fi

[[ $failed -eq 0 ]] && echo BAD-INPUTS-OK
exit $failed
