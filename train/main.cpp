// slimtune: the command-line entry point. Thin on purpose: it picks the subcommand and turns
// every error into one line on stderr and a non-zero exit code.
#include "common/error.h"
#include "common/process.h"
#include "train/commands/commands.h"

#include <boost/program_options/errors.hpp>
#include <cstdio>
#include <exception>
#include <map>
#include <string>

namespace {

constexpr const char* kUsage =
    "usage: slimtune <command> [options]\n"
    "\n"
    "commands:\n"
    "  demo      train a small byte-level transformer on bundled text (end-to-end check)\n"
    "  curate    filter, deduplicate, redact and balance a JSONL dataset; report + manifest\n"
    "  train     fine-tune a model (LoRA or full) on curated data; --resume continues\n"
    "  export    GGUF (llama.cpp, ollama), GGUF LoRA, merged safetensors or PEFT files\n"
    "  inspect   architecture, parameter count, dtypes and memory of a model directory\n"
    "  logits    logits of a token sequence, written as a float32 .npy file\n"
    "  eval      mean next-token loss and perplexity of a JSONL dataset\n"
    "  generate  continue a token sequence (greedy or sampled)\n"
    "  tokenize  text lines -> token ids as JSON lines, or back with --decode\n"
    "  tokenizer-train  learn a byte-level BPE tokenizer from JSONL or text\n"
    "  chat-template    render conversations with a model's chat template (text, ids)\n"
    "  version   print the version\n"
    "\n"
    "Run 'slimtune <command> --help' for a command's options.\n";

} // namespace

int main(int argc, char** argv) {
    using namespace slimtune;
    const std::map<std::string, int (*)(const std::vector<std::string>&)> commands = {
        {"demo", train::run_demo},
        {"logits", train::run_logits},
        {"eval", train::run_eval},
        {"generate", train::run_generate},
        {"inspect", train::run_inspect},
        {"tokenize", train::run_tokenize},
        {"curate", train::run_curate},
        {"tokenizer-train", train::run_tokenizer_train},
        {"chat-template", train::run_chat_template},
        {"train", train::run_train},
        {"export", train::run_export},
    };
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    keep_freed_memory_resident();
    const std::string name = argv[1];
    if (name == "version" || name == "--version") {
        std::printf("slimtune %s\n", SLIMTUNE_VERSION);
        return 0;
    }
    const auto it = commands.find(name);
    if (it == commands.end()) {
        std::fprintf(stderr, "slimtune: unknown command '%s' (run 'slimtune --help')\n",
                     name.c_str());
        return 2;
    }
    try {
        return it->second(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const boost::program_options::error& e) {
        std::fprintf(stderr, "slimtune %s: %s\n", name.c_str(), e.what());
        return 2;
    } catch (const Error& e) {
        std::fprintf(stderr, "slimtune %s: %s\n", name.c_str(), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "slimtune %s: unexpected error: %s\n", name.c_str(), e.what());
        return 1;
    }
}
