// Fuzz harness: GGUF (model and adapter): the container, the model config it implies, the
// embedded tokenizer.json, whether it is an adapter.
#include "fuzz/fuzz_util.h"
#include "model/io/gguf.h"
#include "model/io/gguf_adapter.h"
#include "model/io/gguf_metadata.h"
#include "train/gguf_tokenizer.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = input_file(data, size, "model.gguf");
    return guarded([&] {
        const io::GgufFile f = io::GgufFile::open(path);
        if (io::is_gguf_adapter(f))
            return;
        io::gguf_model_config(f);
        if (f.find("tokenizer.huggingface.json")) // the embedded tokenizer.json
            train::gguf_tokenizer(f);
    });
}
