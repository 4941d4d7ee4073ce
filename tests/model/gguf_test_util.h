// Helpers shared by the GGUF tests (test_gguf.cpp, test_gguf_oracle.cpp): file bytes, sample
// tensors and metadata, writing them with our writer, checking what a reader returns.
#pragma once

#include "common/error.h"
#include "model/io/gguf.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace slimtune::gguf_test {

using namespace slimtune::io;

using VT = GgufValueType;

inline std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_all(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string hex_bytes(const std::string& hex) {
    std::string out;
    std::istringstream in(hex);
    for (std::string b; in >> b;)
        out.push_back(static_cast<char>(std::stoi(b, nullptr, 16)));
    return out;
}

// The raw element bytes of a numeric or bool value (what ggml's get_val_data/arr_data return).
inline std::string element_bytes(const GgufValue& v) {
    return std::visit(
        [](const auto& elems) -> std::string {
            using T = typename std::decay_t<decltype(elems)>::value_type;
            if constexpr (std::is_arithmetic_v<T>)
                return std::string(reinterpret_cast<const char*>(elems.data()),
                                   elems.size() * sizeof(T));
            else
                return "";
        },
        v.storage());
}

// Bytes of a tensor with a recognisable pattern.
inline std::vector<uint8_t> pattern(uint64_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (uint64_t i = 0; i < n; ++i)
        v[i] = static_cast<uint8_t>(seed + i * 7);
    return v;
}

struct TensorSpec {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    std::vector<uint8_t> bytes;
};

// Tensors of several types and odd sizes (no trailing 1-dims, so ggml writes the same n_dims).
inline std::vector<TensorSpec> sample_tensors() {
    std::vector<TensorSpec> t = {
        {"f32.odd", {3}, 0, {}},           {"f16.matrix", {5, 3}, 1, {}},
        {"q8_0.weight", {64, 3}, 8, {}},   {"q4_K.weight", {256, 2}, 12, {}},
        {"bf16.vec", {7}, 30, {}},         {"q6_K.weight", {256}, 14, {}},
        {"q4_0.4d", {32, 2, 1, 2}, 2, {}}, {"q5_0.weight", {32, 5}, 6, {}},
    };
    for (size_t i = 0; i < t.size(); ++i)
        t[i].bytes = pattern(gguf_tensor_nbytes(t[i].type, t[i].ne), static_cast<uint8_t>(i));
    return t;
}

// Every scalar and array type llama.cpp's API can hold (no arrays of arrays).
inline std::vector<GgufKv> oracle_kvs() {
    return {
        {"general.architecture", GgufValue::str("llama")},
        {"t.u8", GgufValue::u8(250)},
        {"t.i8", GgufValue::i8(-128)},
        {"t.u16", GgufValue::u16(65535)},
        {"t.i16", GgufValue::i16(-32768)},
        {"llama.block_count", GgufValue::u32(4000000000u)},
        {"t.i32", GgufValue::i32(-7)},
        {"llama.attention.layer_norm_rms_epsilon", GgufValue::f32(1e-5f)},
        {"t.f32_neg_zero", GgufValue::f32(-0.0f)},
        {"t.f32_inf", GgufValue::f32(std::numeric_limits<float>::infinity())},
        {"t.f32_denormal", GgufValue::f32(std::numeric_limits<float>::denorm_min())},
        {"tokenizer.ggml.add_bos_token", GgufValue::boolean(true)},
        {"t.false", GgufValue::boolean(false)},
        {"t.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max())},
        {"t.i64", GgufValue::i64(std::numeric_limits<int64_t>::min())},
        {"t.f64", GgufValue::f64(-1.0 / 3.0)},
        {"t.empty_str", GgufValue::str("")},
        {"t.utf8", GgufValue::str("h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\xa6\x99")},
        {"t.long_str", GgufValue::str(std::string(1000, 'x'))},
        {"tokenizer.ggml.tokens", GgufValue::array_str({"<s>", "", "\xc4\xa0the", "\xe2\x96\x81"})},
        {"tokenizer.ggml.scores", GgufValue::array_f32({0.0f, -1.5f, 3.25f})},
        {"tokenizer.ggml.token_type", GgufValue::array_i32({1, 3, -2})},
        {"t.arr_u8", GgufValue::array_u8({0, 255, 7})},
        {"t.arr_i8", GgufValue::array_i8({-1, 2})},
        {"t.arr_u16", GgufValue::array_u16({1, 65535})},
        {"t.arr_i16", GgufValue::array_i16({-300})},
        {"t.arr_u32", GgufValue::array_u32({5, 4000000000u})},
        {"t.arr_bool", GgufValue::array_bool({true, false, true})},
        {"t.arr_u64", GgufValue::array_u64({1ull << 40})},
        {"t.arr_i64", GgufValue::array_i64({-(1ll << 40), 3})},
        {"t.arr_f64", GgufValue::array_f64({0.1, -2.5})},
        {"t.arr_empty", GgufValue::array_u32({})},
        {"t.arr_str_empty", GgufValue::array_str({})},
    };
}

inline void write_ours(const std::string& path,
                       const std::vector<GgufKv>& kvs,
                       const std::vector<TensorSpec>& tensors,
                       uint32_t alignment = 32) {
    GgufWriter w(path, alignment);
    for (const GgufKv& kv : kvs)
        w.set(kv.key, kv.value);
    for (const TensorSpec& t : tensors)
        CHECK(w.add_tensor(t.name, t.ne, t.type) == t.bytes.size());
    for (const TensorSpec& t : tensors)
        w.write_tensor_data(t.name, t.bytes.data(), t.bytes.size());
    w.finish();
}

inline void check_read_back(const GgufFile& f,
                            const std::vector<GgufKv>& kvs,
                            const std::vector<TensorSpec>& tensors) {
    REQUIRE(f.metadata().size() == kvs.size());
    for (size_t i = 0; i < kvs.size(); ++i) {
        INFO(kvs[i].key);
        CHECK(f.metadata()[i].key == kvs[i].key);
        CHECK(f.metadata()[i].value == kvs[i].value);
    }
    REQUIRE(f.tensors().size() == tensors.size());
    uint64_t offset = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const GgufTensorInfo& t = f.tensors()[i];
        INFO(tensors[i].name);
        CHECK(t.name == tensors[i].name);
        CHECK(t.ne == tensors[i].ne);
        CHECK(t.type == tensors[i].type);
        CHECK(t.offset == offset);
        CHECK(t.nbytes == tensors[i].bytes.size());
        const auto data = f.tensor_data(t);
        CHECK(std::vector<uint8_t>(data.begin(), data.end()) == tensors[i].bytes);
        offset += (t.nbytes + f.alignment() - 1) / f.alignment() * f.alignment();
    }
    CHECK(f.data_offset() % f.alignment() == 0);
    if (!tensors.empty())
        CHECK(f.file_size() == f.data_offset() + offset);
}

inline void require_format_error(const std::string& path, const std::string& needle) {
    INFO(needle);
    try {
        GgufFile::open(path);
        FAIL("opened without a FormatError");
    } catch (const FormatError& e) {
        const std::string msg = e.what();
        INFO(msg);
        CHECK(msg.rfind(path + ": ", 0) == 0);
        CHECK(msg.find(needle) != std::string::npos);
    }
}

} // namespace slimtune::gguf_test
