// The tokenizer commands: tokenize (text <-> ids), tokenizer-train (learn a byte-level BPE) and
// chat-template (render conversations as the model's chat template does).
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/chat_template.h"
#include "data/dataset_format.h"
#include "data/tokenizer/bpe_trainer.h"
#include "data/tokenizer/tokenizer.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/export/ollama_modelfile.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

namespace slimtune::train {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One JSON value per input line; FormatError naming the line when it is not JSON.
json parse_line(const std::string& line, const std::string& where, const std::string& expected) {
    check_json_depth(line, where);
    try {
        return json::parse(line);
    } catch (const json::parse_error&) {
        throw FormatError(where + ": not JSON (expected " + expected + ")");
    }
}

// A line holding {"KEY": [...]} or the bare list.
json list_line(const std::string& line, const std::string& where, const std::string& key) {
    const std::string expected = "{\"" + key + "\": [...]} or a list";
    json j = parse_line(line, where, expected);
    if (j.is_object() && j.contains(key))
        j = j[key];
    if (!j.is_array())
        throw FormatError(where + ": expected " + expected);
    return j;
}

// A line holding an object with the string field `field`.
std::string
text_field_line(const std::string& line, const std::string& where, const std::string& field) {
    const json j = parse_line(line, where, "a JSON object");
    if (!j.is_object() || !j.contains(field) || !j[field].is_string())
        throw FormatError(where + ": missing string field '" + field + "'");
    return j[field].get<std::string>();
}

// A line of --decode input: [1,2,3] or {"ids": [1,2,3]}.
std::vector<std::int32_t> parse_id_line(const std::string& line, const std::string& where) {
    const json j = list_line(line, where, "ids");
    std::vector<std::int32_t> ids;
    for (const json& e : j) {
        if (!e.is_number_integer() || e.get<std::int64_t>() < 0 ||
            e.get<std::int64_t>() > INT32_MAX)
            throw FormatError(where + ": token ids must be non-negative integers");
        ids.push_back(e.get<std::int32_t>());
    }
    return ids;
}

// A conversation line: {"messages": [{"role", "content"}, ...]} or the bare list.
std::vector<data::ChatMessage> parse_conversation(const std::string& line,
                                                  const std::string& where) {
    const json j = list_line(line, where, "messages");
    std::vector<data::ChatMessage> messages;
    for (std::size_t i = 0; i < j.size(); ++i) {
        const json& m = j[i];
        if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
            !m.contains("content") || !m["content"].is_string())
            throw FormatError(where + ": message " + std::to_string(i) +
                              " needs string \"role\" and \"content\"");
        messages.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    }
    return messages;
}

} // namespace

int run_tokenize(const std::vector<std::string>& args) {
    std::string path, field;
    bool decode = false, no_special = false, skip_special = false, jsonl = false, as_json = false;
    po::options_description opts(
        "slimtune tokenize --tokenizer DIR_OR_FILE: text lines on stdin -> token ids as JSON lines "
        "(or back with --decode)");
    opts.add_options()("tokenizer", po::value(&path)->required(),
                       "model directory or tokenizer.json (vocab.json + merges.txt also read)")(
        "decode", po::bool_switch(&decode), "read id lists ([1,2] or {\"ids\":[..]}), print text")(
        "jsonl", po::bool_switch(&jsonl),
        "input lines are JSON objects; encode their --field (text with newlines)")(
        "field", po::value(&field)->default_value("text"),
        "the field --jsonl encodes")("no-special", po::bool_switch(&no_special),
                                     "do not add BOS/EOS (add_special_tokens=false)")(
        "skip-special", po::bool_switch(&skip_special), "--decode: drop special tokens")(
        "json", po::bool_switch(&as_json), "--decode: print each text as a JSON string");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    const data::Tokenizer tok = data::Tokenizer::load(path);
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        const std::string where = "stdin:" + std::to_string(line_no);
        if (decode) {
            const auto ids = parse_id_line(line, where);
            const std::string text = tok.decode(
                ids, {.skip_special_tokens = skip_special, .clean_up_tokenization_spaces = false});
            if (as_json)
                std::cout << json(text).dump(-1, ' ', false, json::error_handler_t::replace)
                          << "\n";
            else
                std::cout << text << "\n";
            continue;
        }
        const std::string text = jsonl ? text_field_line(line, where, field) : line;
        std::cout << json(tok.encode(text, !no_special)).dump() << "\n";
    }
    return 0;
}

int run_tokenizer_train(const std::vector<std::string>& args) {
    std::vector<std::string> inputs;
    std::string out_dir, specials, format;
    data::RecordOptions records;
    data::BpeTrainerOptions o;
    po::options_description opts(
        "slimtune tokenizer-train INPUT... --vocab-size N --out DIR: learn a byte-level BPE and "
        "write tokenizer.json + tokenizer_config.json");
    opts.add_options()("input", po::value(&inputs)->required()->multitoken(),
                       "JSONL datasets (.jsonl, .json: every record format that curate and "
                       "train read) or plain text (one document per line)")(
        "out", po::value(&out_dir)->required(),
        "output directory")("vocab-size", po::value(&o.vocab_size)->default_value(o.vocab_size),
                            "tokens in all: special + 256 bytes + merges")(
        "min-frequency", po::value(&o.min_frequency)->default_value(o.min_frequency),
        "never merge a pair seen fewer times")("max-token-chars",
                                               po::value(&o.max_token_chars)->default_value(0),
                                               "longest token in characters (0: no limit)")(
        "pre-tokenizer", po::value(&o.pre_tokenizer)->default_value(o.pre_tokenizer),
        "qwen2 (NFC, single digits), llama3 (digit groups of 3), gpt2, smollm")(
        "special-tokens",
        po::value(&specials)->default_value("<|endoftext|>,<|im_start|>,<|im_end|>"),
        "comma-separated, ids 0..n-1")(
        "format", po::value(&format)->default_value("auto"),
        "JSONL record format: auto (detected per line), text, prompt_completion, alpaca, "
        "messages, sharegpt")("field", po::value(&records.text_field)->default_value("text"),
                              "the text field of text records");
    po::positional_options_description pos;
    pos.add("input", -1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &pos))
        return 0;
    records.format = data::parse_dataset_format(format);
    o.special_tokens.clear();
    for (std::size_t at = 0; at <= specials.size();) {
        const std::size_t comma = std::min(specials.find(',', at), specials.size());
        if (comma > at)
            o.special_tokens.push_back(specials.substr(at, comma - at));
        at = comma + 1;
    }
    const auto t0 = std::chrono::steady_clock::now();
    data::BpeTrainer trainer(o);
    std::size_t docs = 0, pretokenized = 0;
    for (const std::string& input : inputs) {
        const auto ext = fs::path(input).extension();
        if (ext == ".jsonl" || ext == ".json") {
            // The record's text fields, read as curate and train read them (the same detection).
            data::for_each_record(input, records, false, [&](const data::Record& r, std::int64_t) {
                if (r.format == data::DatasetFormat::tokens) {
                    ++pretokenized; // ids, no text to learn from
                    return;
                }
                trainer.add_text(data::record_text(r, records));
                ++docs;
            });
            continue;
        }
        std::ifstream in = open_regular_file(input, "file");
        int64_t line_no = 1;
        for (std::string line; read_line(in, line, input, line_no); ++docs, ++line_no)
            trainer.add_text(line + "\n");
        if (in.bad())
            throw Error(input + ": read error");
    }
    if (pretokenized > 0)
        std::fprintf(stderr, "tokenizer-train: %zu pre-tokenized records skipped (no text)\n",
                     pretokenized);
    if (docs == 0)
        throw ConfigError("tokenizer-train: the input holds no documents");
    const json tokenizer_json = trainer.train();
    const json config = trainer.tokenizer_config();
    std::error_code ec;
    fs::create_directories(out_dir, ec);
    if (ec)
        throw Error(out_dir + ": cannot create directory: " + ec.message());
    write_file_atomic((fs::path(out_dir) / "tokenizer.json").string(),
                      [&](std::ostream& os) { os << tokenizer_json.dump(2) << "\n"; });
    write_file_atomic((fs::path(out_dir) / "tokenizer_config.json").string(),
                      [&](std::ostream& os) { os << config.dump(2) << "\n"; });
    const auto& st = trainer.stats();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("tokenizer-train: %zu documents, %.1f MB, %llu pieces (%llu distinct) -> vocab %zu "
                "(%zu merges%s) in %.1f s; wrote %s\n",
                docs, static_cast<double>(st.bytes) / 1e6,
                static_cast<unsigned long long>(st.pieces),
                static_cast<unsigned long long>(st.unique_pieces), st.vocab_size, st.merges,
                st.stopped_by_frequency ? ", stopped: no pair reaches --min-frequency" : "", secs,
                (fs::path(out_dir) / "tokenizer.json").c_str());
    return 0;
}

int run_chat_template(const std::vector<std::string>& args) {
    std::string path, name;
    bool generation_prompt = false, no_thinking = false, ids = false, segments = false,
         list = false, raw = false, ollama = false, jinja = false;
    po::options_description opts(
        "slimtune chat-template --tokenizer DIR: conversations on stdin (one JSON per line, "
        "{\"messages\": [...]}) rendered as the model's chat template renders them");
    opts.add_options()("tokenizer", po::value(&path),
                       "model directory or tokenizer.json (its tokenizer_config.json names the "
                       "template and the BOS/EOS tokens)")(
        "chat-template", po::value(&name),
        "chatml, qwen3, llama3, gemma, llama2 or alpaca (default, or auto: detected from the "
        "tokenizer config's chat_template)")("generation-prompt",
                                             po::bool_switch(&generation_prompt),
                                             "end with the assistant header, ready to generate")(
        "no-thinking", po::bool_switch(&no_thinking), "qwen3: close an empty <think> block")(
        "ids", po::bool_switch(&ids), "also print the token ids (add_special_tokens=false)")(
        "segments", po::bool_switch(&segments),
        "print the segments with their trainable flag (what training learns)")(
        "text", po::bool_switch(&raw), "print the rendered text as is instead of JSON")(
        "list", po::bool_switch(&list), "list the template names and exit")(
        "ollama-modelfile", po::bool_switch(&ollama),
        "print the ollama Modelfile that `export --format ollama` writes for this template "
        "(FROM ./model.gguf) and exit")(
        "jinja", po::bool_switch(&jinja),
        "print the Jinja chat_template that exports write for this template when it is not "
        "the tokenizer's own, and exit");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    if (list) {
        for (const auto& n : data::chat_template_names())
            std::cout << n << "\n";
        return 0;
    }
    if (path.empty())
        throw UsageError("--tokenizer is required (the template's tokens come from it)");
    const data::Tokenizer tok = data::Tokenizer::load(path);
    const data::ChatTemplate tmpl =
        name.empty() || name == data::kAutoChatTemplate
            ? data::detect_chat_template(tok.config(), tok.source())
            : option_value("chat-template", [&] {
                  return data::chat_template_for(name, tok.config(), tok.source());
              });
    if (jinja) {
        std::cout << data::chat_template_jinja(tmpl);
        return 0;
    }
    if (ollama) {
        std::cout << ollama_modelfile("./model.gguf", tmpl);
        return 0;
    }
    const data::ChatRenderOptions options{.add_generation_prompt = generation_prompt,
                                          .enable_thinking = !no_thinking};
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const auto messages = parse_conversation(line, "stdin:" + std::to_string(line_no));
        const auto parts = data::render_chat_segments(tmpl, messages, options);
        std::string text;
        for (const auto& p : parts)
            text += p.text;
        if (raw) {
            std::cout << text;
            continue;
        }
        json out = {{"template", tmpl.name}, {"text", text}};
        if (segments) {
            json list_json = json::array();
            for (const auto& p : parts)
                list_json.push_back({{"text", p.text}, {"trainable", p.trainable}});
            out["segments"] = std::move(list_json);
        }
        if (ids)
            out["ids"] = tok.encode(text, false);
        std::cout << out.dump() << "\n";
    }
    return 0;
}

} // namespace slimtune::train
