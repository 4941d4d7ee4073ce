// GGUF against llama.cpp's own gguf API in libggml-base.so (the oracle): our type layouts are
// ggml's, it reads our files with the same keys, types, values and offsets, and its writer's
// files are byte-identical to ours and read back identically.
#include "common/error.h"
#include "model/io/gguf.h"
#include "tests/ggml_oracle.h"
#include "tests/model/gguf_test_util.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>

using namespace slimtune;
using namespace slimtune::io;
using namespace slimtune::gguf_test;
using slimtune::test::TempDir;

namespace {

// The few llama.cpp C declarations the oracle tests call (ggml/include/gguf.h and ggml.h of
// the package's release; enums are passed as int).
struct GgufInitParams {
    bool no_alloc;
    void** ctx; // struct ggml_context **
};
struct GgmlInitParams {
    size_t mem_size;
    void* mem_buffer;
    bool no_alloc;
};

template <class F> F ggml_fn(const char* name) {
    return slimtune::test::llama_cpp_fn<F>("ggml-base", name);
}

// Function pointers into libggml-base.so; a gguf_context or ggml_context is a void* here.
struct Ggml {
    using C = const void*;
    void* (*init_from_file)(const char*, GgufInitParams) =
        ggml_fn<decltype(init_from_file)>("gguf_init_from_file");
    void (*free)(void*) = ggml_fn<decltype(free)>("gguf_free");
    uint32_t (*version)(C) = ggml_fn<decltype(version)>("gguf_get_version");
    size_t (*alignment)(C) = ggml_fn<decltype(alignment)>("gguf_get_alignment");
    size_t (*data_offset)(C) = ggml_fn<decltype(data_offset)>("gguf_get_data_offset");
    int64_t (*n_kv)(C) = ggml_fn<decltype(n_kv)>("gguf_get_n_kv");
    const char* (*key)(C, int64_t) = ggml_fn<decltype(key)>("gguf_get_key");
    int (*kv_type)(C, int64_t) = ggml_fn<decltype(kv_type)>("gguf_get_kv_type");
    int (*arr_type)(C, int64_t) = ggml_fn<decltype(arr_type)>("gguf_get_arr_type");
    size_t (*arr_n)(C, int64_t) = ggml_fn<decltype(arr_n)>("gguf_get_arr_n");
    const void* (*arr_data)(C, int64_t) = ggml_fn<decltype(arr_data)>("gguf_get_arr_data");
    const char* (*arr_str)(C, int64_t, size_t) = ggml_fn<decltype(arr_str)>("gguf_get_arr_str");
    const void* (*val_data)(C, int64_t) = ggml_fn<decltype(val_data)>("gguf_get_val_data");
    const char* (*val_str)(C, int64_t) = ggml_fn<decltype(val_str)>("gguf_get_val_str");
    uint32_t (*val_u32)(C, int64_t) = ggml_fn<decltype(val_u32)>("gguf_get_val_u32");
    float (*val_f32)(C, int64_t) = ggml_fn<decltype(val_f32)>("gguf_get_val_f32");
    bool (*val_bool)(C, int64_t) = ggml_fn<decltype(val_bool)>("gguf_get_val_bool");
    int64_t (*n_tensors)(C) = ggml_fn<decltype(n_tensors)>("gguf_get_n_tensors");
    const char* (*tensor_name)(C, int64_t) = ggml_fn<decltype(tensor_name)>("gguf_get_tensor_name");
    size_t (*tensor_offset)(C,
                            int64_t) = ggml_fn<decltype(tensor_offset)>("gguf_get_tensor_offset");
    int (*tensor_type)(C, int64_t) = ggml_fn<decltype(tensor_type)>("gguf_get_tensor_type");
    size_t (*tensor_size)(C, int64_t) = ggml_fn<decltype(tensor_size)>("gguf_get_tensor_size");
    const int64_t* (*tensor_ne)(C, int64_t) = ggml_fn<decltype(tensor_ne)>("gguf_get_tensor_ne");
    void* (*init_empty)() = ggml_fn<decltype(init_empty)>("gguf_init_empty");
    void (*set_arr_data)(void*, const char*, int, const void*, size_t) =
        ggml_fn<decltype(set_arr_data)>("gguf_set_arr_data");
    void (*set_arr_str)(void*,
                        const char*,
                        const char**,
                        size_t) = ggml_fn<decltype(set_arr_str)>("gguf_set_arr_str");
    void (*set_str)(void*,
                    const char*,
                    const char*) = ggml_fn<decltype(set_str)>("gguf_set_val_str");
    void (*add_tensor)(void*, C) = ggml_fn<decltype(add_tensor)>("gguf_add_tensor");
    void (*set_tensor_data)(void*,
                            const char*,
                            C) = ggml_fn<decltype(set_tensor_data)>("gguf_set_tensor_data");
    bool (*write_to_file)(C,
                          const char*,
                          bool) = ggml_fn<decltype(write_to_file)>("gguf_write_to_file");
    size_t (*meta_size)(C) = ggml_fn<decltype(meta_size)>("gguf_get_meta_size");
    void* (*ggml_init)(GgmlInitParams) = ggml_fn<decltype(ggml_init)>("ggml_init");
    void (*ggml_free)(void*) = ggml_fn<decltype(ggml_free)>("ggml_free");
    void* (*new_tensor)(void*,
                        int,
                        int,
                        const int64_t*) = ggml_fn<decltype(new_tensor)>("ggml_new_tensor");
    void* (*set_name)(void*, const char*) = ggml_fn<decltype(set_name)>("ggml_set_name");
    void* (*get_tensor)(void*, const char*) = ggml_fn<decltype(get_tensor)>("ggml_get_tensor");
    void* (*get_data)(C) = ggml_fn<decltype(get_data)>("ggml_get_data");
    size_t (*nbytes)(C) = ggml_fn<decltype(nbytes)>("ggml_nbytes");
    const char* (*type_name)(int) = ggml_fn<decltype(type_name)>("ggml_type_name");
    int64_t (*blck_size)(int) = ggml_fn<decltype(blck_size)>("ggml_blck_size");
    size_t (*type_size)(int) = ggml_fn<decltype(type_size)>("ggml_type_size");
};

// gguf_set_val_<T> of ggml's writer.
template <class T> void ggml_set(void* ctx, const char* setter, const std::string& key, T v) {
    ggml_fn<void (*)(void*, const char*, T)>(setter)(ctx, key.c_str(), v);
}

// Sets `kv` in a gguf_context through ggml's own typed setters.
void ggml_set_kv(const Ggml& g, void* ctx, const GgufKv& kv) {
    const GgufValue& v = kv.value;
    const char* key = kv.key.c_str();
    if (v.is_array() && v.array_type() == VT::STRING) {
        std::vector<const char*> ptrs;
        for (const std::string& s : v.as_str_array())
            ptrs.push_back(s.c_str());
        g.set_arr_str(ctx, key, ptrs.data(), ptrs.size());
        return;
    }
    if (v.is_array()) {
        const std::string b = element_bytes(v);
        g.set_arr_data(ctx, key, static_cast<int>(v.array_type()), b.data(), v.size());
        return;
    }
    switch (v.type()) {
    case VT::UINT8:
        return ggml_set(ctx, "gguf_set_val_u8", kv.key, v.as_u8());
    case VT::INT8:
        return ggml_set(ctx, "gguf_set_val_i8", kv.key, v.as_i8());
    case VT::UINT16:
        return ggml_set(ctx, "gguf_set_val_u16", kv.key, v.as_u16());
    case VT::INT16:
        return ggml_set(ctx, "gguf_set_val_i16", kv.key, v.as_i16());
    case VT::UINT32:
        return ggml_set(ctx, "gguf_set_val_u32", kv.key, v.as_u32());
    case VT::INT32:
        return ggml_set(ctx, "gguf_set_val_i32", kv.key, v.as_i32());
    case VT::FLOAT32:
        return ggml_set(ctx, "gguf_set_val_f32", kv.key, v.as_f32());
    case VT::BOOL:
        return ggml_set(ctx, "gguf_set_val_bool", kv.key, v.as_bool());
    case VT::STRING:
        return g.set_str(ctx, key, v.as_str().c_str());
    case VT::UINT64:
        return ggml_set(ctx, "gguf_set_val_u64", kv.key, v.as_u64());
    case VT::INT64:
        return ggml_set(ctx, "gguf_set_val_i64", kv.key, v.as_i64());
    case VT::FLOAT64:
        return ggml_set(ctx, "gguf_set_val_f64", kv.key, v.as_f64());
    case VT::ARRAY:
        break;
    }
    FAIL("unreachable value type");
}

// ggml's view of file `path` agrees with ours on every key, type, value and tensor, and holds
// the same tensor bytes.
void check_ggml_reads(const Ggml& g,
                      const std::string& path,
                      const std::vector<GgufKv>& kvs,
                      const std::vector<TensorSpec>& tensors) {
    const GgufFile ours = GgufFile::open(path);
    void* data_ctx = nullptr;
    void* ctx = g.init_from_file(path.c_str(), GgufInitParams{false, &data_ctx});
    REQUIRE(ctx != nullptr);
    CHECK(g.version(ctx) == 3);
    CHECK(g.alignment(ctx) == ours.alignment());
    CHECK(g.data_offset(ctx) == ours.data_offset());
    REQUIRE(g.n_kv(ctx) == static_cast<int64_t>(kvs.size()));
    for (int64_t i = 0; i < g.n_kv(ctx); ++i) {
        const GgufValue& v = kvs[static_cast<size_t>(i)].value;
        INFO(kvs[static_cast<size_t>(i)].key);
        CHECK(std::string(g.key(ctx, i)) == kvs[static_cast<size_t>(i)].key);
        REQUIRE(g.kv_type(ctx, i) == static_cast<int>(v.type()));
        if (v.is_array()) {
            REQUIRE(g.arr_type(ctx, i) == static_cast<int>(v.array_type()));
            REQUIRE(g.arr_n(ctx, i) == v.size());
            if (v.array_type() == VT::STRING) {
                for (size_t j = 0; j < v.size(); ++j)
                    CHECK(std::string(g.arr_str(ctx, i, j)) == v.as_str_array()[j]);
            } else if (v.size() > 0) {
                const std::string want = element_bytes(v);
                CHECK(std::memcmp(g.arr_data(ctx, i), want.data(), want.size()) == 0);
            }
        } else if (v.type() == VT::STRING) {
            CHECK(std::string(g.val_str(ctx, i)) == v.as_str());
        } else {
            const std::string want = element_bytes(v);
            CHECK(std::memcmp(g.val_data(ctx, i), want.data(), want.size()) == 0);
            if (v.type() == VT::UINT32)
                CHECK(g.val_u32(ctx, i) == v.as_u32());
            if (v.type() == VT::FLOAT32) {
                const float got = g.val_f32(ctx, i), want_f = v.as_f32();
                CHECK(std::memcmp(&got, &want_f, sizeof(float)) == 0);
            }
            if (v.type() == VT::BOOL)
                CHECK(g.val_bool(ctx, i) == v.as_bool());
        }
    }
    REQUIRE(g.n_tensors(ctx) == static_cast<int64_t>(tensors.size()));
    for (int64_t i = 0; i < g.n_tensors(ctx); ++i) {
        const TensorSpec& want = tensors[static_cast<size_t>(i)];
        const GgufTensorInfo& t = ours.tensors()[static_cast<size_t>(i)];
        INFO(want.name);
        CHECK(std::string(g.tensor_name(ctx, i)) == want.name);
        CHECK(g.tensor_type(ctx, i) == static_cast<int>(want.type));
        CHECK(g.tensor_offset(ctx, i) == t.offset);
        CHECK(g.tensor_size(ctx, i) == t.nbytes);
        const int64_t* ne = g.tensor_ne(ctx, i);
        for (size_t d = 0; d < 4; ++d)
            CHECK(ne[d] == (d < want.ne.size() ? want.ne[d] : 1));
        const void* tensor = g.get_tensor(data_ctx, want.name.c_str());
        REQUIRE(tensor != nullptr);
        REQUIRE(g.nbytes(tensor) == want.bytes.size());
        CHECK(std::memcmp(g.get_data(tensor), want.bytes.data(), want.bytes.size()) == 0);
    }
    g.ggml_free(data_ctx);
    g.free(ctx);
}

} // namespace

TEST_CASE("gguf: our type layouts are ggml's", "[gguf][oracle]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const Ggml g;
    int known = 0;
    for (uint32_t id = 0; id < 43; ++id) { // GGML_TYPE_COUNT of the package's release
        INFO("ggml type " << id);
        const GgufTypeLayout* ours = gguf_type_layout(id);
        const int64_t blck = g.blck_size(static_cast<int>(id));
        REQUIRE((ours != nullptr) == (blck != 0)); // removed types have block size 0
        if (!ours)
            continue;
        ++known;
        CHECK(ours->name == g.type_name(static_cast<int>(id)));
        CHECK(ours->block_elems == blck);
        CHECK(ours->block_bytes == g.type_size(static_cast<int>(id)));
    }
    CHECK(known == 35);
}

TEST_CASE("gguf: llama.cpp reads our files and writes the same bytes", "[gguf][oracle]") {
    REQUIRE_FALSE(slimtune::test::llama_cpp_lib_dir().empty());
    const Ggml g;
    TempDir dir("gguf_oracle");
    const auto kvs = oracle_kvs();
    const auto tensors = sample_tensors();
    const std::string ours = dir.file("ours.gguf");
    write_ours(ours, kvs, tensors);
    check_ggml_reads(g, ours, kvs, tensors);

    // Alignment 64: ggml finds general.alignment and the offsets it implies.
    const std::string ours64 = dir.file("ours64.gguf");
    write_ours(ours64, kvs, tensors, 64);
    auto kvs64 = kvs;
    kvs64.push_back({"general.alignment", GgufValue::u32(64)});
    check_ggml_reads(g, ours64, kvs64, tensors);

    // ggml's writer, given the same pairs and tensors in the same order.
    void* ctx = g.init_empty();
    for (const GgufKv& kv : kvs)
        ggml_set_kv(g, ctx, kv);
    void* tctx = g.ggml_init(GgmlInitParams{1 << 20, nullptr, true});
    REQUIRE(tctx != nullptr);
    for (const TensorSpec& t : tensors) {
        void* tensor = g.new_tensor(tctx, static_cast<int>(t.type), static_cast<int>(t.ne.size()),
                                    t.ne.data());
        g.set_name(tensor, t.name.c_str());
        g.add_tensor(ctx, tensor);
        g.set_tensor_data(ctx, t.name.c_str(), t.bytes.data());
    }
    const std::string theirs = dir.file("theirs.gguf");
    REQUIRE(g.write_to_file(ctx, theirs.c_str(), false));
    const GgufFile f = GgufFile::open(theirs);
    CHECK(f.data_offset() == g.meta_size(ctx));
    g.ggml_free(tctx);
    g.free(ctx);
    check_read_back(f, kvs, tensors);
    CHECK(read_all(theirs) == read_all(ours));
}
