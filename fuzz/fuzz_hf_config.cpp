// Fuzz harness: config.json and generation_config.json: parse_hf_config, the parser GGUF metadata
// also goes through.
#include "fuzz/fuzz_util.h"
#include "model/hf_config.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return guarded([&] { parse_hf_config(std::string(as_text(data, size)), "config.json"); });
}
