// Fuzz harness: A curate lexicon file (groups, attributes, pairs), under each kind of name.
#include "data/curate/lexicon.h"
#include "fuzz/fuzz_util.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return guarded([&] {
        data::curate::Lexicon lexicon;
        for (const char* name : {"groups_fuzz.txt", "attributes_fuzz.txt", "pairs_fuzz.txt"})
            lexicon.add_file(name, as_text(data, size), name, true);
    });
}
