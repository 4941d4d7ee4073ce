#include "data/tokenizer/bpe_trainer.h"

#include "common/error.h"
#include "data/tokenizer/normalizer.h"
#include "data/tokenizer/pre_tokenizer.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <memory>
#include <queue>
#include <unordered_set>

namespace slimtune::data {

using nlohmann::json;

namespace {

// The split patterns as Qwen2 and Llama-3 ship them in tokenizer.json.
constexpr const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr const char* kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

json byte_level(bool use_regex) {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", false},
            {"trim_offsets", true},
            {"use_regex", use_regex}};
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) |
           static_cast<std::uint32_t>(b);
}

} // namespace

std::vector<std::string> bpe_pre_tokenizer_names() {
    return {"qwen2", "llama3", "gpt2", "smollm"};
}

struct BpeTrainer::Parts {
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
};

BpeTrainer::BpeTrainer(BpeTrainerOptions options) : options_(std::move(options)) {
    const auto names = bpe_pre_tokenizer_names();
    if (std::find(names.begin(), names.end(), options_.pre_tokenizer) == names.end())
        throw ConfigError("tokenizer-train: unknown pre-tokenizer '" + options_.pre_tokenizer +
                          "' (known: qwen2, llama3, gpt2, smollm)");
    std::unordered_set<std::string> seen;
    for (const auto& s : options_.special_tokens) {
        if (s.empty() || !is_valid_utf8(s))
            throw ConfigError("tokenizer-train: special tokens must be non-empty UTF-8");
        if (!seen.insert(s).second)
            throw ConfigError("tokenizer-train: special token '" + s + "' given twice");
    }
    const std::size_t floor = options_.special_tokens.size() + 256;
    if (options_.vocab_size < floor)
        throw ConfigError("tokenizer-train: vocab_size " + std::to_string(options_.vocab_size) +
                          " cannot hold the " + std::to_string(options_.special_tokens.size()) +
                          " special tokens and 256 byte tokens (minimum " + std::to_string(floor) +
                          ")");
    const json sk = skeleton();
    parts_ =
        std::make_unique<Parts>(Parts{make_normalizer(sk["normalizer"], "tokenizer-train"),
                                      make_pre_tokenizer(sk["pre_tokenizer"], "tokenizer-train")});
}

BpeTrainer::~BpeTrainer() = default;

json BpeTrainer::skeleton() const {
    json normalizer = nullptr, pre;
    const std::string& p = options_.pre_tokenizer;
    if (p == "gpt2") {
        pre = byte_level(true);
    } else if (p == "smollm") {
        pre = {{"type", "Sequence"},
               {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                              byte_level(true)})}};
    } else {
        if (p == "qwen2")
            normalizer = {{"type", "NFC"}};
        const json split = {{"type", "Split"},
                            {"pattern", {{"Regex", p == "qwen2" ? kQwen2Pattern : kLlama3Pattern}}},
                            {"behavior", "Isolated"},
                            {"invert", false}};
        pre = {{"type", "Sequence"}, {"pretokenizers", json::array({split, byte_level(false)})}};
    }
    return {{"version", "1.0"},           {"truncation", nullptr},
            {"padding", nullptr},         {"normalizer", normalizer},
            {"pre_tokenizer", pre},       {"post_processor", byte_level(false)},
            {"decoder", byte_level(true)}};
}

void BpeTrainer::add_text(std::string_view raw) {
    const std::string text = sanitize_utf8(raw);
    stats_.bytes += text.size();
    // Special-token strings are cut out first, as the tokenizer will never BPE them.
    std::vector<std::string_view> sections{text};
    for (const std::string& special : options_.special_tokens) {
        std::vector<std::string_view> next;
        for (std::string_view s : sections) {
            for (std::size_t at = s.find(special); at != std::string_view::npos;
                 at = s.find(special)) {
                if (at > 0)
                    next.push_back(s.substr(0, at));
                s.remove_prefix(at + special.size());
            }
            if (!s.empty())
                next.push_back(s);
        }
        sections.swap(next);
    }
    std::vector<std::string> pieces;
    bool first = true;
    for (std::string_view s : sections) {
        pieces.assign(1, parts_->normalizer ? parts_->normalizer->normalize(s) : std::string(s));
        if (pieces[0].empty())
            continue;
        parts_->pre_tokenizer->split(pieces, first);
        first = false;
        for (std::string& piece : pieces) {
            ++stats_.pieces;
            ++counts_[std::move(piece)];
        }
    }
}

json BpeTrainer::train() {
    // Token table: special tokens, then the 256 byte characters in code point order.
    std::vector<std::string> tokens(options_.special_tokens);
    std::unordered_map<std::string, std::int32_t> ids;
    for (std::size_t i = 0; i < tokens.size(); ++i)
        ids[tokens[i]] = static_cast<std::int32_t>(i);
    std::vector<char32_t> alphabet;
    for (int b = 0; b < 256; ++b)
        alphabet.push_back(byte_to_unicode(static_cast<std::uint8_t>(b)));
    std::sort(alphabet.begin(), alphabet.end());
    std::vector<std::size_t> token_chars(tokens.size(), 0);
    for (char32_t cp : alphabet) {
        std::string s;
        append_utf8(s, cp);
        ids[s] = static_cast<std::int32_t>(tokens.size());
        tokens.push_back(s);
        token_chars.push_back(1);
    }

    // Words: each distinct piece as a symbol sequence with its count, in sorted order so that
    // the result does not depend on hash-map iteration order.
    struct Word {
        std::vector<std::int32_t> symbols;
        std::uint64_t count;
    };
    std::vector<std::pair<std::string, std::uint64_t>> sorted(counts_.begin(), counts_.end());
    std::sort(sorted.begin(), sorted.end());
    stats_.unique_pieces = sorted.size();
    std::vector<Word> words;
    words.reserve(sorted.size());
    for (const auto& [piece, count] : sorted) {
        Word w{{}, count};
        for (std::size_t i = 0; i < piece.size();) {
            const std::size_t b = i;
            next_code_point(piece, i);
            w.symbols.push_back(ids.at(piece.substr(b, i - b)));
        }
        words.push_back(std::move(w));
    }

    std::unordered_map<std::uint64_t, std::int64_t> pair_count;
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> pair_words;
    for (std::uint32_t w = 0; w < words.size(); ++w) {
        const auto& s = words[w].symbols;
        for (std::size_t i = 0; i + 1 < s.size(); ++i) {
            const std::uint64_t k = pair_key(s[i], s[i + 1]);
            pair_count[k] += static_cast<std::int64_t>(words[w].count);
            auto& list = pair_words[k];
            if (list.empty() || list.back() != w)
                list.push_back(w);
        }
    }
    // Max-heap on (count, then smaller pair); entries are re-checked against pair_count.
    struct Entry {
        std::int64_t count;
        std::uint64_t pair;
        bool operator<(const Entry& o) const {
            return count != o.count ? count < o.count : pair > o.pair;
        }
    };
    std::priority_queue<Entry> heap;
    for (const auto& [k, c] : pair_count)
        heap.push({c, k});

    json merges = json::array();
    std::vector<std::uint32_t> touched;
    while (tokens.size() < options_.vocab_size && !heap.empty()) {
        const Entry top = heap.top();
        heap.pop();
        const auto it = pair_count.find(top.pair);
        const std::int64_t current = it == pair_count.end() ? 0 : it->second;
        if (current != top.count) {
            if (current > 0)
                heap.push({current, top.pair});
            continue;
        }
        if (static_cast<std::uint64_t>(current) < options_.min_frequency) {
            stats_.stopped_by_frequency = true;
            break;
        }
        const auto left = static_cast<std::int32_t>(top.pair >> 32);
        const auto right = static_cast<std::int32_t>(top.pair & 0xffffffffu);
        const std::size_t chars = token_chars[static_cast<std::size_t>(left)] +
                                  token_chars[static_cast<std::size_t>(right)];
        if (options_.max_token_chars > 0 && chars > options_.max_token_chars) {
            pair_count.erase(top.pair); // never eligible; do not look at it again
            continue;
        }
        const std::string merged =
            tokens[static_cast<std::size_t>(left)] + tokens[static_cast<std::size_t>(right)];
        const auto new_id = static_cast<std::int32_t>(tokens.size());
        tokens.push_back(merged);
        token_chars.push_back(chars);
        ids[merged] = new_id;
        merges.push_back(json::array(
            {tokens[static_cast<std::size_t>(left)], tokens[static_cast<std::size_t>(right)]}));

        // Re-count only the words that contain the pair: remove their old pairs, merge,
        // add their new pairs.
        touched = std::move(pair_words[top.pair]);
        pair_words.erase(top.pair);
        std::unordered_map<std::uint64_t, std::int64_t> delta;
        for (std::uint32_t w : touched) {
            auto& s = words[w].symbols;
            const auto c = static_cast<std::int64_t>(words[w].count);
            bool has = false;
            for (std::size_t i = 0; i + 1 < s.size(); ++i)
                has |= s[i] == left && s[i + 1] == right;
            if (!has)
                continue; // a stale entry: an earlier merge already consumed the pair here
            for (std::size_t i = 0; i + 1 < s.size(); ++i)
                delta[pair_key(s[i], s[i + 1])] -= c;
            std::vector<std::int32_t> out;
            out.reserve(s.size());
            for (std::size_t i = 0; i < s.size();) {
                if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
                    out.push_back(new_id);
                    i += 2;
                } else {
                    out.push_back(s[i++]);
                }
            }
            s.swap(out);
            for (std::size_t i = 0; i + 1 < s.size(); ++i) {
                const std::uint64_t k = pair_key(s[i], s[i + 1]);
                delta[k] += c;
                if (s[i] == new_id || s[i + 1] == new_id) {
                    auto& list = pair_words[k];
                    if (list.empty() || list.back() != w)
                        list.push_back(w);
                }
            }
        }
        // Apply in key order so the heap sees the same sequence on every run.
        std::vector<std::pair<std::uint64_t, std::int64_t>> changes(delta.begin(), delta.end());
        std::sort(changes.begin(), changes.end());
        for (const auto& [k, d] : changes) {
            if (d == 0)
                continue;
            const std::int64_t now = (pair_count[k] += d);
            if (now <= 0)
                pair_count.erase(k);
            else if (d > 0)
                heap.push({now, k});
        }
    }
    stats_.merges = merges.size();
    stats_.vocab_size = tokens.size();

    json vocab = json::object();
    for (std::size_t i = 0; i < tokens.size(); ++i)
        vocab[tokens[i]] = i;
    json added = json::array();
    for (std::size_t i = 0; i < options_.special_tokens.size(); ++i)
        added.push_back({{"id", i},
                         {"content", options_.special_tokens[i]},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
    json out = skeleton();
    out["added_tokens"] = std::move(added);
    out["model"] = {{"type", "BPE"},
                    {"dropout", nullptr},
                    {"unk_token", nullptr},
                    {"continuing_subword_prefix", nullptr},
                    {"end_of_word_suffix", nullptr},
                    {"fuse_unk", false},
                    {"byte_fallback", false},
                    {"ignore_merges", false},
                    {"vocab", std::move(vocab)},
                    {"merges", std::move(merges)}};
    return out;
}

json BpeTrainer::tokenizer_config() const {
    const auto& sp = options_.special_tokens;
    auto has = [&](const char* s) { return std::find(sp.begin(), sp.end(), s) != sp.end(); };
    json c = {{"tokenizer_class", "PreTrainedTokenizerFast"},
              {"clean_up_tokenization_spaces", false},
              {"add_bos_token", false},
              {"add_eos_token", false}};
    const json eot = has("<|endoftext|>") ? json("<|endoftext|>") : json(nullptr);
    c["bos_token"] = eot;
    c["pad_token"] = eot;
    c["unk_token"] = nullptr;
    c["eos_token"] = has("<|im_end|>") ? json("<|im_end|>") : eot;
    json extra = json::array();
    for (const auto& s : sp)
        if (s != "<|endoftext|>")
            extra.push_back(s);
    c["additional_special_tokens"] = extra;
    return c;
}

} // namespace slimtune::data
