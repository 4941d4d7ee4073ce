#include "data/tokenizer/gguf_vocab.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/tokenizer/known_splits.h"

#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace slimtune::data {

using nlohmann::json;

namespace {

// The steps of a tokenizer.json component, flattened: a "Sequence" lists its steps under
// `list_key` ("pretokenizers", "normalizers", "decoders").
void flatten(const json& p, const char* list_key, std::vector<json>& out) {
    if (!p.is_object())
        return;
    if (p.value("type", "") == "Sequence" && p.contains(list_key) && p[list_key].is_array()) {
        for (const json& q : p[list_key])
            flatten(q, list_key, out);
        return;
    }
    out.push_back(p);
}

std::vector<json> steps_of(const json& component, const char* list_key) {
    std::vector<json> steps;
    flatten(component, list_key, steps);
    return steps;
}

// llama.cpp's name for the pre-tokenizer, or "" when it has none that matches.
std::string recognise_pre(const json& tokenizer_json) {
    const std::vector<json> steps =
        steps_of(tokenizer_json.value("pre_tokenizer", json()), "pretokenizers");
    auto is = [](const json& s, const char* type) { return s.value("type", "") == type; };
    // ByteLevel with its own (GPT-2) regex, alone or after single-digit splitting.
    auto bytelevel_regex = [&](const json& s) {
        return is(s, "ByteLevel") && s.value("use_regex", true);
    };
    if (steps.size() == 1 && bytelevel_regex(steps[0]))
        return "gpt-2";
    if (steps.size() == 2 && is(steps[0], "Digits") && steps[0].value("individual_digits", false) &&
        bytelevel_regex(steps[1]))
        return "smollm";
    // A Split regex followed by ByteLevel without a regex.
    if (steps.size() == 2 && is(steps[0], "Split") && is(steps[1], "ByteLevel") &&
        !steps[1].value("use_regex", true) && steps[0].contains("pattern") &&
        steps[0]["pattern"].is_object() && steps[0]["pattern"].contains("Regex")) {
        switch (known_split_of(steps[0]["pattern"]["Regex"].get<std::string>())) {
        case KnownSplit::Gpt2:
            return "gpt-2";
        case KnownSplit::Llama3:
            return "llama-bpe";
        case KnownSplit::Qwen2:
            return "qwen2";
        case KnownSplit::None:
            break;
        }
    }
    return "";
}

bool has_type(const json& j, const char* type) {
    return j.is_object() && j.value("type", "") == type;
}

bool is_byte_level_bpe(const json& tj) {
    return has_type(tj.value("model", json()), "BPE") &&
           has_type(tj.value("decoder", json()), "ByteLevel");
}

// BPE over "▁"-for-space text with byte fallback, as SentencePiece models converted to
// tokenizer.json are: what llama.cpp's "llama" tokenizer model runs. The space marker comes
// from a Replace normalizer or a Metaspace pre-tokenizer; the decoder turns it back.
bool is_sentencepiece_bpe(const json& tj) {
    const json model = tj.value("model", json());
    if (!has_type(model, "BPE") || !model.value("byte_fallback", false))
        return false;
    for (const json& d : steps_of(tj.value("decoder", json()), "decoders"))
        if (has_type(d, "Metaspace") ||
            (has_type(d, "Replace") && d.value("content", "") == " " &&
             d.value("pattern", json()).value("String", "") == "\u2581"))
            return true;
    return false;
}

// Whether "▁" is put before the text: a Prepend normalizer (Llama-2), or a Metaspace
// pre-tokenizer that prepends.
bool prepends_space(const json& tj) {
    for (const json& n : steps_of(tj.value("normalizer", json()), "normalizers"))
        if (has_type(n, "Prepend") && n.value("prepend", "") == "\u2581")
            return true;
    for (const json& p : steps_of(tj.value("pre_tokenizer", json()), "pretokenizers"))
        if (has_type(p, "Metaspace"))
            return p.value("prepend_scheme",
                           p.value("add_prefix_space", true) ? "always" : "never") != "never";
    return false;
}

// Scores (minus each token's first merge rank; 0 for tokens no merge makes) and llama.cpp's
// token types: the byte-fallback tokens <0xXX> are Byte, the unknown token Unknown.
void sentencepiece_scores_and_types(const Tokenizer& tok, GgufVocab& v) {
    v.scores.assign(v.tokens.size(), 0.0f);
    std::unordered_map<std::string, std::size_t> first_rank;
    const auto& merges = tok.merges();
    for (std::size_t rank = 0; rank < merges.size(); ++rank)
        first_rank.try_emplace(merges[rank].first + merges[rank].second, rank);
    for (std::size_t id = 0; id < v.tokens.size(); ++id) {
        auto& type = v.token_types[id];
        const std::string& t = v.tokens[id];
        if (type == static_cast<std::int32_t>(GgufTokenType::Unused))
            continue;
        if (tok.unk_id() && static_cast<std::int32_t>(id) == *tok.unk_id())
            type = static_cast<std::int32_t>(GgufTokenType::Unknown);
        else if (type == static_cast<std::int32_t>(GgufTokenType::Normal) && t.size() == 6 &&
                 t.starts_with("<0x") && t.back() == '>' &&
                 std::isxdigit(static_cast<unsigned char>(t[3])) &&
                 std::isxdigit(static_cast<unsigned char>(t[4])))
            type = static_cast<std::int32_t>(GgufTokenType::Byte);
        if (const auto it = first_rank.find(t); it != first_rank.end())
            v.scores[id] = -static_cast<float>(it->second);
    }
}

json read_tokenizer_json(const std::string& source) {
    if (source.size() < 14 || source.compare(source.size() - 14, 14, "tokenizer.json") != 0)
        return json(); // vocab.json + merges.txt: GPT-2's own layout
    const std::string text = read_file(source, "tokenizer");
    check_json_depth(text, source);
    return json::parse(text, nullptr, false);
}

} // namespace

GgufVocab
gguf_vocab(const Tokenizer& tok, std::int64_t vocab_size, const std::string& pre_override) {
    const json tj = read_tokenizer_json(tok.source());
    GgufVocab v;
    if (tj.is_null()) { // vocab.json + merges.txt: GPT-2's own files
        v.model = kGgufByteLevelBpe;
        v.pre = pre_override.empty() ? "gpt-2" : pre_override;
    } else if (is_byte_level_bpe(tj)) {
        v.model = kGgufByteLevelBpe;
        v.pre = pre_override.empty() ? recognise_pre(tj) : pre_override;
        if (v.pre.empty())
            throw ConfigError(tok.source() +
                              ": its pre-tokenizer is not one llama.cpp reproduces (gpt-2, "
                              "llama-bpe, qwen2, smollm); name the matching one explicitly if "
                              "you know it");
    } else if (is_sentencepiece_bpe(tj)) {
        v.model = kGgufSentencePiece;
        v.add_space_prefix = prepends_space(tj);
    } else {
        throw ConfigError(tok.source() +
                          ": GGUF export writes byte-level BPE tokenizers (GPT-2, Llama-3, Qwen) "
                          "and SentencePiece-style BPE with byte fallback (Llama-2, Gemma); this "
                          "one is neither");
    }
    const auto n_tok = static_cast<std::int64_t>(tok.vocab_size());
    if (n_tok > vocab_size)
        throw ConfigError(tok.source() + ": the tokenizer has " + std::to_string(n_tok) +
                          " ids but the model only " + std::to_string(vocab_size) + " embeddings");
    std::vector<bool> added(static_cast<std::size_t>(vocab_size), false);
    for (const AddedToken& a : tok.added_tokens())
        if (a.id >= 0 && a.id < vocab_size)
            added[static_cast<std::size_t>(a.id)] = true;
    for (std::int64_t id = 0; id < vocab_size; ++id) {
        const auto i = static_cast<std::int32_t>(id);
        if (id >= n_tok) {
            v.tokens.push_back("[PAD" + std::to_string(id) + "]");
            v.token_types.push_back(static_cast<std::int32_t>(GgufTokenType::Unused));
            continue;
        }
        v.tokens.push_back(tok.id_to_token(i));
        GgufTokenType t = GgufTokenType::Normal;
        if (added[static_cast<std::size_t>(id)])
            t = tok.is_special(i) ? GgufTokenType::Control : GgufTokenType::UserDefined;
        v.token_types.push_back(static_cast<std::int32_t>(t));
    }
    if (v.model == kGgufByteLevelBpe)
        for (const auto& [l, r] : tok.merges())
            v.merges.push_back(l + " " + r);
    else
        sentencepiece_scores_and_types(tok, v);
    v.bos = tok.bos_id();
    v.eos = tok.eos_id();
    v.unk = tok.unk_id();
    v.pad = tok.pad_id();
    for (const char* eot : {"<|im_end|>", "<|eot_id|>", "<end_of_turn>"})
        if (const auto id = tok.token_to_id(eot)) {
            v.eot = *id;
            break;
        }
    // The post-processor decides whether a BOS is added (Llama-3 yes; GPT-2, Qwen, SmolLM no).
    v.add_bos = v.bos && !tok.prefix_ids().empty() && tok.prefix_ids().front() == *v.bos;
    v.add_eos = v.eos && !tok.suffix_ids().empty() && tok.suffix_ids().back() == *v.eos;
    v.chat_template = tok.config().chat_template;
    return v;
}

} // namespace slimtune::data
