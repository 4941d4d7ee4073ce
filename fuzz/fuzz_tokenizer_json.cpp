// Fuzz harness: tokenizer.json: the whole load (size cap, depth bound, model, normalizer,
// pre-tokenizer, decoder, added tokens), then one encode and decode.
#include "data/tokenizer/tokenizer.h"
#include "fuzz/fuzz_util.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = input_file(data, size, "tokenizer.json");
    return guarded([&] {
        const data::Tokenizer tok = data::Tokenizer::load(path);
        tok.decode(tok.encode("Hello wor\xC3\xA9ld  12 <|x|>"));
    });
}
