// Fuzz harness: An HDF5 training checkpoint: metadata, shapes, the checksum.
#include "fuzz/fuzz_util.h"
#include "train/checkpoint_h5.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = input_file(data, size, "step-1.h5");
    return guarded([&] { train::read_train_checkpoint(path); });
}
