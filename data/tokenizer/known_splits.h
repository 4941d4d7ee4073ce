// Hand-written matchers for the split patterns nearly every byte-level tokenizer uses: GPT-2's
// (ByteLevel's built-in), Llama-3's (digits in groups of up to three) and Qwen2's (single
// digits). They return exactly the matches PCRE2 returns for the translated pattern (a test
// compares both on the corpus and on random text) at a fraction of the cost; any other pattern
// goes to PCRE2. SLIMTUNE_TOKENIZER_REGEX=pcre2 in the environment forces PCRE2 everywhere.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace slimtune::data {

enum class KnownSplit { None, Gpt2, Llama3, Qwen2 };

// Which known pattern `pattern` (as written in tokenizer.json) is; None for any other.
KnownSplit known_split_of(std::string_view pattern);

// Whether the environment asks for PCRE2 everywhere.
bool known_splits_disabled();

// Calls on_match(begin, end) for every match of the known pattern in valid UTF-8 `text`.
void for_each_known_split(KnownSplit kind,
                          std::string_view text,
                          const std::function<void(std::size_t, std::size_t)>& on_match);

} // namespace slimtune::data
