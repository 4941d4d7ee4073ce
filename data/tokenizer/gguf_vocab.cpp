#include "data/tokenizer/gguf_vocab.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"
#include "data/tokenizer/known_splits.h"

#include <fstream>
#include <nlohmann/json.hpp>

namespace slimtune::data {

using nlohmann::json;

namespace {

// The pre-tokenizer steps of tokenizer.json, flattened ("Sequence" unrolled).
void flatten(const json& p, std::vector<json>& out) {
    if (!p.is_object())
        return;
    if (p.value("type", "") == "Sequence" && p.contains("pretokenizers")) {
        for (const json& q : p["pretokenizers"])
            flatten(q, out);
        return;
    }
    out.push_back(p);
}

// llama.cpp's name for the pre-tokenizer, or "" when it has none that matches.
std::string recognise_pre(const json& tokenizer_json) {
    std::vector<json> steps;
    flatten(tokenizer_json.value("pre_tokenizer", json()), steps);
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
    const bool from_gpt2_files = tj.is_null();
    if (!from_gpt2_files) {
        const json& model = tj.value("model", json::object());
        const bool byte_level_decoder = tj.contains("decoder") && tj["decoder"].is_object() &&
                                        tj["decoder"].value("type", "") == "ByteLevel";
        if (model.value("type", "") != "BPE" || !byte_level_decoder)
            throw ConfigError(
                tok.source() +
                ": GGUF export writes byte-level BPE tokenizers (tokenizer.ggml.model "
                "gpt2); this one is not (SentencePiece-style export is not done yet)");
    }
    GgufVocab v;
    v.model = "gpt2";
    v.pre = !pre_override.empty() ? pre_override
                                  : (from_gpt2_files ? std::string("gpt-2") : recognise_pre(tj));
    if (v.pre.empty())
        throw ConfigError(tok.source() +
                          ": its pre-tokenizer is not one llama.cpp reproduces (gpt-2, llama-bpe, "
                          "qwen2, smollm); name the matching one explicitly if you know it");
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
    for (const auto& [l, r] : tok.merges())
        v.merges.push_back(l + " " + r);
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
