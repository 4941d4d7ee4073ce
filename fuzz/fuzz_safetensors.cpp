// Fuzz harness: safetensors: header, offsets and every tensor converted to float.
#include "fuzz/fuzz_util.h"
#include "model/io/safetensors.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = input_file(data, size, "model.safetensors");
    return guarded([&] {
        const io::SafetensorsFile f = io::SafetensorsFile::open(path);
        for (const io::SafetensorsEntry& e : f.entries())
            if (e.numel() <= (int64_t{1} << 20))
                f.read_f32(e.name);
    });
}
