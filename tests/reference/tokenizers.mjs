// Writes the tokenizer goldens in tests/golden/tokenizers/ with transformers.js
// (@lenml/tokenizers, a tokenizer-only fork of transformers.js 3.7.2).
// Usage (from the repository root, after scripts/npm-reference.sh):
//   node tests/reference/tokenizers.mjs [--only NAME[,NAME...]]
// For every tokenizer NAME (bases and variants) it writes
//   NAME.jsonl              one record per line of tests/fixtures/tokenizer/corpus.jsonl
//   NAME.invalid_utf8.jsonl one record per line of tests/fixtures/tokenizer/invalid_utf8.bin
// plus qwen3_strip_tokens.strip.jsonl for tests/fixtures/tokenizer/strip_tokens.jsonl, then
// SHA256SUMS over all *.jsonl files in the directory. A record is
//   {"ids": encode(text) with special tokens, "ids_plain": encode(text) without,
//    "decoded": decode(ids_plain), "decoded_skip": decode(ids, skip_special_tokens)}
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import gpt3Encoder from "gpt-3-encoder";
import { ROOT, readJsonl, sha256, writeAtomic, writeJsonl } from "./jsonl.mjs";
import { BASES, loadFiles, makeTokenizer, variantNames } from "./tokenizer_files.mjs";

const FIXTURES = join(ROOT, "tests", "fixtures", "tokenizer");
const GOLDEN = join(ROOT, "tests", "golden", "tokenizers");

// transformers.js throws on decode([]); the goldens hold "" for an empty id list.
function decode(tok, ids, skip) {
  if (ids.length === 0) return "";
  return tok.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });
}

function record(tok, text) {
  const ids = tok.encode(text, { add_special_tokens: true });
  const ids_plain = tok.encode(text, { add_special_tokens: false });
  return {
    ids,
    ids_plain,
    decoded: decode(tok, ids_plain, false),
    decoded_skip: decode(tok, ids, true),
  };
}

// The invalid-UTF-8 fixture: LF-terminated lines of raw bytes. Each line is decoded the way the
// C++ side documents: WHATWG UTF-8 decoding, every maximal invalid subpart becomes one U+FFFD.
// ignoreBOM keeps a leading EF BB BF as U+FEFF instead of dropping it.
function invalidUtf8Texts() {
  const raw = readFileSync(join(FIXTURES, "invalid_utf8.bin"));
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  const texts = [];
  let start = 0;
  for (let i = 0; i < raw.length; ++i) {
    if (raw[i] === 0x0a) {
      texts.push(decoder.decode(raw.subarray(start, i)));
      start = i + 1;
    }
  }
  if (start !== raw.length) throw new Error("invalid_utf8.bin must end with LF");
  return texts;
}

// gpt-3-encoder is an independent GPT-2 BPE; it does not know <|endoftext|> as a special
// token, so lines containing that literal are not compared.
function crossCheckGpt2(tok, texts) {
  let agree = 0, skipped = 0;
  const differ = [];
  texts.forEach((text, i) => {
    if (text.includes("<|endoftext|>")) { ++skipped; return; }
    const ours = tok.encode(text, { add_special_tokens: false });
    const theirs = gpt3Encoder.encode(text);
    if (JSON.stringify(ours) === JSON.stringify(theirs)) ++agree;
    else differ.push(i + 1);
  });
  console.log(`gpt2 vs gpt-3-encoder: ${agree} of ${texts.length - skipped} corpus lines agree` +
    ` (${skipped} lines with <|endoftext|> not compared)` +
    (differ.length ? `; differing corpus lines: ${differ.join(", ")}` : ""));
  return differ.length === 0;
}

function main() {
  const onlyArg = process.argv.indexOf("--only");
  const names = [...BASES, ...variantNames()];
  const only = onlyArg >= 0 ? process.argv[onlyArg + 1].split(",") : names;
  for (const n of only) if (!names.includes(n)) throw new Error(`unknown tokenizer '${n}'`);

  const corpus = readJsonl(join(FIXTURES, "corpus.jsonl")).map((r) => r.text);
  const invalid = invalidUtf8Texts();
  const strip = readJsonl(join(FIXTURES, "strip_tokens.jsonl")).map((r) => r.text);
  let ok = true;

  for (const name of names.filter((n) => only.includes(n))) {
    const t0 = Date.now();
    const tok = makeTokenizer(loadFiles(name));
    writeJsonl(join(GOLDEN, `${name}.jsonl`), corpus.map((text) => record(tok, text)));
    writeJsonl(join(GOLDEN, `${name}.invalid_utf8.jsonl`), invalid.map((text) => record(tok, text)));
    if (name === "qwen3_strip_tokens") {
      writeJsonl(join(GOLDEN, `${name}.strip.jsonl`), strip.map((text) => record(tok, text)));
    }
    if (name === "gpt2") ok = crossCheckGpt2(tok, corpus) && ok;
    console.log(`${name}: ${corpus.length} + ${invalid.length} lines in ${Date.now() - t0} ms`);
  }

  // SHA256SUMS over every golden in the directory, sorted by file name ("<hex>  <file>").
  const files = readdirSync(GOLDEN).filter((f) => f.endsWith(".jsonl")).sort();
  const sums = files.map((f) => `${sha256(readFileSync(join(GOLDEN, f)))}  ${f}\n`).join("");
  writeAtomic(join(GOLDEN, "SHA256SUMS"), sums);

  if (!ok) {
    console.error("tokenizers.mjs: gpt2 disagrees with gpt-3-encoder (see above)");
    process.exitCode = 1;
  }
}

main();
