// slimtune export --model DIR [--adapter DIR] --format gguf|gguf-lora|hf|peft|ollama
//                 --type T[,T...] --out PATH
#include "common/error.h"
#include "model/io/export_type.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/export/export.h"

#include <boost/program_options.hpp>
#include <iostream>

namespace slimtune::train {

namespace po = boost::program_options;

int run_export(const std::vector<std::string>& args) {
    ExportOptions o;
    std::string types = "f16";
    double shard_gb = 2.0;
    int threads = 0;
    std::string type_list;
    for (const std::string& name : io::export_type_names())
        type_list += " " + name;
    po::options_description opts(
        std::string("slimtune export: a model (or base + adapter) as files a deployment runs\n") +
        "  --format gguf      --type T[,T...] --out FILE.gguf (one type) or DIR\n"
        "  --format gguf-lora --adapter DIR --type f32|f16|bf16 --out FILE.gguf\n"
        "  --format hf        --out DIR (merged model, safetensors)\n"
        "  --format peft      --adapter DIR --out DIR\n"
        "  --format ollama    --type T --out DIR (GGUF + Modelfile)\n"
        "types:" +
        type_list);
    opts.add_options()("model", po::value(&o.model_dir)->required(),
                       "Hugging Face model directory (base model or full fine-tune)")(
        "adapter", po::value(&o.adapter_dir),
        "PEFT adapter directory (merged unless exported alone)")(
        "tokenizer", po::value(&o.tokenizer_dir), "tokenizer directory (default: --model)")(
        "format", po::value(&o.format)->default_value("gguf"), "gguf, gguf-lora, hf, peft, ollama")(
        "type", po::value(&types)->default_value("f16"), "export type(s), comma-separated")(
        "out", po::value(&o.out)->required(), "output file (.gguf) or directory")(
        "name", po::value(&o.name), "model name (general.name, file names)")(
        "chat-template", po::value(&o.chat_template),
        "chat format of every output (default: the one training recorded, else the "
        "tokenizer's own)")("max-shard-gb", po::value(&shard_gb)->default_value(2.0),
                            "hf: shard size limit in GB")(
        "eval-data", po::value(&o.eval_data),
        "model card: JSONL (e.g. the validation split) each exported type is scored on")(
        "eval-max-tokens", po::value(&o.eval_max_tokens)->default_value(0),
        "model card: score at most this many tokens (0: all)")(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    set_threads(threads);
    if (!(shard_gb > 0.0))
        throw UsageError("--max-shard-gb must be positive");
    o.max_shard_bytes = static_cast<uint64_t>(shard_gb * 1e9);
    o.types = option_value("type", [&] { return io::parse_export_types(types); });
    export_model(o, std::cerr);
    return 0;
}

} // namespace slimtune::train
