// render_ollama_template.go: renders conversations through an ollama Modelfile the way ollama
// does, with Go's own text/template, so that tests/check_ollama_modelfile.sh can compare the
// prompt ollama builds with the text slimtune trained on. Go standard library only.
//
//	go run render_ollama_template.go MODELFILE < conversations.jsonl
//	    one JSON string per non-blank input line: the prompt ollama renders for that
//	    conversation (input lines: {"messages": [{"role", "content"}, ...]} or the bare list;
//	    other fields are ignored)
//	go run render_ollama_template.go -info MODELFILE
//	    {"template": ..., "system": ..., "stop": [...]} as ollama reads them from the Modelfile
//
// What is mirrored from ollama (github.com/ollama/ollama, read from its sources):
//
//   - The Modelfile parser (parser/parser.go, ParseFile): a command's value runs to the first
//     line end at which the text read so far, trimmed of white space, is a complete value:
//     """...""" or "..." (the outer quotes are cut off, nothing inside is unescaped: a
//     backslash is a backslash) or a bare word. Runes that strconv.IsPrint rejects are dropped,
//     except spaces, tabs and line ends inside a value. A later TEMPLATE or SYSTEM replaces an
//     earlier one; every PARAMETER stop adds a stop string.
//   - The template (template/template.go, Parse and Execute): parsed by text/template with
//     Option("missingkey=zero") and ollama's "json" function; a template that mentions
//     .Messages is executed once over {System, Messages, Tools, Response: "", Think, ...}.
//     Templates without .Messages take ollama's legacy .Prompt/.Response path, which this
//     driver does not reproduce: it refuses them.
//   - The messages (server/routes.go, ChatHandler): when the request's first message is not a
//     system message and the Modelfile has a SYSTEM, a system message with that text is put
//     first (MESSAGE commands, which would come before the request's messages, are not
//     written by slimtune). Then template.collate: .System is every system message's content
//     joined by "\n\n", and consecutive messages of one role (tool results excepted) become
//     one, their contents joined by "\n\n".
//
// Assumed, not mirrored: no images, tools or thinking (ollama's filterThinkTags only touches
// <think> blocks, which the conversations here do not have), and a conversation that fits the
// context window (chatPrompt drops the oldest messages otherwise).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// Message is what a template sees in .Messages (the fields of ollama's api.Message that a
// plain chat uses).
type Message struct {
	Role     string `json:"role"`
	Content  string `json:"content"`
	Thinking string `json:"thinking,omitempty"`
}

type command struct {
	name, args string
}

type parseState int

const (
	stIdle parseState = iota
	stName
	stValue
	stParameter
	stMessageRole
	stComment
)

func isSpace(r rune) bool   { return r == ' ' || r == '\t' }
func isNewline(r rune) bool { return r == '\r' || r == '\n' }
func isAlpha(r rune) bool   { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// unquoteValue cuts the outer quotes off a complete value; ok is false while a quoted value
// is still open.
func unquoteValue(s string) (string, bool) {
	if strings.HasPrefix(s, `"""`) {
		if len(s) >= 6 && strings.HasSuffix(s, `"""`) {
			return s[3 : len(s)-3], true
		}
		return "", false
	}
	if strings.HasPrefix(s, `"`) {
		if len(s) >= 2 && strings.HasSuffix(s, `"`) {
			return s[1 : len(s)-1], true
		}
		return "", false
	}
	return s, true
}

var commandNames = map[string]bool{"from": true, "license": true, "template": true,
	"system": true, "adapter": true, "draft": true, "renderer": true, "parser": true,
	"parameter": true, "message": true, "requires": true}

// parseModelfile reads the commands of a Modelfile as ollama's parser does.
func parseModelfile(text string) ([]command, error) {
	text = strings.TrimPrefix(text, "\uFEFF")
	if !utf8.ValidString(text) {
		return nil, errors.New("the Modelfile is not UTF-8")
	}
	var cmds []command
	var buf strings.Builder
	var cur command
	role := ""
	state := stIdle
	line := 1
	fail := func(msg string) error { return fmt.Errorf("Modelfile line %d: %s", line, msg) }
	finishValue := func(s string) {
		if role != "" {
			s = role + ": " + s
			role = ""
		}
		cur.args = s
		cmds = append(cmds, cur)
	}
	for _, r := range text {
		if isNewline(r) {
			line++
		}
		keep := r // the rune to add to the buffer once the state is settled (0: none)
		next := state
		switch state {
		case stIdle:
			switch {
			case r == '#':
				next, keep = stComment, 0
			case isSpace(r) || isNewline(r):
				keep = 0
			default:
				next = stName
			}
		case stName:
			switch {
			case isAlpha(r):
			case isSpace(r):
				next, keep = stValue, 0
			default:
				return nil, fail("not a command")
			}
		case stParameter:
			switch {
			case isAlpha(r) || (r >= '0' && r <= '9') || r == '_':
			case isSpace(r):
				next, keep = stValue, 0
			default:
				return nil, fail("unexpected end of a PARAMETER name")
			}
		case stMessageRole:
			switch {
			case isAlpha(r):
			case isSpace(r):
				next, keep = stValue, 0
			default:
				return nil, fail("unexpected end of a MESSAGE role")
			}
		case stValue:
			if isSpace(r) || isNewline(r) {
				s, ok := unquoteValue(strings.TrimSpace(buf.String()))
				if !ok || isSpace(r) {
					buf.WriteRune(r) // inside the value: kept even though not IsPrint
					continue
				}
				finishValue(s)
				next, keep = stIdle, 0
			}
		case stComment:
			keep = 0
			if isNewline(r) {
				next = stIdle
			}
		}
		if next != state {
			switch state {
			case stName:
				word := strings.ToLower(buf.String())
				if !commandNames[word] {
					return nil, fail(fmt.Sprintf("unknown command %q", buf.String()))
				}
				switch word {
				case "from":
					cur.name = "model"
				case "parameter":
					next = stParameter
				case "message":
					next = stMessageRole
					cur.name = word
				default:
					cur.name = word
				}
			case stParameter:
				cur.name = buf.String()
			case stMessageRole:
				role = buf.String()
				if role != "system" && role != "user" && role != "assistant" {
					return nil, fail("bad MESSAGE role " + strconv.Quote(role))
				}
			}
			buf.Reset()
			state = next
		}
		if keep != 0 && strconv.IsPrint(keep) {
			buf.WriteRune(keep)
		}
	}
	switch state {
	case stIdle, stComment:
	case stValue:
		s, ok := unquoteValue(strings.TrimSpace(buf.String()))
		if !ok {
			return nil, errors.New("Modelfile: unterminated quoted value at the end")
		}
		finishValue(s)
	default:
		return nil, errors.New("Modelfile: unexpected end")
	}
	for _, c := range cmds {
		if c.name == "model" {
			return cmds, nil
		}
	}
	return nil, errors.New("Modelfile: no FROM line")
}

type modelfile struct {
	Template string   `json:"template"`
	System   string   `json:"system"`
	Stop     []string `json:"stop"`
}

func readModelfile(path string) (*modelfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cmds, err := parseModelfile(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m := &modelfile{Stop: []string{}}
	for _, c := range cmds {
		switch c.name {
		case "template":
			m.Template = c.args
		case "system":
			m.System = c.args
		case "stop":
			m.Stop = append(m.Stop, c.args)
		}
	}
	return m, nil
}

// identifiers lists the field and variable names a template mentions (ollama's Identifiers).
func identifiers(n parse.Node) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		var out []string
		if n != nil {
			for _, c := range n.Nodes {
				out = append(out, identifiers(c)...)
			}
		}
		return out
	case *parse.ActionNode:
		return identifiers(n.Pipe)
	case *parse.TemplateNode:
		if n.Pipe == nil {
			return nil
		}
		return identifiers(n.Pipe)
	case *parse.IfNode:
		return branchIdentifiers(&n.BranchNode)
	case *parse.RangeNode:
		return branchIdentifiers(&n.BranchNode)
	case *parse.WithNode:
		return branchIdentifiers(&n.BranchNode)
	case *parse.PipeNode:
		var out []string
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				out = append(out, identifiers(a)...)
			}
		}
		return out
	case *parse.FieldNode:
		return n.Ident
	case *parse.VariableNode:
		return n.Ident
	}
	return nil
}

func branchIdentifiers(b *parse.BranchNode) []string {
	out := identifiers(b.Pipe)
	if b.List != nil {
		out = append(out, identifiers(b.List)...)
	}
	if b.ElseList != nil {
		out = append(out, identifiers(b.ElseList)...)
	}
	return out
}

func parseTemplate(text string) (*template.Template, error) {
	funcs := template.FuncMap{"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}}
	t, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		for _, id := range identifiers(tt.Tree.Root) {
			if strings.EqualFold(id, "messages") {
				return t, nil
			}
		}
	}
	return nil, errors.New("the TEMPLATE does not use .Messages: ollama would render it in its " +
		"legacy .Prompt/.Response mode, which this driver does not reproduce")
}

// render builds the prompt ollama's /api/chat sends to the model for `msgs`.
func render(t *template.Template, system string, msgs []Message) (string, error) {
	if len(msgs) > 0 && msgs[0].Role != "system" && system != "" {
		msgs = append([]Message{{Role: "system", Content: system}}, msgs...)
	}
	var systems []string
	var collated []*Message
	for i := range msgs {
		m := msgs[i]
		if m.Role == "system" {
			systems = append(systems, m.Content)
		}
		if n := len(collated); n > 0 && collated[n-1].Role == m.Role && m.Role != "tool" {
			collated[n-1].Content += "\n\n" + m.Content
		} else {
			collated = append(collated, &m)
		}
	}
	var b bytes.Buffer
	err := t.Execute(&b, map[string]any{
		"System":      strings.Join(systems, "\n\n"),
		"Messages":    collated,
		"Tools":       nil,
		"Response":    "",
		"Think":       false,
		"ThinkLevel":  "",
		"IsThinkSet":  false,
		"Query":       "",
		"Document":    "",
		"Instruction": "",
	})
	return b.String(), err
}

func parseConversation(line string) ([]Message, error) {
	var wrapped struct {
		Messages []Message `json:"messages"`
	}
	if strings.HasPrefix(strings.TrimSpace(line), "[") {
		err := json.Unmarshal([]byte(line), &wrapped.Messages)
		return wrapped.Messages, err
	}
	if err := json.Unmarshal([]byte(line), &wrapped); err != nil {
		return nil, err
	}
	if wrapped.Messages == nil {
		return nil, errors.New(`expected {"messages": [...]} or a list`)
	}
	return wrapped.Messages, nil
}

func run() error {
	info := flag.Bool("info", false, "print the Modelfile's template, system text and stops as JSON")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: render_ollama_template [-info] MODELFILE < conversations.jsonl")
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	m, err := readModelfile(flag.Arg(0))
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	if *info {
		return enc.Encode(m)
	}
	t, err := parseTemplate(m.Template)
	if err != nil {
		return fmt.Errorf("%s: TEMPLATE: %w", flag.Arg(0), err)
	}
	in := bufio.NewReader(os.Stdin)
	for n := 1; ; n++ {
		line, err := in.ReadString('\n')
		if err != nil && err != io.EOF {
			return err
		}
		if strings.Trim(line, " \t\r\n") != "" {
			msgs, perr := parseConversation(line)
			if perr != nil {
				return fmt.Errorf("stdin:%d: %w", n, perr)
			}
			text, rerr := render(t, m.System, msgs)
			if rerr != nil {
				return fmt.Errorf("stdin:%d: %w", n, rerr)
			}
			if err := enc.Encode(text); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "render_ollama_template:", err)
		os.Exit(1)
	}
}
