#include "train/gguf_tokenizer.h"

#include "common/error.h"
#include "common/json_depth.h"

#include <nlohmann/json.hpp>

namespace slimtune::train {

namespace {

using nlohmann::json;
using VT = io::GgufValueType;

json parsed(const io::GgufFile& f, const char* key) {
    const auto& text = f.at(key, VT::STRING).as_str();
    check_json_depth(text, f.path() + ": key '" + key + "'");
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        throw FormatError(f.path() + ": key '" + key + "' is not valid JSON (" + e.what() + ")");
    }
}

} // namespace

data::Tokenizer gguf_tokenizer(const io::GgufFile& f) {
    if (!f.find("tokenizer.huggingface.json"))
        throw ConfigError(f.path() + ": has no tokenizer.huggingface.json; pass --tokenizer DIR");
    const json tokenizer_json = parsed(f, "tokenizer.huggingface.json");
    json config = f.find("slimtune.tokenizer_config") ? parsed(f, "slimtune.tokenizer_config")
                                                      : json::object();
    if (!config.is_object())
        throw FormatError(f.path() + ": key 'slimtune.tokenizer_config' is not a JSON object");
    // The export wrote these ids from the tokenizer as loaded, special_tokens_map.json
    // included; the embedded tokenizer_config.json alone may not name them.
    const std::pair<const char*, const char*> specials[] = {
        {"bos_token", "tokenizer.ggml.bos_token_id"},
        {"eos_token", "tokenizer.ggml.eos_token_id"},
        {"pad_token", "tokenizer.ggml.padding_token_id"},
        {"unk_token", "tokenizer.ggml.unknown_token_id"}};
    for (const auto& [name, key] : specials) {
        if ((config.contains(name) && !config[name].is_null()) || !f.find(key) ||
            !f.find("tokenizer.ggml.tokens"))
            continue;
        const uint32_t id = f.at(key, VT::UINT32).as_u32();
        const auto tokens = f.at_array("tokenizer.ggml.tokens", VT::STRING).as_str_array();
        if (id < tokens.size())
            config[name] = tokens[id];
    }
    // The default template as the tokenizer resolved it (chat_template.jinja wins over the
    // config's); a list of named templates already holds it as "default".
    if (f.find("tokenizer.chat_template") &&
        !(config.contains("chat_template") && config["chat_template"].is_array()))
        config["chat_template"] = f.at("tokenizer.chat_template", VT::STRING).as_str();
    return data::Tokenizer::from_json(tokenizer_json, config, f.path());
}

} // namespace slimtune::train
