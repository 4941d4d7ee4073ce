// A Hugging Face tokenizer: tokenizer.json (BPE model, normalizer, pre-tokenizer,
// post-processor, decoder, added tokens) plus tokenizer_config.json / special_tokens_map.json,
// or the older vocab.json + merges.txt (encoder.json + vocab.bpe) pair of GPT-2.
//
// Encoding follows transformers.js, slimtune's reference encoder, id for id:
//   1. ill-formed UTF-8 is repaired (sanitize_utf8: U+FFFD per maximal subpart);
//   2. added tokens are found leftmost-longest on the raw text (lstrip/rstrip/single_word
//      honoured); tokens marked "normalized" are found after normalization instead;
//   3. each remaining section is normalized, pre-tokenized and BPE-encoded;
//   4. the post-processor adds BOS/EOS when add_special_tokens is set.
#pragma once

#include "data/tokenizer/bpe_model.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data {

class Normalizer;
class PreTokenizer;
class Decoder;

struct AddedToken {
    std::string content;
    std::int32_t id = 0;
    bool single_word = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// What tokenizer_config.json (and special_tokens_map.json, chat_template.jinja) say.
struct TokenizerConfig {
    std::optional<std::string> bos_token, eos_token, pad_token, unk_token;
    std::vector<std::string> additional_special_tokens;
    std::optional<bool> add_bos_token, add_eos_token;
    bool clean_up_tokenization_spaces = true; // transformers.js' default when absent
    std::string tokenizer_class;
    std::string chat_template;                         // the default template, "" when none
    std::map<std::string, std::string> chat_templates; // every named template
};

struct DecodeOptions {
    bool skip_special_tokens = false;
    // Undo "a ." -> "a." style tokenization artefacts; default: the config's setting.
    std::optional<bool> clean_up_tokenization_spaces;
};

class Tokenizer {
public:
    // A directory (tokenizer.json, or vocab.json + merges.txt, or encoder.json + vocab.bpe,
    // with tokenizer_config.json etc. when present) or a tokenizer.json file. Throws
    // FormatError / Error with the file named on anything missing or malformed.
    static Tokenizer load(const std::filesystem::path& path);
    // From parsed JSON; `config` may be null. `source` names the origin in error messages.
    static Tokenizer from_json(const nlohmann::json& tokenizer_json,
                               const nlohmann::json& config,
                               const std::string& source);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = true) const;
    std::string decode(std::span<const std::int32_t> ids, const DecodeOptions& options = {}) const;

    // Normalized, pre-tokenized pieces of `text` (no added-token splitting): what BPE sees.
    std::vector<std::string> pre_tokenize(std::string_view text) const;

    std::size_t vocab_size() const { return id_to_token_.size(); }
    std::optional<std::int32_t> token_to_id(std::string_view token) const;
    // Throws Error for an id outside [0, vocab_size()) or a hole in the vocabulary.
    const std::string& id_to_token(std::int32_t id) const;
    bool is_special(std::int32_t id) const;

    const TokenizerConfig& config() const { return config_; }
    std::optional<std::int32_t> bos_id() const { return bos_id_; }
    std::optional<std::int32_t> eos_id() const { return eos_id_; }
    std::optional<std::int32_t> pad_id() const { return pad_id_; }
    std::optional<std::int32_t> unk_id() const { return unk_id_; }
    const std::vector<AddedToken>& added_tokens() const { return added_; }
    const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
    const BpeModel& model() const { return *model_; }
    // Ids the post-processor puts before / after a single sequence (e.g. BOS).
    const std::vector<std::int32_t>& prefix_ids() const { return prefix_ids_; }
    const std::vector<std::int32_t>& suffix_ids() const { return suffix_ids_; }
    const std::string& source() const { return source_; }

private:
    Tokenizer();
    struct Matcher;
    struct Section {
        std::string_view text; // empty when `added` >= 0
        std::int32_t added = -1;
        bool at_start = false;
    };
    void
    encode_text(std::string_view text, bool first_section, std::vector<std::int32_t>& out) const;
    void
    split_added(std::string_view text, const Matcher& matcher, std::vector<Section>& out) const;

    std::string source_;
    TokenizerConfig config_;
    std::unique_ptr<BpeModel> model_;
    std::unique_ptr<Normalizer> normalizer_;
    std::unique_ptr<PreTokenizer> pre_tokenizer_;
    std::unique_ptr<Decoder> decoder_;
    std::vector<AddedToken> added_;
    std::unique_ptr<Matcher> raw_matcher_, normalized_matcher_;
    std::vector<std::string> id_to_token_;
    std::vector<std::uint8_t> token_flags_; // bit 0: added token, bit 1: special
    std::vector<std::pair<std::string, std::string>> merges_;
    std::vector<std::int32_t> prefix_ids_, suffix_ids_;
    std::optional<std::int32_t> bos_id_, eos_id_, pad_id_, unk_id_;
};

// GPT-2's original pair of files (vocab.json + merges.txt, or encoder.json + vocab.bpe) as the
// tokenizer.json they are equivalent to: byte-level BPE with GPT-2's split regex; the config's
// bos/eos/unk/pad strings (default <|endoftext|>) that are in the vocabulary become special
// added tokens.
nlohmann::json gpt2_files_as_json(const std::filesystem::path& vocab_file,
                                  const std::filesystem::path& merges_file,
                                  const nlohmann::json& config);

} // namespace slimtune::data
