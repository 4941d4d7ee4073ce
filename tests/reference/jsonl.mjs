// Shared helpers for the tokenizer reference scripts: paths, stable JSON lines, atomic writes.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// Repository root: this file lives in tests/reference/.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REF = join(ROOT, "tests", "reference");
export const MODULES = join(REF, "node_modules");

// Characters written as \uXXXX escapes instead of raw UTF-8: every control, format (Cf),
// separator other than U+0020, and lone surrogates. Line-splitting tools that treat U+0085,
// U+2028 or U+2029 as line breaks (Python's str.splitlines) then still see one record a line,
// and invisible characters (ZWSP, BOM, NBSP, ...) stay visible in a diff.
const ESCAPE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}\p{Cs}]/gu;

function escapeUnit(ch) {
  if (ch === " ") return ch;
  let out = "";
  for (let i = 0; i < ch.length; ++i) {
    out += "\\u" + ch.charCodeAt(i).toString(16).padStart(4, "0");
  }
  return out;
}

// JSON.stringify, then the escapes above. Control characters below U+0020 are already escaped
// by JSON.stringify (\n, \t, \u000b, ...), so the second pass never touches a string's quotes
// or backslashes: it only rewrites raw characters, which cannot occur inside an escape.
export function jsonLine(value) {
  return JSON.stringify(value).replace(ESCAPE, escapeUnit);
}

// Writes `content` to `path` via a temporary file and a rename.
export function writeAtomic(path, content) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${process.pid}.tmp`);
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

export function writeJsonl(path, records) {
  writeAtomic(path, records.map((r) => jsonLine(r) + "\n").join(""));
}

export function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

export function readJsonl(path) {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

export function sha256(buf) {
  return createHash("sha256").update(buf).digest("hex");
}
