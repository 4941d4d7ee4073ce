#include "train/commands/commands.h"

#include <algorithm>

namespace slimtune::train {

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"quickstart", "the main job on the embedded default: curate, fine-tune, evaluate, export",
         run_quickstart_command},
        {"curate", "filter, deduplicate, redact and balance a JSONL dataset; report + manifest",
         run_curate},
        {"train", "fine-tune a model (LoRA or full) on curated data; --resume continues",
         run_train},
        {"export", "GGUF (llama.cpp, ollama), GGUF LoRA, merged safetensors or PEFT files",
         run_export},
        {"report", "report.html (inline SVG charts) and loss.svg of a run or quickstart directory",
         run_report},
        {"corpus", "general and medical text from Debian's GCIDE dictionary, as JSONL", run_corpus},
        {"init", "a randomly initialised model directory (llama, gpt2) to pretrain from scratch",
         run_init},
        {"inspect", "architecture, parameter count, dtypes and memory of a model or adapter",
         run_inspect},
        {"logits", "logits of a token sequence, written as a float32 .npy file", run_logits},
        {"eval", "loss and perplexity of a JSONL dataset; --adapter, --compare-base with the base",
         run_eval},
        {"generate", "continue a prompt, streaming the text; --adapter, --chat", run_generate},
        {"tokenize", "text lines -> token ids as JSON lines, or back with --decode", run_tokenize},
        {"tokenizer-train", "learn a byte-level BPE tokenizer from JSONL or text",
         run_tokenizer_train},
        {"chat-template", "render conversations with a model's chat template (text, ids)",
         run_chat_template},
        {"help", "a command's help, the man page (--man) or the bash completion", run_help},
    };
    return table;
}

const Command* find_command(const std::string& name) {
    const auto& t = commands();
    const auto it =
        std::find_if(t.begin(), t.end(), [&](const Command& c) { return c.name == name; });
    return it == t.end() ? nullptr : &*it;
}

std::string usage_text() {
    std::string s = "usage: slimtune <command> [options]\n\ncommands:\n";
    for (const Command& c : commands()) {
        std::string name = c.name;
        name.resize(std::max<size_t>(name.size() + 2, 17), ' ');
        s += "  " + name + c.summary + "\n";
    }
    s += "  version          print the version\n\n"
         "Run 'slimtune <command> --help' for a command's options, 'man slimtune' for all.\n"
         "Exit status: 0 success, 1 error, 2 usage error, 130 interrupted (Ctrl-C),\n"
         "143 terminated (SIGTERM); a stopped training run keeps a checkpoint.\n";
    return s;
}

} // namespace slimtune::train
