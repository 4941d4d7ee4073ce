// Encoding throughput of slimtune's tokenizer on one thread: MB/s of UTF-8 input, cold (first
// pass, empty word cache) and warm (best later pass), plus where the time goes (normalize +
// pre-tokenize only, as a fraction). Prints one JSON object.
//
//   bench_tokenizer --tokenizer DIR_OR_FILE --text FILE [--rounds N]
#include "common/error.h"
#include "common/text.h"
#include "data/tokenizer/tokenizer.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using namespace slimtune;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) {
    std::string tokenizer_path, text_path;
    int rounds = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--tokenizer" && has_value)
            tokenizer_path = argv[++i];
        else if (a == "--text" && has_value)
            text_path = argv[++i];
        else if (a == "--rounds" && has_value)
            rounds = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "bench_tokenizer: unknown or incomplete option '%s'\n", a.c_str());
            return 2;
        }
    }
    if (tokenizer_path.empty() || text_path.empty() || rounds < 1) {
        std::fprintf(stderr,
                     "usage: bench_tokenizer --tokenizer DIR --text FILE [--rounds N>=1]\n");
        return 2;
    }
    try {
        auto t0 = Clock::now();
        const data::Tokenizer tok = data::Tokenizer::load(tokenizer_path);
        const double load_s = seconds_since(t0);
        // Documents are the file's paragraphs (blank-line separated), as a dataset would feed them.
        const std::string text = slimtune::read_file(text_path);
        std::vector<std::string> docs;
        for (std::size_t at = 0; at < text.size();) {
            std::size_t end = text.find("\n\n", at);
            end = end == std::string::npos ? text.size() : end + 2;
            docs.push_back(text.substr(at, end - at));
            at = end;
        }
        std::size_t tokens = 0;
        double cold = 0, warm = 1e30, pre = 1e30;
        for (int r = 0; r <= rounds; ++r) {
            t0 = Clock::now();
            std::size_t n = 0;
            for (const auto& d : docs)
                n += tok.encode(d, false).size();
            const double s = seconds_since(t0);
            if (r == 0) {
                cold = s;
                tokens = n;
            } else {
                warm = std::min(warm, s);
            }
            t0 = Clock::now();
            std::size_t pieces = 0;
            for (const auto& d : docs)
                pieces += tok.pre_tokenize(d).size();
            pre = std::min(pre, seconds_since(t0));
            if (pieces == 0)
                throw Error("no pieces");
        }
        const double mb = static_cast<double>(text.size()) / 1e6;
        const nlohmann::json out = {
            {"tokenizer", tokenizer_path},
            {"bytes", text.size()},
            {"documents", docs.size()},
            {"tokens", tokens},
            {"bytes_per_token", static_cast<double>(text.size()) / static_cast<double>(tokens)},
            {"load_s", load_s},
            {"cold_mb_per_s", mb / cold},
            {"warm_mb_per_s", mb / warm},
            {"pre_tokenize_share", pre / warm}};
        std::printf("%s\n", out.dump().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
        return 1;
    }
    return 0;
}
