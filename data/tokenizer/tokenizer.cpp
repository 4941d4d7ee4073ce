#include "data/tokenizer/tokenizer.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/tokenizer/decoder.h"
#include "data/tokenizer/normalizer.h"
#include "data/tokenizer/pre_tokenizer.h"
#include "data/tokenizer/utf8.h"

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

namespace slimtune::data {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::uint8_t kFlagAdded = 1, kFlagSpecial = 2;
// How far the largest token id may lie past the number of tokens listed (unused, reserved ids).
constexpr std::int64_t kMaxVocabIdGap = 1 << 16;

json parse_json_file(const fs::path& path) {
    const std::string text = read_file(path);
    check_json_depth(text, path.string());
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(path.string() + ": malformed JSON: " + e.what());
    }
}

// A token field of tokenizer_config.json: "..." or {"content": "...", ...}; null/absent: none.
std::optional<std::string>
token_field(const json& config, const char* key, const std::string& where) {
    if (!config.is_object() || !config.contains(key) || config[key].is_null())
        return std::nullopt;
    const json& v = config[key];
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string())
        return v["content"].get<std::string>();
    throw FormatError(where + ": \"" + key + "\" must be a string or an object with \"content\"");
}

std::optional<bool> bool_field(const json& config, const char* key, const std::string& where) {
    if (!config.is_object() || !config.contains(key) || config[key].is_null())
        return std::nullopt;
    if (!config[key].is_boolean())
        throw FormatError(where + ": \"" + key + "\" must be true or false");
    return config[key].get<bool>();
}

TokenizerConfig parse_config(const json& config, const std::string& where) {
    TokenizerConfig c;
    if (config.is_null())
        return c;
    if (!config.is_object())
        throw FormatError(where + ": tokenizer config must be a JSON object");
    c.bos_token = token_field(config, "bos_token", where);
    c.eos_token = token_field(config, "eos_token", where);
    c.pad_token = token_field(config, "pad_token", where);
    c.unk_token = token_field(config, "unk_token", where);
    c.add_bos_token = bool_field(config, "add_bos_token", where);
    c.add_eos_token = bool_field(config, "add_eos_token", where);
    if (auto v = bool_field(config, "clean_up_tokenization_spaces", where))
        c.clean_up_tokenization_spaces = *v;
    if (config.contains("tokenizer_class") && config["tokenizer_class"].is_string())
        c.tokenizer_class = config["tokenizer_class"].get<std::string>();
    if (config.contains("additional_special_tokens") &&
        config["additional_special_tokens"].is_array()) {
        for (const auto& t : config["additional_special_tokens"]) {
            if (t.is_string())
                c.additional_special_tokens.push_back(t.get<std::string>());
            else if (t.is_object() && t.contains("content") && t["content"].is_string())
                c.additional_special_tokens.push_back(t["content"].get<std::string>());
        }
    }
    if (config.contains("chat_template")) {
        const json& t = config["chat_template"];
        if (t.is_string()) {
            c.chat_template = t.get<std::string>();
            c.chat_templates["default"] = c.chat_template;
        } else if (t.is_array()) {
            // [{"name": ..., "template": ...}]: the one named "default" is the default.
            for (const auto& e : t) {
                if (!e.is_object() || !e.contains("name") || !e["name"].is_string() ||
                    !e.contains("template") || !e["template"].is_string())
                    throw FormatError(where + ": chat_template list entries need string "
                                              "\"name\" and \"template\"");
                c.chat_templates[e["name"].get<std::string>()] = e["template"].get<std::string>();
            }
            if (const auto it = c.chat_templates.find("default"); it != c.chat_templates.end())
                c.chat_template = it->second;
        } else if (!t.is_null()) {
            throw FormatError(where + ": \"chat_template\" must be a string or a list");
        }
    }
    return c;
}

// "a ." -> "a." and friends, as transformers' clean_up_tokenization.
std::string clean_up_tokenization(std::string s) {
    static const std::array<std::pair<std::string_view, std::string_view>, 10> rules = {{
        {" .", "."},
        {" ?", "?"},
        {" !", "!"},
        {" ,", ","},
        {" ' ", "'"},
        {" n't", "n't"},
        {" 'm", "'m"},
        {" 's", "'s"},
        {" 've", "'ve"},
        {" 're", "'re"},
    }};
    for (const auto& [from, to] : rules) {
        std::string out;
        out.reserve(s.size());
        std::size_t last = 0;
        for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, last)) {
            out.append(s, last, at - last);
            out.append(to);
            last = at + from.size();
        }
        out.append(s, last);
        s = std::move(out);
    }
    return s;
}

} // namespace

json gpt2_files_as_json(const fs::path& vocab_file,
                        const fs::path& merges_file,
                        const json& config) {
    json vocab = parse_json_file(vocab_file);
    if (!vocab.is_object())
        throw FormatError(vocab_file.string() + ": expected a JSON object of token -> id");
    json merges = json::array();
    std::istringstream in(read_file(merges_file));
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty() || line.rfind("#version", 0) == 0)
            continue;
        const auto space = line.find(' ');
        if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos)
            throw FormatError(merges_file.string() + ":" + std::to_string(line_no) +
                              ": a merge must be two tokens separated by one space");
        merges.push_back(json::array({line.substr(0, space), line.substr(space + 1)}));
    }
    json added = json::array();
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
        const auto tok = token_field(config, key, "tokenizer_config.json");
        const std::string content = tok.value_or("<|endoftext|>");
        if (vocab.contains(content) && vocab[content].is_number_integer()) {
            bool dup = false;
            for (const auto& a : added)
                dup |= a["content"] == content;
            if (!dup)
                added.push_back({{"id", vocab[content]}, {"content", content}, {"special", true}});
        }
    }
    const json byte_level = {{"type", "ByteLevel"},
                             {"add_prefix_space", false},
                             {"trim_offsets", true},
                             {"use_regex", true}};
    return {
        {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}}},
        {"normalizer", nullptr},
        {"pre_tokenizer", byte_level},
        {"post_processor", byte_level},
        {"decoder", byte_level},
        {"added_tokens", std::move(added)}};
}

// A byte trie over added-token contents for leftmost-longest matching.
struct Tokenizer::Matcher {
    std::vector<std::int32_t> node_token{-1}; // index into added_ ending at this node, or -1
    std::unordered_map<std::uint64_t, std::int32_t> edges;
    std::array<bool, 256> first_byte{};

    void add(std::string_view s, std::int32_t index) {
        if (s.empty())
            return;
        first_byte[static_cast<unsigned char>(s[0])] = true;
        std::int32_t node = 0;
        for (char c : s) {
            const std::uint64_t key =
                (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(c);
            const auto it = edges.find(key);
            if (it != edges.end()) {
                node = it->second;
            } else {
                const auto next = static_cast<std::int32_t>(node_token.size());
                node_token.push_back(-1);
                edges.emplace(key, next);
                node = next;
            }
        }
        // The first token with a given content wins, as a Map keyed by content would.
        if (node_token[static_cast<std::size_t>(node)] < 0)
            node_token[static_cast<std::size_t>(node)] = index;
    }
    // Longest token starting at text[i]: {length, index}, or {0, -1}.
    std::pair<std::size_t, std::int32_t> longest(std::string_view text, std::size_t i) const {
        std::pair<std::size_t, std::int32_t> best{0, -1};
        std::int32_t node = 0;
        for (std::size_t j = i; j < text.size(); ++j) {
            const std::uint64_t key =
                (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(text[j]);
            const auto it = edges.find(key);
            if (it == edges.end())
                break;
            node = it->second;
            if (node_token[static_cast<std::size_t>(node)] >= 0)
                best = {j + 1 - i, node_token[static_cast<std::size_t>(node)]};
        }
        return best;
    }
    bool empty() const { return node_token.size() == 1; }
};

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec))
        throw Error(path.string() + ": no such file or directory");
    const bool is_dir = fs::is_directory(path, ec);
    const fs::path dir = is_dir ? path : path.parent_path();
    json config;
    const fs::path config_file = dir / "tokenizer_config.json";
    if (fs::exists(config_file, ec))
        config = parse_json_file(config_file);
    // special_tokens_map.json fills what tokenizer_config.json leaves out.
    const fs::path map_file = dir / "special_tokens_map.json";
    if (fs::exists(map_file, ec)) {
        const json map = parse_json_file(map_file);
        if (map.is_object()) {
            if (!config.is_object())
                config = json::object();
            for (const auto& [k, v] : map.items())
                if (!config.contains(k) || config[k].is_null())
                    config[k] = v;
        }
    }
    // Newer exports keep the template in its own file; it wins over an inline one.
    const fs::path jinja_file = dir / "chat_template.jinja";
    if (fs::exists(jinja_file, ec)) {
        if (!config.is_object())
            config = json::object();
        config["chat_template"] = read_file(jinja_file);
    }

    fs::path file = path;
    json tokenizer_json;
    if (is_dir) {
        file = dir / "tokenizer.json";
        if (fs::exists(file, ec)) {
            tokenizer_json = parse_json_file(file);
        } else if (fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec)) {
            file = dir / "vocab.json";
            tokenizer_json = gpt2_files_as_json(dir / "vocab.json", dir / "merges.txt", config);
        } else if (fs::exists(dir / "encoder.json", ec) && fs::exists(dir / "vocab.bpe", ec)) {
            file = dir / "encoder.json";
            tokenizer_json = gpt2_files_as_json(dir / "encoder.json", dir / "vocab.bpe", config);
        } else if (fs::exists(dir / "tokenizer.model", ec)) {
            throw FormatError((dir / "tokenizer.model").string() +
                              ": SentencePiece model files are not read; use the model's "
                              "tokenizer.json (transformers writes one with save_pretrained)");
        } else {
            throw Error(dir.string() + ": no tokenizer.json (nor vocab.json + merges.txt) here");
        }
    } else {
        tokenizer_json = parse_json_file(path);
    }
    return from_json(tokenizer_json, config, file.string());
}

Tokenizer Tokenizer::from_json(const json& tj, const json& config_json, const std::string& source) {
    Tokenizer t;
    t.source_ = source;
    if (!tj.is_object())
        throw FormatError(source + ": tokenizer.json must be a JSON object");
    t.config_ = parse_config(config_json, source + " (tokenizer config)");

    if (!tj.contains("model") || !tj["model"].is_object())
        throw FormatError(source + ": missing \"model\" object");
    const json& m = tj["model"];
    const std::string type = m.contains("type") && m["type"].is_string()
                                 ? m["type"].get<std::string>()
                             : m.contains("merges") ? "BPE"
                                                    : "";
    if (type != "BPE")
        throw FormatError(source + ": model type '" + type +
                          "' is not supported (slimtune reads BPE tokenizers: byte-level and "
                          "SentencePiece-BPE)");
    for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (m.contains(affix) && m[affix].is_string() && !m[affix].get<std::string>().empty())
            throw FormatError(source + ": BPE \"" + affix + "\" is not supported");
    if (!m.contains("vocab") || !m["vocab"].is_object())
        throw FormatError(source + ": model.vocab must be an object of token -> id");
    if (!m.contains("merges") || !m["merges"].is_array())
        throw FormatError(source + ": model.merges must be an array");

    TokenIdMap vocab;
    vocab.reserve(m["vocab"].size() + 64);
    std::int64_t max_id = -1;
    for (const auto& [tok, id] : m["vocab"].items()) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
            id.get<std::int64_t>() > INT32_MAX)
            throw FormatError(source + ": model.vocab['" + tok + "'] is not a valid id");
        vocab.emplace(tok, id.get<std::int32_t>());
        max_id = std::max(max_id, id.get<std::int64_t>());
    }
    if (tj.contains("added_tokens") && !tj["added_tokens"].is_null()) {
        if (!tj["added_tokens"].is_array())
            throw FormatError(source + ": \"added_tokens\" must be an array");
        for (const auto& a : tj["added_tokens"]) {
            if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
                !a.contains("content") || !a["content"].is_string() ||
                a["id"].get<std::int64_t>() < 0 || a["id"].get<std::int64_t>() > INT32_MAX)
                throw FormatError(source + ": each added token needs an integer \"id\" and a "
                                           "string \"content\"");
            AddedToken at;
            at.content = a["content"].get<std::string>();
            at.id = a["id"].get<std::int32_t>();
            auto flag = [&](const char* k) {
                return a.contains(k) && a[k].is_boolean() && a[k].get<bool>();
            };
            at.single_word = flag("single_word");
            at.lstrip = flag("lstrip");
            at.rstrip = flag("rstrip");
            at.normalized = flag("normalized");
            at.special = flag("special");
            if (at.content.empty())
                throw FormatError(source + ": added token " + std::to_string(at.id) + " is empty");
            vocab[at.content] = at.id;
            max_id = std::max<std::int64_t>(max_id, at.id);
            t.added_.push_back(std::move(at));
        }
    }

    // The id table is sized by the largest id: one id of 2^31 - 1 in a 1 KB file asked for
    // 64 GiB. Real vocabularies are dense (a few reserved holes at most).
    const auto entries = static_cast<std::int64_t>(vocab.size());
    if (max_id >= entries + kMaxVocabIdGap)
        throw FormatError(source + ": token id " + std::to_string(max_id) + " is far beyond the " +
                          std::to_string(entries) + " tokens listed; expected ids below " +
                          std::to_string(entries + kMaxVocabIdGap));
    t.id_to_token_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    t.token_flags_.assign(t.id_to_token_.size(), 0);
    for (const auto& [tok, id] : vocab)
        t.id_to_token_[static_cast<std::size_t>(id)] = tok;
    for (const AddedToken& a : t.added_) {
        // An added token overrides the model's string for its id (transformers.js does too).
        t.id_to_token_[static_cast<std::size_t>(a.id)] = a.content;
        t.token_flags_[static_cast<std::size_t>(a.id)] |= kFlagAdded;
        if (a.special)
            t.token_flags_[static_cast<std::size_t>(a.id)] |= kFlagSpecial;
    }
    for (const std::string& s : t.config_.additional_special_tokens)
        if (const auto it = vocab.find(s); it != vocab.end())
            t.token_flags_[static_cast<std::size_t>(it->second)] |= kFlagSpecial;

    t.merges_.reserve(m["merges"].size());
    for (std::size_t i = 0; i < m["merges"].size(); ++i) {
        const json& e = m["merges"][i];
        if (e.is_string()) {
            // Legacy "a b": split at the first space, as transformers.js does.
            const std::string s = e.get<std::string>();
            const auto space = s.find(' ');
            if (space == std::string::npos)
                throw FormatError(source + ": merge " + std::to_string(i) + " '" + s +
                                  "' is not two tokens separated by a space");
            t.merges_.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
            t.merges_.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
        } else {
            throw FormatError(source + ": merge " + std::to_string(i) +
                              " must be \"a b\" or [\"a\", \"b\"]");
        }
    }

    BpeOptions opts;
    if (m.contains("unk_token") && m["unk_token"].is_string()) {
        const auto it = vocab.find(m["unk_token"].get<std::string>());
        if (it != vocab.end())
            opts.unk_id = it->second;
    }
    auto model_flag = [&](const char* k) {
        return m.contains(k) && m[k].is_boolean() && m[k].get<bool>();
    };
    opts.byte_fallback = model_flag("byte_fallback");
    opts.fuse_unk = model_flag("fuse_unk");
    opts.ignore_merges = model_flag("ignore_merges");
    if (m.contains("dropout") && m["dropout"].is_number() && m["dropout"].get<double>() > 0.0)
        throw FormatError(source + ": BPE dropout is a training-time option; set it to null");
    t.model_ = std::make_unique<BpeModel>(vocab, t.merges_, opts, source);

    t.normalizer_ = make_normalizer(tj.value("normalizer", json()), source);
    t.pre_tokenizer_ = make_pre_tokenizer(tj.value("pre_tokenizer", json()), source);
    t.decoder_ = make_decoder(tj.value("decoder", json()), source);

    t.raw_matcher_ = std::make_unique<Matcher>();
    t.normalized_matcher_ = std::make_unique<Matcher>();
    for (std::size_t i = 0; i < t.added_.size(); ++i) {
        const AddedToken& a = t.added_[i];
        if (a.normalized && !a.special && t.normalizer_)
            t.normalized_matcher_->add(t.normalizer_->normalize(a.content),
                                       static_cast<std::int32_t>(i));
        else
            t.raw_matcher_->add(a.content, static_cast<std::int32_t>(i));
    }

    // Post-processor: the special tokens around a single sequence.
    const json pp = tj.value("post_processor", json());
    std::vector<json> processors;
    if (pp.is_object() && pp.value("type", "") == "Sequence" && pp.contains("processors") &&
        pp["processors"].is_array())
        processors.assign(pp["processors"].begin(), pp["processors"].end());
    else if (!pp.is_null())
        processors.push_back(pp);
    for (const json& p : processors) {
        const std::string ptype = p.is_object() ? p.value("type", "") : "";
        if (ptype == "ByteLevel")
            continue; // offsets only
        if (ptype == "TemplateProcessing") {
            if (!p.contains("single") || !p["single"].is_array())
                throw FormatError(source + ": TemplateProcessing needs a \"single\" array");
            const json specials = p.value("special_tokens", json::object());
            bool after = false;
            t.prefix_ids_.clear();
            t.suffix_ids_.clear();
            for (const json& item : p["single"]) {
                if (item.contains("Sequence")) {
                    after = true;
                    continue;
                }
                if (!item.contains("SpecialToken") || !item["SpecialToken"].contains("id"))
                    throw FormatError(source + ": TemplateProcessing item must be SpecialToken "
                                               "or Sequence");
                const std::string name = item["SpecialToken"]["id"].get<std::string>();
                std::vector<std::int32_t> ids;
                if (specials.contains(name) && specials[name].contains("ids")) {
                    for (const auto& id : specials[name]["ids"])
                        ids.push_back(id.get<std::int32_t>());
                } else if (const auto it = vocab.find(name); it != vocab.end()) {
                    ids.push_back(it->second);
                } else {
                    throw FormatError(source + ": TemplateProcessing token '" + name +
                                      "' is neither in special_tokens nor in the vocabulary");
                }
                auto& dst = after ? t.suffix_ids_ : t.prefix_ids_;
                dst.insert(dst.end(), ids.begin(), ids.end());
            }
        } else if (ptype == "RobertaProcessing" || ptype == "BertProcessing") {
            t.prefix_ids_ = {p.at("cls").at(1).get<std::int32_t>()};
            t.suffix_ids_ = {p.at("sep").at(1).get<std::int32_t>()};
        } else {
            throw FormatError(source + ": unsupported post_processor type '" + ptype +
                              "' (supported: TemplateProcessing, ByteLevel, RobertaProcessing, "
                              "BertProcessing, Sequence)");
        }
    }
    for (std::int32_t id : t.prefix_ids_)
        if (id < 0 || static_cast<std::size_t>(id) >= t.id_to_token_.size())
            throw FormatError(source + ": post-processor id " + std::to_string(id) +
                              " out of range");
    for (std::int32_t id : t.suffix_ids_)
        if (id < 0 || static_cast<std::size_t>(id) >= t.id_to_token_.size())
            throw FormatError(source + ": post-processor id " + std::to_string(id) +
                              " out of range");

    auto lookup = [&](const std::optional<std::string>& s) -> std::optional<std::int32_t> {
        if (!s)
            return std::nullopt;
        const auto it = vocab.find(*s);
        if (it == vocab.end())
            return std::nullopt;
        return it->second;
    };
    t.bos_id_ = lookup(t.config_.bos_token);
    t.eos_id_ = lookup(t.config_.eos_token);
    t.pad_id_ = lookup(t.config_.pad_token);
    t.unk_id_ = lookup(t.config_.unk_token);
    if (!t.unk_id_)
        t.unk_id_ = opts.unk_id;
    return t;
}

void Tokenizer::split_added(std::string_view text,
                            const Matcher& matcher,
                            std::vector<Section>& out) const {
    std::size_t pos = 0; // start of the pending text section
    auto prev_char = [&](std::size_t at) -> std::pair<char32_t, std::size_t> {
        std::size_t s = at - 1;
        while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80)
            --s;
        std::size_t i = s;
        return {next_code_point(text, i), s};
    };
    for (std::size_t i = 0; i < text.size();) {
        if (!matcher.first_byte[static_cast<unsigned char>(text[i])]) {
            ++i;
            continue;
        }
        const auto [len, index] = matcher.longest(text, i);
        if (len == 0) {
            ++i;
            continue;
        }
        const AddedToken& tok = added_[static_cast<std::size_t>(index)];
        std::size_t b = i, e = i + len;
        if (tok.single_word) {
            bool touches = false;
            if (b > 0)
                touches |= is_word_char(prev_char(b).first);
            if (e < text.size()) {
                std::size_t k = e;
                touches |= is_word_char(next_code_point(text, k));
            }
            if (touches) {
                ++i;
                continue;
            }
        }
        if (tok.lstrip) {
            while (b > pos) {
                const auto [cp, start] = prev_char(b);
                if (!is_js_whitespace(cp))
                    break;
                b = start;
            }
        }
        if (tok.rstrip) {
            while (e < text.size()) {
                std::size_t k = e;
                if (!is_js_whitespace(next_code_point(text, k)))
                    break;
                e = k;
            }
        }
        if (b > pos)
            out.push_back({text.substr(pos, b - pos), -1, pos == 0});
        out.push_back({{}, tok.id, b == 0});
        pos = i = e;
    }
    if (pos < text.size())
        out.push_back({text.substr(pos), -1, pos == 0});
}

void Tokenizer::encode_text(std::string_view text,
                            bool first_section,
                            std::vector<std::int32_t>& out) const {
    const std::string normalized = normalizer_ ? normalizer_->normalize(text) : std::string(text);
    if (normalized.empty())
        return;
    std::vector<Section> parts;
    if (normalized_matcher_->empty())
        parts.push_back({normalized, -1, true});
    else
        split_added(normalized, *normalized_matcher_, parts);
    std::vector<std::string> pieces;
    for (const Section& part : parts) {
        if (part.added >= 0) {
            out.push_back(part.added);
            continue;
        }
        pieces.assign(1, std::string(part.text));
        if (pre_tokenizer_)
            pre_tokenizer_->split(pieces, first_section && part.at_start);
        for (const std::string& p : pieces)
            model_->encode(p, out);
    }
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view raw, bool add_special_tokens) const {
    std::string repaired;
    if (!is_valid_utf8(raw)) {
        repaired = sanitize_utf8(raw);
        raw = repaired;
    }
    std::vector<std::int32_t> out;
    out.reserve(raw.size() / 3 + 4);
    if (add_special_tokens)
        out.insert(out.end(), prefix_ids_.begin(), prefix_ids_.end());
    std::vector<Section> sections;
    if (raw_matcher_->empty())
        sections.push_back({raw, -1, true});
    else
        split_added(raw, *raw_matcher_, sections);
    for (const Section& s : sections) {
        if (s.added >= 0)
            out.push_back(s.added);
        else
            encode_text(s.text, s.at_start, out);
    }
    if (add_special_tokens)
        out.insert(out.end(), suffix_ids_.begin(), suffix_ids_.end());
    return out;
}

std::vector<std::string> Tokenizer::pre_tokenize(std::string_view raw) const {
    const std::string text = sanitize_utf8(raw);
    std::vector<std::string> pieces{normalizer_ ? normalizer_->normalize(text) : text};
    if (pieces[0].empty())
        return {};
    if (pre_tokenizer_)
        pre_tokenizer_->split(pieces, true);
    return pieces;
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
    return model_->token_to_id(token);
}

const std::string& Tokenizer::id_to_token(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size())
        throw Error(source_ + ": token id " + std::to_string(id) +
                    " is outside the vocabulary [0, " + std::to_string(id_to_token_.size()) + ")");
    return id_to_token_[static_cast<std::size_t>(id)];
}

bool Tokenizer::is_special(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < token_flags_.size() &&
           (token_flags_[static_cast<std::size_t>(id)] & kFlagSpecial);
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids,
                              const DecodeOptions& options) const {
    std::vector<std::string> tokens;
    std::vector<bool> is_added;
    tokens.reserve(ids.size());
    for (std::int32_t id : ids) {
        const std::string& tok = id_to_token(id);
        if (options.skip_special_tokens && is_special(id))
            continue;
        tokens.push_back(tok);
        is_added.push_back(token_flags_[static_cast<std::size_t>(id)] & kFlagAdded);
    }
    std::string text;
    if (decoder_) {
        for (const std::string& s : decoder_->decode_chain(std::move(tokens), is_added))
            text += s;
    } else {
        for (std::size_t i = 0; i < tokens.size(); ++i)
            text += (i ? " " : "") + tokens[i];
    }
    if (options.clean_up_tokenization_spaces.value_or(config_.clean_up_tokenization_spaces))
        text = clean_up_tokenization(std::move(text));
    return text;
}

} // namespace slimtune::data
