// Decoders of tokenizer.json ("decoder" key): ByteLevel, ByteFallback, Fuse, Strip, Replace,
// Metaspace and Sequence. Like tokenizers, a decoder maps a list of token strings to a list of
// strings ("decode chain"); the tokenizer joins the result.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace slimtune::data {

class Decoder {
public:
    virtual ~Decoder() = default;
    // `is_added[i]` marks tokens that are added tokens: ByteLevel passes those through verbatim
    // instead of mapping their characters back to bytes.
    virtual std::vector<std::string> decode_chain(std::vector<std::string> tokens,
                                                  const std::vector<bool>& is_added) const = 0;
    // How many times longer decode_chain() can make a token through Replace steps (1: none).
    virtual double replace_growth() const { return 1; }
};

// nullptr for JSON null; FormatError naming `where` for unknown types.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& config, const std::string& where);

} // namespace slimtune::data
