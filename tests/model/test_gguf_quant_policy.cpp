// llama-quantize's per-tensor type policy, on hand-built tensor lists: the output rule, the
// Q4_K_M / Q5_K_M mixes with use_more_bits, the shape fallbacks of 576- and 896-wide models,
// 1-D tensors left in F32, and the export type names and file types.
#include "common/error.h"
#include "model/io/gguf_quant_policy.h"

#include <catch2/catch.hpp>

using namespace slimtune;
using namespace slimtune::io;

namespace {

GgufTensorSource
t(const std::string& name, TensorRole role, int64_t layer, std::vector<int64_t> shape) {
    GgufTensorSource s;
    s.name = name;
    s.role = role;
    s.layer = layer;
    s.shape = std::move(shape);
    return s;
}

// A llama-shaped list: n layers of (attn_norm, attn_v, ffn_down), a tied head.
std::vector<GgufTensorSource> llama(int64_t n, int64_t width) {
    std::vector<GgufTensorSource> v{
        t("token_embd.weight", TensorRole::TokenEmbd, -1, {1000, width})};
    for (int64_t i = 0; i < n; ++i) {
        const std::string b = "blk." + std::to_string(i) + ".";
        v.push_back(t(b + "attn_norm.weight", TensorRole::Norm, i, {width}));
        v.push_back(t(b + "attn_v.weight", TensorRole::AttnV, i, {width / 4, width}));
        v.push_back(t(b + "ffn_down.weight", TensorRole::FfnDown, i, {width, 4 * width}));
    }
    return v;
}

} // namespace

TEST_CASE("quant policy: use_more_bits picks the first and last eighth and every third", "[gguf]") {
    // n = 16: first eighth {0, 1}, last eighth {14, 15}, and i - 2 = 2 (mod 3): 4, 7, 10, 13.
    std::vector<int64_t> picked;
    for (int64_t i = 0; i < 16; ++i)
        if (use_more_bits(i, 16))
            picked.push_back(i);
    CHECK(picked == std::vector<int64_t>{0, 1, 4, 7, 10, 13, 14, 15});
}

TEST_CASE("quant policy: Q4_K_M mix, output rule, fallbacks", "[gguf]") {
    const auto v = llama(16, 2048);
    const auto ty = gguf_tensor_types(ExportType::Q4_K_M, v);
    CHECK(ty[0] == GgmlType::Q6_K);         // tied token_embd takes the output rule
    CHECK(ty[1] == GgmlType::F32);          // blk.0.attn_norm
    CHECK(ty[2] == GgmlType::Q6_K);         // blk.0.attn_v: use_more_bits(0, 16)
    CHECK(ty[3] == GgmlType::Q6_K);         // blk.0.ffn_down
    CHECK(ty[3 * 2 + 2] == GgmlType::Q4_K); // blk.2.attn_v
    CHECK(ty[3 * 4 + 3] == GgmlType::Q6_K); // blk.4.ffn_down
    CHECK(gguf_tensor_types(ExportType::Q5_K_M, v)[3 * 2 + 2] == GgmlType::Q5_K);
    // q8_0 keeps the head in Q8_0; q4_0 moves it to Q6_K.
    CHECK(gguf_tensor_types(ExportType::Q8_0, v)[0] == GgmlType::Q8_0);
    CHECK(gguf_tensor_types(ExportType::Q4_0, v)[0] == GgmlType::Q6_K);
    CHECK(gguf_tensor_types(ExportType::Q4_0, v)[2] == GgmlType::Q4_0);
    // SmolLM2-135M is 576 wide: 576 % 256 != 0, so Q4_K -> Q5_0, Q6_K -> Q8_0, head Q8_0;
    // ffn_down rows are 4 * 576 = 2304 = 9 * 256 and keep K-quants.
    const auto s = gguf_tensor_types(ExportType::Q4_K_M, llama(8, 576));
    CHECK(s[0] == GgmlType::Q8_0);
    CHECK(s[2] == GgmlType::Q8_0);         // attn_v, more bits: Q6_K -> Q8_0
    CHECK(s[3 * 2 + 2] == GgmlType::Q5_0); // attn_v: Q4_K -> Q5_0
    CHECK(s[3 * 2 + 3] == GgmlType::Q4_K); // ffn_down of layer 2 (not more bits)
    // A row of 48 is no whole 32-block: F16.
    CHECK(gguf_tensor_types(ExportType::Q8_0, {t("x.weight", TensorRole::AttnQ, 0, {8, 48})})[0] ==
          GgmlType::F16);
    // Float exports: matrices in the type, vectors in F32, position embeddings as the rest.
    const auto f = gguf_tensor_types(ExportType::BF16, v);
    CHECK((f[0] == GgmlType::BF16 && f[1] == GgmlType::F32 && f[2] == GgmlType::BF16));
    CHECK(gguf_tensor_types(ExportType::Q4_K, {t("position_embd.weight", TensorRole::PosEmbd, -1,
                                                 {1024, 768})})[0] == GgmlType::F32);
}

TEST_CASE("quant policy: names and file types", "[gguf]") {
    CHECK(export_type_names().size() == 10);
    CHECK(parse_export_type("q4_k_m") == ExportType::Q4_K_M);
    CHECK(llama_file_type(ExportType::Q4_K_M) == 15);
    CHECK(llama_file_type(ExportType::BF16) == 32);
    CHECK_THROWS_AS(parse_export_type("Q4_K_M"), ConfigError);
}
