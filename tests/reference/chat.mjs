// Writes the chat-template goldens in tests/golden/chat/ with @huggingface/jinja (the Jinja
// engine transformers.js uses for apply_chat_template) and the reference tokenizers.
// Usage (from the repository root, after scripts/npm-reference.sh):
//   node tests/reference/chat.mjs
// For every template NAME it writes NAME.jsonl: for each conversation of
// tests/fixtures/chat/conversations.json, in order, one record with add_generation_prompt false
// and one with true:
//   {"conversation", "add_generation_prompt", "text", "ids"}   or
//   {"conversation", "add_generation_prompt", "error"}          when the template raises.
// "ids" is tokenizer.encode(text, {add_special_tokens: false}), as apply_chat_template does.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { REF, ROOT, readJson, sha256, writeAtomic, writeJsonl } from "./jsonl.mjs";
import { loadFiles, makeTokenizer } from "./tokenizer_files.mjs";

const GOLDEN = join(ROOT, "tests", "golden", "chat");
const CONVERSATIONS = join(ROOT, "tests", "fixtures", "chat", "conversations.json");

// Template name -> where its source comes from and which tokenizer supplies the special-token
// strings and the ids. "model" templates are the chat_template of that tokenizer's
// tokenizer_config.json; the others are files in tests/reference/templates/.
const TEMPLATES = [
  { name: "qwen3", tokenizer: "qwen3", source: "model" },
  { name: "llama3", tokenizer: "llama3", source: "model" },
  { name: "gemma3", tokenizer: "gemma3", source: "model" },
  { name: "llama2", tokenizer: "llama2", source: "templates/llama2.jinja" },
  { name: "chatml", tokenizer: "qwen3", source: "templates/chatml.jinja" },
  { name: "alpaca", tokenizer: "llama2", source: "templates/alpaca.jinja" },
];

// The variables apply_chat_template passes besides messages and add_generation_prompt: each
// special-token attribute that is set in tokenizer_config.json (a null bos_token, as in qwen3,
// is left out and so is undefined in the template). Same list and rule as transformers.js.
const SPECIAL_TOKEN_ATTRIBUTES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
  "cls_token", "mask_token"];

function specialTokensMap(config) {
  const map = {};
  for (const key of SPECIAL_TOKEN_ATTRIBUTES) {
    let value = config[key];
    if (value && typeof value === "object") value = value.content; // {"__type": "AddedToken", ...}
    if (value) map[key] = value;
  }
  return map;
}

function templateSource(entry, config) {
  if (entry.source !== "model") return readFileSync(join(REF, entry.source), "utf8");
  if (typeof config.chat_template !== "string") {
    throw new Error(`${entry.tokenizer}: tokenizer_config.json has no single chat_template`);
  }
  return config.chat_template;
}

function main() {
  const conversations = readJson(CONVERSATIONS);
  const names = new Set();
  for (const c of conversations) {
    if (names.has(c.name)) throw new Error(`duplicate conversation name ${c.name}`);
    names.add(c.name);
  }

  const tokenizers = new Map();
  for (const entry of TEMPLATES) {
    if (!tokenizers.has(entry.tokenizer)) {
      const files = loadFiles(entry.tokenizer);
      tokenizers.set(entry.tokenizer, { files, tok: makeTokenizer(files) });
    }
    const { files, tok } = tokenizers.get(entry.tokenizer);
    const template = new Template(templateSource(entry, files.config));
    const specials = specialTokensMap(files.config);

    const records = [];
    let errors = 0;
    for (const conv of conversations) {
      for (const add_generation_prompt of [false, true]) {
        const head = { conversation: conv.name, add_generation_prompt };
        let text;
        try {
          // structuredClone: a template must not be able to change the next render's input.
          text = template.render({ messages: structuredClone(conv.messages), add_generation_prompt,
            ...specials });
        } catch (err) {
          records.push({ ...head, error: String(err.message ?? err) });
          ++errors;
          continue;
        }
        records.push({ ...head, text, ids: tok.encode(text, { add_special_tokens: false }) });
      }
    }
    writeJsonl(join(GOLDEN, `${entry.name}.jsonl`), records);
    console.log(`${entry.name}: ${records.length} records (${errors} errors), tokenizer ${entry.tokenizer}`);
  }

  const files = readdirSync(GOLDEN).filter((f) => f.endsWith(".jsonl")).sort();
  const sums = files.map((f) => `${sha256(readFileSync(join(GOLDEN, f)))}  ${f}\n`).join("");
  writeAtomic(join(GOLDEN, "SHA256SUMS"), sums);
}

main();
