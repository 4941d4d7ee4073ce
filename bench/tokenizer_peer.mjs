// The peer for bench_tokenizer: transformers.js (@lenml/tokenizers, the same library the
// tokenizer tests use as reference) encoding the same text the same way: documents are the
// file's blank-line-separated paragraphs, encode(doc, add_special_tokens=false), one thread.
// Prints one JSON object like bench_tokenizer's: cold (first pass) and warm (best later pass)
// MB/s of UTF-8 input.
//
//   node bench/tokenizer_peer.mjs NAME TEXT_FILE [ROUNDS]    (NAME: gpt2, qwen3, llama3, llama2, gemma3)
import { readFileSync } from "node:fs";
import { loadFiles, makeTokenizer } from "../tests/reference/tokenizer_files.mjs";

const [name, textFile, roundsArg] = process.argv.slice(2);
if (!name || !textFile) {
  console.error("usage: node bench/tokenizer_peer.mjs NAME TEXT_FILE [ROUNDS]");
  process.exit(2);
}
const rounds = Number(roundsArg ?? 5);
let t0 = performance.now();
const tok = makeTokenizer(loadFiles(name));
const loadS = (performance.now() - t0) / 1000;
const bytes = readFileSync(textFile);
const text = bytes.toString("utf8");
const docs = [];
for (let at = 0; at < text.length; ) {
  const end = text.indexOf("\n\n", at);
  const stop = end < 0 ? text.length : end + 2;
  docs.push(text.slice(at, stop));
  at = stop;
}
let cold = 0, warm = Infinity, tokens = 0;
for (let r = 0; r <= rounds; ++r) {
  t0 = performance.now();
  let n = 0;
  for (const d of docs) n += tok.encode(d, { add_special_tokens: false }).length;
  const s = (performance.now() - t0) / 1000;
  if (r === 0) { cold = s; tokens = n; } else warm = Math.min(warm, s);
}
const mb = bytes.length / 1e6;
console.log(JSON.stringify({ tokenizer: name, bytes: bytes.length, documents: docs.length, tokens,
  load_s: loadS, cold_mb_per_s: mb / cold, warm_mb_per_s: mb / warm }));
