// Encodes JSON lines with any tokenizer.json through transformers.js (@lenml/tokenizers).
// Usage: node tests/reference/encode_file.mjs TOKENIZER_JSON [TOKENIZER_CONFIG_JSON] < IN.jsonl
// Each input line is an object with a "text" string (blank lines are skipped); each output line
// is {"ids": [...]}: encode(text) with add_special_tokens = true. Without a config file the
// config is {} (the base PreTrainedTokenizer class). Meant as a live check that a tokenizer.json
// written by slimtune's trainer loads in transformers.js and encodes as slimtune does.
import { readFileSync } from "node:fs";
import { TokenizerLoader } from "@lenml/tokenizers";
import { jsonLine } from "./jsonl.mjs";

function usage(message) {
  process.stderr.write(`encode_file.mjs: ${message}\n` +
    "usage: node tests/reference/encode_file.mjs TOKENIZER_JSON [TOKENIZER_CONFIG_JSON] < IN.jsonl\n");
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 1 || args.length > 2) usage("expected one or two file arguments");
const tokenizerJSON = JSON.parse(readFileSync(args[0], "utf8"));
const tokenizerConfig = args[1] ? JSON.parse(readFileSync(args[1], "utf8")) : {};
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });

const lines = readFileSync(0, "utf8").split("\n");
const out = [];
lines.forEach((line, i) => {
  if (line.trim() === "") return;
  let record;
  try {
    record = JSON.parse(line);
  } catch (err) {
    usage(`line ${i + 1}: not JSON (${err.message})`);
  }
  if (typeof record?.text !== "string") usage(`line ${i + 1}: no "text" string`);
  out.push(jsonLine({ ids: tok.encode(record.text, { add_special_tokens: true }) }) + "\n");
});
process.stdout.write(out.join(""));
