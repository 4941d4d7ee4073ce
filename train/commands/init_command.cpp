// `slimtune init`: a new, randomly initialised Hugging Face model directory for a named
// architecture and size, with a tokenizer's files: the start of a pretraining run (train.mode =
// full), as transformers' `AutoModelForCausalLM.from_config` would give it.
#include "common/atomic_file.h"
#include "common/error.h"
#include "data/tokenizer/tokenizer.h"
#include "model/hf_config.h"
#include "model/init.h"
#include "model/io/save_model.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"

#include <array>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace slimtune::train {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// The named sizes: llama ones in the SmolLM2 style (GQA, tied embeddings), gpt2 ones as GPT-2.
// Parameter counts are for an 8192-token vocabulary.
struct ModelSize {
    const char* arch;
    const char* name;
    int64_t hidden, layers, heads, kv_heads, intermediate, context;
    const char* about;
};
constexpr std::array<ModelSize, 6> kSizes{{
    {"llama", "tiny", 256, 6, 8, 4, 704, 1024, "6.5 M parameters"},
    {"llama", "small", 384, 8, 6, 2, 1024, 2048, "15.7 M parameters"},
    {"llama", "base", 576, 30, 9, 3, 1536, 2048, "SmolLM2-135M's shape"},
    {"gpt2", "tiny", 256, 6, 4, 4, 1024, 1024, "7.1 M parameters"},
    {"gpt2", "small", 384, 8, 6, 6, 1536, 1024, "17.8 M parameters"},
    {"gpt2", "base", 768, 12, 12, 12, 3072, 1024, "GPT-2 124M's shape"},
}};

std::string sizes_help() {
    std::string s;
    for (const ModelSize& m : kSizes)
        s += std::string(s.empty() ? "" : ", ") + m.arch + " " + m.name + " (" + m.about + ")";
    return s;
}

const ModelSize& find_size(const std::string& arch, const std::string& name) {
    for (const ModelSize& m : kSizes)
        if (arch == m.arch && name == m.name)
            return m;
    throw UsageError("--size: no size '" + name + "' for --arch " + arch +
                     " (known: " + sizes_help() + ")");
}

// The files of a tokenizer directory that a model directory carries.
constexpr std::array<const char*, 5> kTokenizerFiles{"tokenizer.json", "tokenizer_config.json",
                                                     "special_tokens_map.json", "vocab.json",
                                                     "merges.txt"};

ModelConfig config_for(const std::string& arch,
                       const ModelSize& size,
                       const data::Tokenizer& tok,
                       const std::string& tokenizer_dir) {
    ModelConfig c;
    c.model_type = arch;
    c.family = arch == "gpt2" ? Family::Gpt2 : Family::Llama;
    c.vocab_size = static_cast<int64_t>(tok.vocab_size());
    c.hidden = size.hidden;
    c.n_layer = size.layers;
    c.n_head = size.heads;
    c.n_head_kv = size.kv_heads;
    c.head_dim = size.hidden / size.heads;
    c.intermediate = size.intermediate;
    c.max_positions = size.context;
    c.tie_word_embeddings = true;
    if (c.family == Family::Gpt2)
        c.qkv_bias = c.o_bias = c.mlp_bias = true;
    const std::optional<int32_t> eos = tok.eos_id();
    if (!eos)
        throw ConfigError(tokenizer_dir + ": the tokenizer names no eos_token in the vocabulary "
                                          "(tokenizer_config.json); a language model needs one");
    c.eos_token_ids = {*eos};
    c.bos_token_id = tok.bos_id().value_or(*eos);
    return c;
}

} // namespace

int run_init(const std::vector<std::string>& args) {
    std::string arch = "llama", size_name, tokenizer_dir, out_dir;
    uint64_t seed = 0;
    int64_t hidden = 0, layers = 0, heads = 0, kv_heads = 0, intermediate = 0, context = 0;
    po::options_description opts("slimtune init --size NAME --tokenizer DIR --out DIR: a randomly "
                                 "initialised model directory to pretrain from scratch");
    opts.add_options()("arch", po::value(&arch)->default_value(arch), "llama or gpt2")(
        "size", po::value(&size_name)->required(), ("named size: " + sizes_help()).c_str())(
        "tokenizer", po::value(&tokenizer_dir)->required(),
        "directory with tokenizer.json (as slimtune tokenizer-train writes it)")(
        "out", po::value(&out_dir)->required(), "new model directory (must not exist)")(
        "seed", po::value(&seed)->default_value(0), "seed of the random weights")(
        "hidden", po::value(&hidden)->default_value(0), "override: hidden size")(
        "layers", po::value(&layers)->default_value(0), "override: block count")(
        "heads", po::value(&heads)->default_value(0), "override: attention heads")(
        "kv-heads", po::value(&kv_heads)->default_value(0), "override: key/value heads (llama)")(
        "intermediate", po::value(&intermediate)->default_value(0), "override: MLP width")(
        "context", po::value(&context)->default_value(0), "override: max_position_embeddings");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    if (arch != "llama" && arch != "gpt2")
        throw UsageError("--arch must be llama or gpt2, got '" + arch + "'");
    ModelSize size = find_size(arch, size_name);
    for (auto [value, field] : {std::pair{hidden, &size.hidden},
                                {layers, &size.layers},
                                {heads, &size.heads},
                                {kv_heads, &size.kv_heads},
                                {intermediate, &size.intermediate},
                                {context, &size.context}}) {
        if (value < 0)
            throw UsageError("init: sizes must be positive");
        if (value > 0)
            *field = value;
    }
    if (arch == "gpt2")
        size.kv_heads = size.heads;
    if (size.hidden % size.heads != 0 || size.heads % size.kv_heads != 0)
        throw UsageError("init: --hidden must be a multiple of --heads, and --heads of --kv-heads");
    if (fs::exists(out_dir))
        throw UsageError("--out: " + out_dir + " exists; init writes a new directory only");

    // Phase 1: the configuration, from the size and the tokenizer's vocabulary and ids.
    const fs::path tok_json = fs::path(tokenizer_dir) / "tokenizer.json";
    const data::Tokenizer tok = data::Tokenizer::load(tok_json);
    const ModelConfig cfg = config_for(arch, size, tok, tokenizer_dir);
    parse_hf_config(hf_config_json(cfg), "init"); // the written config reads back as valid

    // Phase 2: the source directory save_hf_model copies config and tokenizer files from.
    const fs::path source =
        fs::path(out_dir).parent_path() / (fs::path(out_dir).filename().string() + ".init-source");
    fs::remove_all(source);
    if (std::error_code ec; !fs::create_directories(source, ec) && ec)
        throw Error(source.string() + ": cannot create the directory: " + ec.message());
    struct RemoveSource {
        fs::path p;
        ~RemoveSource() {
            std::error_code ec;
            fs::remove_all(p, ec);
        }
    } cleanup{source};
    write_file_atomic((source / "config.json").string(),
                      [&](std::ostream& os) { os << hf_config_json(cfg); });
    for (const char* name : kTokenizerFiles)
        if (fs::exists(fs::path(tokenizer_dir) / name))
            fs::copy_file(fs::path(tokenizer_dir) / name, source / name);

    // Phase 3: random weights, written as a Hugging Face directory.
    Model m = model_skeleton(cfg);
    init_random_weights(m, seed);
    io::save_hf_model(m, source.string(), out_dir);
    const int64_t params = model_param_count(m);
    std::printf("init: %s %s, %lld layers, hidden %lld, %lld heads (%lld kv), ffn %lld, vocab "
                "%lld: %.2f M parameters (seed %llu) -> %s\n",
                arch.c_str(), size_name.c_str(), static_cast<long long>(cfg.n_layer),
                static_cast<long long>(cfg.hidden), static_cast<long long>(cfg.n_head),
                static_cast<long long>(cfg.n_head_kv), static_cast<long long>(cfg.intermediate),
                static_cast<long long>(cfg.vocab_size), static_cast<double>(params) / 1e6,
                static_cast<unsigned long long>(seed), out_dir.c_str());
    return 0;
}

} // namespace slimtune::train
