// The peer of bench_chat_template: @huggingface/jinja (transformers.js' engine) rendering the
// same conversations with the same template, one thread, text only (it has no masks).
// Usage: node bench/chat_template_peer.mjs TEMPLATE.jinja CONVERSATIONS.jsonl [EOS [BOS]]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/reference/package.json", import.meta.url));
const { Template } = await import(require.resolve("@huggingface/jinja"));
const [templateFile, corpus, eos, bos] = process.argv.slice(2);
const template = new Template(readFileSync(templateFile, "utf8"));
const conversations = readFileSync(corpus, "utf8").split("\n").filter((l) => l)
  .map((l) => JSON.parse(l).messages);
const specials = {};
if (eos) specials.eos_token = eos;
if (bos) specials.bos_token = bos;
let bytes = 0;
const start = process.hrtime.bigint();
for (const messages of conversations) {
  bytes += Buffer.byteLength(template.render({ messages, add_generation_prompt: false, tools: null,
    documents: null, ...specials }));
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({ engine: "@huggingface/jinja", mode: "text",
  conversations: conversations.length, bytes, seconds: +seconds.toFixed(3),
  conversations_per_s: Math.round(conversations.length / seconds) }));
