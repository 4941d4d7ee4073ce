// The llama.cpp oracle is there and behaves as its format says: libggml-base.so quantizes one
// Q8_0 block (32 values -> fp16 scale amax/127 + 32 int8) and libllama.so exports the model API
// the export tests use. If the npm package is missing the test fails with the install command.
#include "tests/ggml_oracle.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using namespace slimtune::test;

TEST_CASE("llama.cpp oracle: libggml-base quantizes a Q8_0 block, libllama loads", "[oracle]") {
    REQUIRE_FALSE(llama_cpp_lib_dir().empty());
    using QuantizeChunk =
        size_t (*)(int, const float*, void*, int64_t, int64_t, int64_t, const float*);
    const auto quantize = llama_cpp_fn<QuantizeChunk>("ggml-base", "ggml_quantize_chunk");
    std::vector<float> x(32);
    for (int i = 0; i < 32; ++i)
        x[static_cast<size_t>(i)] = static_cast<float>(i - 16) * 0.25f; // amax = 4 (x[0] = -4)
    std::vector<uint8_t> out(64, 0xAA);
    constexpr int kQ8_0 = 8;
    REQUIRE(quantize(kQ8_0, x.data(), out.data(), 0, 1, 32, nullptr) == 34);
    // d = 4 / 127 as fp16: 0x2808 (0.031494140625, the nearest half to 0.0314961).
    uint16_t d = 0;
    std::memcpy(&d, out.data(), 2);
    CHECK(d == 0x2808);
    // q = round(x * 127 / 4): -4 -> -127, 0 -> 0, 3.75 -> 119.
    CHECK(static_cast<int8_t>(out[2]) == -127);
    CHECK(static_cast<int8_t>(out[2 + 16]) == 0);
    CHECK(static_cast<int8_t>(out[2 + 31]) == 119);
    CHECK(out[34] == 0xAA); // nothing written past the block
    CHECK(llama_cpp_symbol("llama", "llama_model_load_from_file") != nullptr);
}
