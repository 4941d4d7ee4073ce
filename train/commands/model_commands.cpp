// The commands that run a model: logits, eval, generate, inspect. --model is a Hugging Face
// directory or a .gguf file (dequantized to float32 on load, its embedded tokenizer used);
// eval and generate apply a fine-tuning to it with --adapter (train/adapter.h).
#include "common/error.h"
#include "common/text.h"
#include "data/chat_template.h"
#include "data/examples.h"
#include "data/tokenizer/streaming_decoder.h"
#include "data/tokenizer/tokenizer.h"
#include "model/autograd.h"
#include "model/generate.h"
#include "model/io/checkpoint.h"
#include "model/io/gguf_adapter.h"
#include "model/io/gguf_model.h"
#include "model/io/npy.h"
#include "model/transformer.h"
#include "train/adapter.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/evaluate.h"
#include "train/gguf_tokenizer.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>

namespace slimtune::train {

namespace po = boost::program_options;
using nlohmann::json;

namespace {

// "1,2,3" -> ids, each checked against the vocabulary.
std::vector<int32_t> parse_tokens(const std::string& text, int64_t vocab) {
    std::vector<int32_t> ids;
    for (const std::string& item : split_list(text, ',')) {
        size_t used = 0;
        long long v = -1;
        try {
            v = std::stoll(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size())
            throw UsageError("--tokens: '" + item + "' is not an integer (expected e.g. 1,2,3)");
        if (v < 0 || v >= vocab)
            throw UsageError("--tokens: id " + item + " is outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
        ids.push_back(static_cast<int32_t>(v));
    }
    if (ids.empty())
        throw UsageError("--tokens: no token ids given");
    return ids;
}

std::vector<int32_t> iota_positions(int64_t n) {
    std::vector<int32_t> p(static_cast<size_t>(n));
    std::iota(p.begin(), p.end(), 0);
    return p;
}

// --weights float32|stored: how the blocks' projection weights are held (see LoadOptions).
const char* kWeightsHelp = "float32, or stored: keep BF16/F16 projection weights as the "
                           "checkpoint stores them (half the memory)";

const char* kModelHelp = "Hugging Face model directory, or a .gguf file";
const char* kBaseModelHelp = "Hugging Face model directory, or a .gguf file: the base model when "
                             "--adapter is given (a full fine-tuning run directory works too)";
const char* kAdapterHelp = "apply a fine-tuning: a PEFT adapter directory, or a training run "
                           "directory (its adapter/, or the model/ of a full fine-tuning)";

// Whether a command needs the model's tokenizer: not at all, when the model has one (eval:
// only text records need it), or always (generate --prompt).
enum class TokenizerUse { None, IfPresent, Required };

struct LoadedModel {
    Model model;
    std::unique_ptr<data::Tokenizer> tokenizer; // null when not needed or absent
};

// The model of --model and its tokenizer: --tokenizer when given, else the directory's files
// or the GGUF's embedded tokenizer.json. The GGUF is unmapped before the command runs, so its
// pages do not stay resident beside the float32 weights.
LoadedModel load_for_inference(const std::string& model,
                               const std::string& weights,
                               const std::string& tokenizer = "",
                               TokenizerUse use = TokenizerUse::None) {
    if (weights != "float32" && weights != "stored")
        throw UsageError("--weights must be float32 or stored, got '" + weights + "'");
    LoadedModel r;
    const bool wanted = use != TokenizerUse::None;
    if (!tokenizer.empty() && wanted)
        r.tokenizer = std::make_unique<data::Tokenizer>(data::Tokenizer::load(tokenizer));
    if (io::is_gguf_path(model)) {
        if (weights == "stored")
            throw UsageError("--weights stored keeps a checkpoint's 16-bit weights; a GGUF is "
                             "dequantized to float32 (leave --weights out)");
        const io::GgufFile f = io::GgufFile::open(model);
        if (!r.tokenizer &&
            (use == TokenizerUse::Required || (wanted && f.find("tokenizer.huggingface.json"))))
            r.tokenizer = std::make_unique<data::Tokenizer>(gguf_tokenizer(f));
        r.model = io::load_gguf_model(f);
        return r;
    }
    r.model = load_model(model, {.keep_16bit_projections = weights == "stored"});
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!r.tokenizer && (use == TokenizerUse::Required ||
                         (wanted && (fs::exists(fs::path(model) / "tokenizer.json", ec) ||
                                     fs::exists(fs::path(model) / "vocab.json", ec)))))
        r.tokenizer = std::make_unique<data::Tokenizer>(data::Tokenizer::load(model));
    return r;
}

} // namespace

int run_logits(const std::vector<std::string>& args) {
    std::string model_dir, tokens, out, weights;
    int threads = 0;
    po::options_description opts("slimtune logits: logits of a token sequence as float32 .npy");
    opts.add_options()("model", po::value(&model_dir)->required(), kModelHelp)(
        "tokens", po::value(&tokens)->required(), "comma-separated token ids, e.g. 1,2,3")(
        "out", po::value(&out)->required(), "output .npy file ([T, vocab] float32)")(
        "weights", po::value(&weights)->default_value("float32"), kWeightsHelp)(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    set_threads(threads);
    const Model m = load_for_inference(model_dir, weights).model;
    const std::vector<int32_t> ids = parse_tokens(tokens, m.cfg.vocab_size);
    const int64_t T = static_cast<int64_t>(ids.size());
    NoGradGuard no_grad;
    const std::vector<int32_t> pos = iota_positions(T);
    Tensor logits = model_logits(
        m, model_hidden(m, ids, {.batch = 1, .seq = T, .positions = pos, .doc_ids = {}}));
    io::write_npy_f32(out, {T, m.cfg.vocab_size}, logits.values());
    return 0;
}

namespace {

// One row of eval's table: a model and its loss on the data.
struct EvalRow {
    std::string label; // "model", "base" or "fine-tuned"
    DatasetLoss loss;
};

json loss_json(const DatasetLoss& d) {
    return {{"loss", d.loss},
            {"perplexity", d.perplexity},
            {"tokens", d.tokens},
            {"examples", d.examples}};
}

// --json: one model's object as it always was; with --compare-base, both and the delta.
json eval_json(const std::vector<EvalRow>& rows,
               const FineTuneSource& src,
               const std::string& data) {
    json fine_tuned = loss_json(rows.back().loss);
    fine_tuned["model"] = src.weights();
    if (!src.adapter.empty())
        fine_tuned["adapter"] = src.adapter;
    if (rows.size() == 1) {
        fine_tuned["data"] = data;
        return fine_tuned;
    }
    json base = loss_json(rows.front().loss);
    base["model"] = src.base;
    const DatasetLoss &b = rows.front().loss, &f = rows.back().loss;
    return {{"data", data},
            {"base", base},
            {"fine_tuned", fine_tuned},
            {"delta", {{"loss", f.loss - b.loss}, {"perplexity", f.perplexity - b.perplexity}}}};
}

// The table: loss, perplexity, scored tokens and examples per model, then the change.
void print_eval_table(const std::vector<EvalRow>& rows) {
    std::ostringstream os; // formatting flags stay off std::cout
    os << std::left << std::setw(10) << "" << std::right << std::setw(10) << "loss" << std::setw(13)
       << "perplexity" << std::setw(10) << "tokens" << std::setw(10) << "examples"
       << "\n";
    os << std::fixed << std::setprecision(4);
    for (const EvalRow& r : rows)
        os << std::left << std::setw(10) << r.label << std::right << std::setw(10) << r.loss.loss
           << std::setw(13) << r.loss.perplexity << std::setw(10) << r.loss.tokens << std::setw(10)
           << r.loss.examples << "\n";
    if (rows.size() == 2) {
        const DatasetLoss &b = rows.front().loss, &f = rows.back().loss;
        os << std::left << std::setw(10) << "delta" << std::right << std::showpos << std::setw(10)
           << f.loss - b.loss << std::setw(13) << f.perplexity - b.perplexity
           << std::setprecision(1) << std::setw(9) << 100.0 * (f.perplexity / b.perplexity - 1.0)
           << "% perplexity\n";
    }
    std::cout << os.str() << std::flush;
}

} // namespace

int run_eval(const std::vector<std::string>& args) {
    std::string model_dir, adapter, data, weights, tokenizer_path, format, chat_template;
    int threads = 0;
    bool compare_base = false, as_json = false;
    po::options_description opts(
        "slimtune eval: mean next-token loss and perplexity of a JSONL dataset");
    opts.add_options()("model", po::value(&model_dir)->required(),
                       kBaseModelHelp)("adapter", po::value(&adapter), kAdapterHelp)(
        "compare-base", po::bool_switch(&compare_base),
        "with --adapter: evaluate the base model too, and print both with the change")(
        "data", po::value(&data)->required(),
        "JSONL examples in any training format (docs/curation.md): scored where training "
        "learns (completions, assistant turns; labels -100 are not scored)")(
        "format", po::value(&format)->default_value("auto"),
        "record format: auto, text, prompt_completion, alpaca, messages, sharegpt, tokens")(
        "chat-template", po::value(&chat_template),
        "for chat records: chatml, qwen3, llama3, gemma, llama2 or alpaca (default: the one "
        "recorded at training, else detected)")(
        "tokenizer", po::value(&tokenizer_path),
        "tokenizer for text examples (default: the model's own)")("json", po::bool_switch(&as_json),
                                                                  "print JSON instead of a table")(
        "weights", po::value(&weights)->default_value("float32"), kWeightsHelp)(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    set_threads(threads);
    if (compare_base && adapter.empty())
        throw UsageError("--compare-base compares a fine-tuning with its base: pass --adapter DIR");
    const FineTuneSource src = resolve_fine_tune(model_dir, adapter, std::cerr);
    // The same reading as training (data/examples.h); the tokenizer only when there is one.
    // Which chat template, said once the adapter has loaded (so that a bad one is one line).
    std::ostringstream template_note;
    const std::string tmpl = chat_template_for(src, chat_template, template_note);
    auto load = [&](const std::string& model) {
        return load_for_inference(model, weights, tokenizer_path, TokenizerUse::IfPresent);
    };
    // ExampleOptions point at the tokenizer: `l` must outlive them.
    auto options_for = [&](const LoadedModel& l) {
        return data::example_options(
            {.record = {.format = option_value(
                            "format", [&] { return data::parse_dataset_format(format); })}},
            tmpl, l.tokenizer.get(), l.model.cfg.vocab_size);
    };
    std::vector<EvalRow> rows;
    // A full fine-tune's base is a model of its own, scored (and freed) before the fine-tune
    // loads; an adapter's base is the model before the adapter is applied.
    if (compare_base && !src.full_model.empty()) {
        const LoadedModel base = load(src.base);
        rows.push_back({"base", dataset_loss(base.model, data, options_for(base))});
    }
    LoadedModel loaded = load(src.weights());
    Model& m = loaded.model;
    const data::ExampleOptions eo = options_for(loaded);
    if (compare_base && src.full_model.empty())
        rows.push_back({"base", dataset_loss(m, data, eo)});
    if (!src.adapter.empty())
        apply_adapter(m, src.adapter, std::cerr);
    std::cerr << template_note.str();
    rows.push_back({src.fine_tuned() ? "fine-tuned" : "model", dataset_loss(m, data, eo)});
    if (as_json)
        std::cout << eval_json(rows, src, data).dump() << "\n";
    else
        print_eval_table(rows);
    return 0;
}

namespace {

// A model's embedding table may be larger than its tokenizer (padding rows): ids past the
// tokenizer have no text.
bool has_text(const data::Tokenizer& tok, int32_t id) {
    return static_cast<size_t>(id) < tok.vocab_size();
}

// Prints generated tokens to stdout as they come, flushed one at a time: as text through the
// tokenizer (complete characters only), else as comma-separated ids.
class TokenPrinter {
public:
    explicit TokenPrinter(const data::Tokenizer* tok) : tok_(tok) {
        if (tok_)
            text_.emplace(*tok_, data::DecodeOptions{.skip_special_tokens = true});
    }
    void operator()(int32_t id) {
        if (!text_)
            write((count_++ ? "," : "") + std::to_string(id));
        else if (has_text(*tok_, id))
            write(text_->push(id));
    }
    void finish() {
        if (text_)
            write(text_->finish());
        write("\n");
    }

private:
    static void write(const std::string& piece) {
        if (!piece.empty())
            std::cout << piece << std::flush;
    }
    const data::Tokenizer* tok_;
    std::optional<data::StreamingDecoder> text_;
    int64_t count_ = 0;
};

// The prompt's ids: --tokens, or --prompt encoded (through the chat template with --chat).
std::vector<int32_t> prompt_ids(const std::string& prompt,
                                const std::string& tokens,
                                const std::string& chat_template, // "" : the tokenizer's own
                                bool chat,
                                const data::Tokenizer* tok,
                                int64_t vocab) {
    if (prompt.empty())
        return parse_tokens(tokens, vocab);
    std::vector<int32_t> ids;
    if (chat) {
        // The tokenizer's own options (SmolLM2's default system prompt) when the name is its own.
        const data::ChatTemplate tmpl = option_value("chat-template", [&] {
            return data::chat_template_for(chat_template, tok->config(), tok->source());
        });
        const std::vector<data::ChatMessage> turn = {{"user", prompt}};
        // The rendered template carries its own BOS where the model wants one.
        ids = tok->encode(data::render_chat(tmpl, turn, {.add_generation_prompt = true}), false);
    } else {
        ids = tok->encode(prompt, true);
    }
    for (int32_t id : ids)
        if (id >= vocab)
            throw UsageError("the tokenizer gave id " + std::to_string(id) +
                             ", outside the model's vocabulary of " + std::to_string(vocab) +
                             ": wrong --tokenizer?");
    return ids;
}

// --json: the tokens, whether generation ended at EOS, and the text when there is a tokenizer.
json generate_json(const std::vector<int32_t>& out,
                   const std::vector<int32_t>& prompt,
                   const SamplingOptions& s,
                   const data::Tokenizer* tok) {
    const bool stopped = !out.empty() && std::find(s.stop_ids.begin(), s.stop_ids.end(),
                                                   out.back()) != s.stop_ids.end();
    json r = {{"tokens", out}, {"stopped_at_eos", stopped}};
    if (tok) {
        r["prompt_tokens"] = prompt.size();
        std::vector<int32_t> known; // the ids with text; the others are counted
        for (int32_t id : out)
            if (has_text(*tok, id))
                known.push_back(id);
        r["text"] = tok->decode(known, {.skip_special_tokens = true});
        if (known.size() != out.size())
            r["tokens_outside_tokenizer"] = out.size() - known.size();
    }
    return r;
}

} // namespace

int run_generate(const std::vector<std::string>& args) {
    std::string model_dir, adapter, tokens, prompt, weights, tokenizer_path, chat_template;
    int threads = 0;
    SamplingOptions s;
    bool no_cache = false, chat = false, as_json = false;
    po::options_description opts("slimtune generate: continue a prompt, printing the text as it "
                                 "comes");
    opts.add_options()("model", po::value(&model_dir)->required(), kBaseModelHelp)(
        "adapter", po::value(&adapter), kAdapterHelp)("tokens", po::value(&tokens),
                                                      "prompt as comma-separated token ids")(
        "prompt", po::value(&prompt), "prompt text (encoded with the model's tokenizer)")(
        "chat", po::bool_switch(&chat),
        "send --prompt as a user turn through the chat template, with the generation prompt")(
        "chat-template", po::value(&chat_template),
        "with --chat: chatml, qwen3, llama3, gemma, llama2 or alpaca (default: the one recorded "
        "at training, else detected)")("tokenizer", po::value(&tokenizer_path),
                                       "tokenizer (default: the model's own)")(
        "max-new-tokens", po::value(&s.max_new_tokens)->default_value(32), "tokens to generate")(
        "temperature", po::value(&s.temperature)->default_value(0.0f), "0 is greedy")(
        "top-k", po::value(&s.top_k)->default_value(0), "keep the k most likely (0: off)")(
        "top-p", po::value(&s.top_p)->default_value(1.0f), "nucleus sampling mass (1: off)")(
        "repetition-penalty", po::value(&s.repetition_penalty)->default_value(1.0f),
        "> 1 discourages repeats (1: off)")("seed", po::value(&s.seed)->default_value(0),
                                            "sampling seed")(
        "json", po::bool_switch(&as_json),
        "print one JSON object at the end (tokens, text, stopped_at_eos) instead of streaming")(
        "no-cache", po::bool_switch(&no_cache), "recompute the whole sequence at every step")(
        "weights", po::value(&weights)->default_value("float32"), kWeightsHelp)(
        "threads", po::value(&threads)->default_value(0), "OpenMP threads (0: OMP_NUM_THREADS)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    set_threads(threads);
    if (prompt.empty() == tokens.empty())
        throw UsageError("give the prompt as --prompt TEXT or as --tokens 1,2,3 (one of them)");
    if (chat && prompt.empty())
        throw UsageError("--chat needs --prompt");
    check_sampling_options(s);
    const FineTuneSource src = resolve_fine_tune(model_dir, adapter, std::cerr);
    LoadedModel loaded =
        load_for_inference(src.weights(), weights, tokenizer_path,
                           prompt.empty() ? TokenizerUse::IfPresent : TokenizerUse::Required);
    Model& m = loaded.model;
    const data::Tokenizer* tok = loaded.tokenizer.get();
    if (!src.adapter.empty())
        apply_adapter(m, src.adapter, std::cerr);
    s.stop_ids = m.cfg.eos_token_ids;
    s.use_cache = !no_cache;
    const std::string tmpl = chat ? chat_template_for(src, chat_template, std::cerr) : "";
    const std::vector<int32_t> ids = prompt_ids(prompt, tokens, tmpl, chat, tok, m.cfg.vocab_size);
    if (as_json) {
        const std::vector<int32_t> out = generate(m, ids, s);
        std::cout
            << generate_json(out, ids, s, tok).dump(-1, ' ', false, json::error_handler_t::replace)
            << "\n";
        return 0;
    }
    TokenPrinter printer(tok);
    generate(m, ids, s, [&printer](int32_t id) { printer(id); });
    printer.finish();
    return 0;
}

namespace {

// ggml type name -> parameter count, over a GGUF's tensors.
std::map<std::string, int64_t> gguf_dtypes(const io::GgufFile& f) {
    std::map<std::string, int64_t> dtypes;
    for (const io::GgufTensorInfo& t : f.tensors())
        dtypes[std::string(io::gguf_type_layout(t.type)->name)] +=
            std::accumulate(t.ne.begin(), t.ne.end(), int64_t{1}, std::multiplies<int64_t>());
    return dtypes;
}

// inspect on a GGUF adapter (`export --format gguf-lora`, llama.cpp's convert_lora_to_gguf):
// what it adapts, with what alpha and ranks, for which architecture, from which run.
void print_gguf_adapter(const io::GgufFile& f, bool as_json) {
    const io::GgufAdapterInfo a = io::gguf_adapter_info(f);
    json targets = json::array(), provenance = json::object();
    for (const io::GgufLoraTarget& t : a.targets)
        targets.push_back({{"tensor", t.tensor}, {"rank", t.rank}, {"in", t.in}, {"out", t.out}});
    for (const auto& [key, value] : a.provenance)
        provenance[key] = value;
    if (as_json) {
        const json r = {{"type", "adapter"},
                        {"adapter_type", a.adapter_type},
                        {"architecture", a.architecture},
                        {"alpha", a.alpha},
                        {"ranks", a.ranks},
                        {"targets", targets},
                        {"parameters", a.parameters},
                        {"stored_bytes", f.file_size()},
                        {"stored_dtypes", gguf_dtypes(f)},
                        {"provenance", provenance}};
        std::cout << r.dump(2) << "\n";
        return;
    }
    std::ostream& os = std::cout;
    os << "GGUF " << a.adapter_type << " adapter (not a model: llama.cpp applies it to a base "
       << a.architecture << " model with --lora)\n";
    os << "alpha " << a.alpha << ", rank";
    for (size_t i = 0; i < a.ranks.size(); ++i)
        os << (i ? ", " : " ") << a.ranks[i];
    os << "; " << a.targets.size() << " target tensors, " << a.parameters << " parameters;"
       << " stored: " << f.file_size() << " bytes";
    for (const auto& [dt, n] : gguf_dtypes(f))
        os << ", " << dt << " " << n;
    os << "\ntargets:\n";
    for (const io::GgufLoraTarget& t : a.targets)
        os << "  " << t.tensor << "  rank " << t.rank << ", " << t.in << " -> " << t.out << "\n";
    os << "provenance:" << (a.provenance.empty() ? " none\n" : "\n");
    for (const auto& [key, value] : a.provenance)
        os << "  " << key << " = " << value << "\n";
}

} // namespace

int run_inspect(const std::vector<std::string>& args) {
    std::string model_dir;
    bool as_json = false;
    po::options_description opts(
        "slimtune inspect MODEL: what a Hugging Face model directory, a GGUF model or a GGUF "
        "LoRA adapter holds");
    opts.add_options()("model", po::value(&model_dir)->required(), kModelHelp);
    opts.add_options()("json", po::bool_switch(&as_json), "print JSON instead of text");
    po::positional_options_description pos;
    pos.add("model", 1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &pos))
        return 0;
    Model m;
    uint64_t stored_bytes = 0;
    std::map<std::string, int64_t> dtypes; // dtype (a GGUF: ggml type) -> parameter count
    if (io::is_gguf_path(model_dir)) {
        const io::GgufFile f = io::GgufFile::open(model_dir);
        if (io::is_gguf_adapter(f)) {
            print_gguf_adapter(f, as_json);
            return 0;
        }
        m = model_skeleton(io::gguf_model_config(f));
        dtypes = gguf_dtypes(f);
        stored_bytes = f.file_size();
    } else {
        // open_checkpoint_model checks every tensor's name and shape against the config, as
        // loading does: inspect succeeded on models that every command then refused.
        CheckpointModel opened = open_checkpoint_model(model_dir);
        m = std::move(opened.model);
        const io::CheckpointReader& ckpt = opened.ckpt;
        for (const std::string& n : ckpt.names())
            dtypes[io::dtype_name(ckpt.entry(n).dtype)] += ckpt.entry(n).numel();
        stored_bytes = ckpt.total_bytes();
    }
    const ModelConfig& c = m.cfg;
    const int64_t params = model_param_count(m);
    const double gib = 1024.0 * 1024.0 * 1024.0;
    json r = {{"model_type", c.model_type},
              {"family", family_name(c.family)},
              {"vocab_size", c.vocab_size},
              {"hidden_size", c.hidden},
              {"layers", c.n_layer},
              {"heads", c.n_head},
              {"kv_heads", c.n_head_kv},
              {"head_dim", c.head_dim},
              {"intermediate_size", c.intermediate},
              {"tied_embeddings", c.tie_word_embeddings},
              {"parameters", params},
              {"stored_bytes", stored_bytes},
              {"stored_dtypes", dtypes},
              {"memory_f32_inference_gib", static_cast<double>(params) * 4 / gib},
              // weights, gradients and two AdamW moments, all float32
              {"memory_f32_full_finetune_gib", static_cast<double>(params) * 16 / gib},
              {"eos_token_ids", c.eos_token_ids}};
    if (as_json) {
        std::cout << r.dump(2) << "\n";
        return 0;
    }
    std::printf("%s (%s family): %lld layers, hidden %lld, %lld heads (%lld kv, head dim %lld), "
                "ffn %lld, vocab %lld%s\n",
                c.model_type.c_str(), family_name(c.family), static_cast<long long>(c.n_layer),
                static_cast<long long>(c.hidden), static_cast<long long>(c.n_head),
                static_cast<long long>(c.n_head_kv), static_cast<long long>(c.head_dim),
                static_cast<long long>(c.intermediate), static_cast<long long>(c.vocab_size),
                c.tie_word_embeddings ? ", tied embeddings" : "");
    std::printf("parameters: %lld (%.1f M); stored: %.1f MB", static_cast<long long>(params),
                static_cast<double>(params) / 1e6, static_cast<double>(stored_bytes) / 1e6);
    for (const auto& [dt, n] : dtypes)
        std::printf(", %s %lld", dt.c_str(), static_cast<long long>(n));
    std::printf("\nmemory estimate: %.2f GiB to run in float32, %.2f GiB for full fine-tuning "
                "with AdamW (weights, gradients, 2 moments)\n",
                static_cast<double>(params) * 4 / gib, static_cast<double>(params) * 16 / gib);
    return 0;
}

} // namespace slimtune::train
