// Writes the tokenizer test inputs:
//   tests/fixtures/tokenizer/corpus.jsonl       one {"text": ...} per line (hard cases + prose)
//   tests/fixtures/tokenizer/strip_tokens.jsonl lines for the qwen3_strip_tokens variant
//   tests/fixtures/tokenizer/invalid_utf8.bin  LF-terminated raw byte lines with invalid UTF-8
// Deterministic: hand-written strings plus loops; "random" blobs come from a SHA-256 chain.
// Usage (from the repository root): node tests/reference/make_corpus.mjs
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ROOT, writeAtomic, jsonLine } from "./jsonl.mjs";
import { HARD, PROSE } from "./corpus_text.mjs";

const OUT = join(ROOT, "tests", "fixtures", "tokenizer");

// n deterministic bytes: SHA-256 of "slimtune-corpus/<label>/<counter>", concatenated.
function bytes(label, n) {
  const chunks = [];
  for (let i = 0; chunks.length * 32 < n; ++i) {
    chunks.push(createHash("sha256").update(`slimtune-corpus/${label}/${i}`).digest());
  }
  return Buffer.concat(chunks).subarray(0, n);
}

// Lines produced by loops (whitespace runs, digit lengths, very long words).
function generated() {
  const out = [];
  // Whitespace runs of every length 2..40 between words, and some lines of only spaces.
  for (let n = 2; n <= 40; ++n) out.push(`a${" ".repeat(n)}b`);
  for (const n of [1, 2, 3, 7, 16, 40]) out.push(" ".repeat(n));
  for (const n of [2, 5, 13]) out.push(`${" ".repeat(n)}leading and trailing${" ".repeat(n)}`);
  for (const n of [1, 2, 4, 9]) out.push(`x${"\t".repeat(n)}y${"\n".repeat(n)}z`);
  // Digit strings of every length 1..25, alone, glued to letters, and after a space.
  const digits = "1234567890";
  for (let n = 1; n <= 25; ++n) {
    const d = digits.repeat(3).slice(0, n);
    out.push(d);
    out.push(`id${d}x and ${d}`);
  }
  // Very long "words".
  const letters = bytes("word300", 300);
  out.push(Array.from(letters, (b) => "abcdefghijklmnopqrstuvwxyz"[b % 26]).join(""));
  out.push(bytes("base64", 375).toString("base64")); // exactly 500 characters
  out.push("a".repeat(200));
  out.push("=".repeat(200));
  out.push("\u00e9".repeat(120)); // 2-byte letters, one long word
  out.push("\u4e2d".repeat(150)); // 3-byte letters
  out.push("\u{1f600}".repeat(60)); // 4-byte symbols
  out.push(`0x${bytes("hex", 64).toString("hex")}`);
  out.push(bytes("hexupper", 48).toString("hex").toUpperCase());
  out.push(`sha256:${createHash("sha256").update("slimtune").digest("hex")}`);
  return out;
}

// Lines of raw bytes with invalid UTF-8 (and one valid control line). No line contains LF.
function invalidLines() {
  const h = (s) => Buffer.from(s.replace(/\s+/g, ""), "hex");
  const t = (s) => Buffer.from(s, "utf8");
  return [
    Buffer.concat([t("lone continuation a"), h("80"), t("b"), h("bf")]),
    Buffer.concat([h("80 81 82 bf"), t(" at the start")]),
    Buffer.concat([t("truncated 2-byte at end "), h("c3")]),
    Buffer.concat([t("truncated 2-byte "), h("c3"), t("in the middle")]),
    Buffer.concat([t("truncated 3-byte "), h("e2 82"), t(" euro sign cut")]),
    Buffer.concat([t("truncated 4-byte "), h("f0 9f 98"), t(" smile cut, then "), h("f0 9f")]),
    Buffer.concat([t("overlong slash "), h("c0 af"), t(" and "), h("e0 80 af"), t(" and "), h("f0 80 80 af")]),
    Buffer.concat([t("overlong C1 "), h("c1 bf"), t(" NUL "), h("c0 80")]),
    Buffer.concat([t("surrogates "), h("ed a0 80"), t(" "), h("ed bf bf"), t(" pair "), h("ed a0 bd ed b8 80")]),
    Buffer.concat([t("beyond U+10FFFF "), h("f4 90 80 80"), t(" and "), h("f5 80 80 80")]),
    Buffer.concat([t("bytes F5..FF "), h("f5 f6 f7 f8 f9 fa fb fc fd fe ff")]),
    Buffer.concat([t("five-byte form "), h("f8 88 80 80 80"), t(" six-byte "), h("fc 84 80 80 80 80")]),
    Buffer.concat([t("latin-1 caf"), h("e9"), t(" na"), h("ef"), t("ve "), h("a3"), t("5")]),
    Buffer.concat([t("mixed valid h\u00e9llo "), h("e4 b8"), t("\u4e16\u754c "), h("f0 9f 99"), t("\u{1f642}")]),
    Buffer.concat([h("ef bb bf"), t("leading BOM then bad "), h("ff fe")]),
    t("valid control line: h\u00e9llo \u4e16\u754c \u{1f642} \u0645\u0631\u062d\u0628\u0627"),
  ];
}

// Lines around the qwen3_strip_tokens variant's added tokens <|lstrip|> (lstrip: true) and
// <|rstrip|> (rstrip: true). The last line uses characters that JavaScript's trim() and Rust's
// char::is_whitespace disagree on (U+FEFF, U+0085) and one that neither strips (U+200B).
const STRIP = [
  "a  <|lstrip|>  b",
  "x <|rstrip|>   y",
  "<|lstrip|> at the start",
  "   <|lstrip|>after leading spaces",
  "ends with <|rstrip|>",
  "ends with spaces <|rstrip|>   ",
  "   <|rstrip|>   ",
  "<|lstrip|>",
  "line\n\n<|lstrip|>\n\nnext",
  "tab\t<|rstrip|>\tafter\t\t<|lstrip|>\t",
  "crlf\r\n<|lstrip|>\r\n<|rstrip|>\r\nend",
  "both  <|lstrip|><|rstrip|>  sides",
  "<|rstrip|>  <|lstrip|>",
  "a <|lstrip|> b <|rstrip|> c <|im_start|> d",
  "plain <|im_end|>  keeps  <|im_start|> spaces",
  "nbsp\u00a0\u00a0<|lstrip|>\u00a0x and ideographic\u3000<|rstrip|>\u3000y",
  "<|lstrip|<|rstrip|> broken <|lstrip|",
  "bom\ufeff<|lstrip|> nel\u0085<|lstrip|> zwsp\u200b<|rstrip|>\u200bx",
];

const texts = [...HARD, ...generated(), ...PROSE];
for (const text of texts) {
  if (typeof text !== "string") throw new Error(`corpus entry is not a string: ${text}`);
  if (!text.isWellFormed()) throw new Error(`corpus entry has a lone surrogate: ${jsonLine(text)}`);
}
writeAtomic(join(OUT, "corpus.jsonl"), texts.map((text) => jsonLine({ text }) + "\n").join(""));

writeAtomic(join(OUT, "strip_tokens.jsonl"), STRIP.map((text) => jsonLine({ text }) + "\n").join(""));

const lines = invalidLines();
const decoder = new TextDecoder("utf-8", { fatal: true });
for (const line of lines.slice(0, -1)) {
  let valid = true;
  try { decoder.decode(line); } catch { valid = false; }
  if (valid || line.includes(0x0a)) throw new Error(`bad invalid_utf8 line: ${line.toString("hex")}`);
}
writeAtomic(join(OUT, "invalid_utf8.bin"), Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));

console.log(`corpus.jsonl: ${texts.length} lines (${HARD.length} hand-written, ` +
  `${texts.length - HARD.length - PROSE.length} generated, ${PROSE.length} prose); ` +
  `strip_tokens.jsonl: ${STRIP.length} lines; invalid_utf8.bin: ${lines.length} lines`);
