// Fuzz harness: A curation manifest.json, checked against a data file it may or may not vouch for.
#include "data/curate/manifest.h"
#include "fuzz/fuzz_util.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string manifest = input_file(data, size, "manifest.json");
    const uint8_t line[] = "{\"text\": \"a\"}\n";
    const std::string curated = input_file(line, sizeof line - 1, "curated.jsonl");
    return guarded([&] { data::curate::verify_curated(curated, manifest); });
}
