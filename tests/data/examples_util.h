// A whole JSONL dataset as token examples in memory: what the tests compare the streaming
// readers (for_each_token_example, TokenStore) with. The product never holds a dataset whole.
#pragma once

#include "data/examples.h"

#include <string>
#include <vector>

namespace slimtune::data {

inline std::vector<TokenExample> read_token_examples(const std::string& path,
                                                     const ExampleOptions& o,
                                                     ExampleStats* stats = nullptr) {
    std::vector<TokenExample> out;
    for_each_token_example(
        path, o, [&](TokenExample&& e) { out.push_back(std::move(e)); }, stats);
    return out;
}

} // namespace slimtune::data
