// Fuzz harness: A recipe INI file with its keys (and what a checkpoint stores, the same INI).
#include "fuzz/fuzz_util.h"
#include "train/recipe.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = input_file(data, size, "recipe.ini");
    return guarded([&] {
        train::recipe_from_ini(std::string(as_text(data, size)), "checkpoint recipe");
        train::load_recipe(path, {}, train::RecipeUse::curate);
    });
}
