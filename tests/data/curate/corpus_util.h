// Helpers for the curation tests that build a corpus, curate it and read the outputs back.
#pragma once

#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace slimtune::test {

// Neutral words: none is in a toxicity, group, pair or attribute list; with the stop words
// "the", "and", "of", "to", "with", so that a long random text passes the quality rules.
inline const std::vector<std::string> kNeutralWords{
    "the",     "and",    "of",     "to",     "with",   "system",  "value",    "process", "table",
    "field",   "index",  "query",  "cache",  "server", "request", "response", "network", "update",
    "service", "memory", "record", "result", "column", "packet",  "buffer",   "thread",  "signal",
    "window",  "kernel", "socket", "stream", "vector", "matrix",  "sample",   "filter",  "module"};

// `n` random neutral words joined by spaces.
inline std::string neutral_words(std::mt19937_64& rng, int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
        s += (i ? " " : "") + kNeutralWords[rng() % kNeutralWords.size()];
    return s;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
    std::ifstream in(path);
    std::vector<nlohmann::json> out;
    for (std::string line; std::getline(in, line);)
        out.push_back(nlohmann::json::parse(line));
    return out;
}

// The (skip+1)-th one-word entry of a shipped word list (data/curate/lexicons/).
inline std::string lexicon_entry(const std::string& lexicon, int skip = 0) {
    std::ifstream in(std::string(SLIMTUNE_SOURCE_DIR) + "/data/curate/lexicons/" + lexicon);
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#' && line.find(' ') == std::string::npos && skip-- == 0)
            return line;
    FAIL("no entry in " << lexicon);
    return {};
}

} // namespace slimtune::test
