// .npy files: the writer's exact bytes against what numpy.save writes, round trips, the
// reader's rejections, and (when /usr/bin/python3 has numpy) numpy itself loading our files
// and writing files we load.
#include "common/error.h"
#include "model/io/npy.h"
#include "tests/test_util.h"

#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unistd.h>

using namespace slimtune;
using namespace slimtune::io;
using Catch::Contains;
namespace fs = std::filesystem;
using test::TempDir;

namespace {

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    REQUIRE(out.good());
}

// The 1.0 header numpy.save writes for '<f4', C order: the dict, `pad` spaces, '\n'.
std::string v1_header(const std::string& dict, size_t pad) {
    const size_t len = dict.size() + pad + 1;
    std::string h = "\x93NUMPY";
    h += '\x01';
    h += '\x00';
    h += static_cast<char>(len & 0xff);
    h += static_cast<char>(len >> 8);
    return h + dict + std::string(pad, ' ') + "\n";
}

std::string float_bytes(const std::vector<float>& v) {
    return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)};
}

// The message of the FormatError read_npy_f32 throws, or "(no error)".
std::string read_error(const std::string& path) {
    try {
        (void)read_npy_f32(path);
    } catch (const FormatError& e) {
        return e.what();
    }
    return "(no error)";
}

bool have_numpy() {
    return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// Runs a Python snippet (no single quotes in it) with the given arguments; true on exit 0.
bool run_python(const std::string& code, const std::vector<std::string>& args) {
    std::string cmd = "/usr/bin/python3 -c '" + code + "'";
    for (const std::string& a : args)
        cmd += " '" + a + "'";
    return std::system(cmd.c_str()) == 0;
}

std::vector<float> iota(size_t n, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = static_cast<float>(i) * scale;
    return v;
}

} // namespace

TEST_CASE("npy: header bytes match numpy.save", "[model][format]") {
    TempDir t("header");
    struct Case {
        std::vector<int64_t> shape;
        std::string expected_header;
    };
    // numpy 1.24's bytes: 20 spaces after the dict let the first dim grow to 21 digits; then
    // spaces and '\n' up to a multiple of 64 (a full extra 64 when already aligned).
    const std::vector<Case> cases = {
        {{2, 3}, v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 58)},
        {{5}, v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 60)},
        {{}, v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 62)},
        {{0}, v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 60)},
        {{1000, 7},
         v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 7), }", 55)},
        {{7, 10, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
         v1_header("{'descr': '<f4', 'fortran_order': False, 'shape': (7, 10, 10, 1, 1, 1, 1, 1, "
                   "1, 1, 1, 1, 1, 1), }",
                   20 + 64)},
    };
    for (const Case& c : cases) {
        int64_t n = 1;
        for (int64_t d : c.shape)
            n *= d;
        const std::vector<float> v = iota(static_cast<size_t>(n), 0.5f);
        INFO("numel " << n);
        const std::string path = t.file("h.npy");
        write_npy_f32(path, c.shape, v);
        const std::string bytes = read_bytes(path);
        CHECK(c.expected_header.size() % 64 == 0);
        CHECK(bytes.substr(0, c.expected_header.size()) == c.expected_header);
        CHECK(bytes.size() == c.expected_header.size() + v.size() * 4);
        CHECK(bytes.substr(c.expected_header.size()) == float_bytes(v));
        const NpyArray a = read_npy_f32(path);
        CHECK(a.shape == c.shape);
        CHECK(a.values == v);
    }
}

TEST_CASE("npy: round trips keep every bit", "[model][format]") {
    TempDir t("roundtrip");
    const std::string path = t.file("a.npy");
    const std::vector<float> special = {
        0.0f,
        -0.0f,
        std::numeric_limits<float>::infinity(),
        -std::numeric_limits<float>::infinity(),
        std::numeric_limits<float>::denorm_min(),
        std::numeric_limits<float>::max(),
        std::bit_cast<float>(0x7fc01234u), // NaN with a payload
        -1.0f / 3.0f,
    };
    write_npy_f32(path, {2, 2, 2}, special);
    const NpyArray a = read_npy_f32(path);
    CHECK(a.shape == std::vector<int64_t>{2, 2, 2});
    REQUIRE(a.values.size() == special.size());
    CHECK(std::memcmp(a.values.data(), special.data(), special.size() * 4) == 0);

    const std::vector<float> logits = slimtune::test::random_normal(3 * 50, 7, 4.0);
    write_npy_f32(path, {3, 50}, logits); // overwrites atomically
    CHECK(read_npy_f32(path).values == logits);

    write_npy_f32(path, {}, std::vector<float>{42.0f}); // 0-d: one value
    CHECK(read_npy_f32(path).shape.empty());
    CHECK(read_npy_f32(path).values == std::vector<float>{42.0f});

    write_npy_f32(path, {4, 0, 3}, std::vector<float>{});
    CHECK(read_npy_f32(path).shape == std::vector<int64_t>{4, 0, 3});
    CHECK(read_npy_f32(path).values.empty());
}

TEST_CASE("npy: writer rejects values that do not fill the shape", "[model][format]") {
    TempDir t("writebad");
    const std::string path = t.file("w.npy");
    const std::vector<float> v = {1, 2, 3, 4, 5, 6};
    CHECK_THROWS_AS(write_npy_f32(path, {4}, v), ShapeError);
    CHECK_THROWS_WITH(write_npy_f32(path, {4}, v),
                      path + ": 6 values do not fill shape (4,); expected 4");
    CHECK_THROWS_AS(write_npy_f32(path, {}, v), ShapeError);
    CHECK_THROWS_AS(write_npy_f32(path, {-2, -3}, v), ShapeError);
    CHECK_THROWS_AS(write_npy_f32(path, {int64_t{1} << 40, int64_t{1} << 40}, v), ShapeError);
    CHECK_FALSE(fs::exists(path));
    CHECK(fs::is_empty(t.path)); // no temporary left behind either
    CHECK_THROWS_AS(write_npy_f32(t.file("no_dir/w.npy"), {6}, v), Error);
}

TEST_CASE("npy: reader accepts format 2.0", "[model][format]") {
    TempDir t("v2");
    // Hand-built like numpy.lib.format.write_array(..., version=(2, 0)): uint32 header length,
    // prefix 12 bytes, header padded to a multiple of 64.
    const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    const size_t len = 128 - 12;
    std::string h = "\x93NUMPY";
    h += '\x02';
    h += '\x00';
    h += static_cast<char>(len);
    h += std::string(3, '\0');
    h += dict + std::string(len - dict.size() - 1, ' ') + "\n";
    const std::vector<float> v = {1.5f, 2.5f, -3.5f};
    write_bytes(t.file("v2.npy"), h + float_bytes(v));
    const NpyArray a = read_npy_f32(t.file("v2.npy"));
    CHECK(a.shape == std::vector<int64_t>{3});
    CHECK(a.values == v);
}

TEST_CASE("npy: reader rejects what is not a '<f4' C-order array", "[model][format]") {
    TempDir t("readbad");
    const std::vector<float> six = iota(6, 1.0f);
    auto with_dict = [&](const std::string& dict, const std::vector<float>& data) {
        return v1_header(dict, (64 - (10 + dict.size() + 1) % 64) % 64) + float_bytes(data);
    };
    const std::string good =
        with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", six);
    auto header_len = [](size_t len) {
        std::string h = "\x93NUMPY";
        h += '\x01';
        h += '\x00';
        h += static_cast<char>(len & 0xff);
        h += static_cast<char>(len >> 8);
        return h;
    };
    struct Case {
        const char* what;
        std::string bytes;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"empty file", "", "too short for a .npy header"},
        {"short file", "\x93NUMP", "too short"},
        {"bad magic", "\x93NUMPZ" + good.substr(6), "not a .npy file"},
        {"version 3.0", good.substr(0, 6) + "\x03" + good.substr(7),
         "version 3.0 is not supported; expected 1.0 or 2.0"},
        {"version 1.1", good.substr(0, 7) + "\x01" + good.substr(8), "version 1.1"},
        {"header past the end", header_len(500) + "{'descr': '<f4'", "runs past the end"},
        {"header length only", good.substr(0, 9), "too short"},
        {"dtype <f8", with_dict("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", six),
         "dtype '<f8' is not supported; expected '<f4'"},
        {"big-endian", with_dict("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", six),
         "dtype '>f4'"},
        {"fortran order",
         with_dict("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", six),
         "fortran_order is True"},
        {"fortran_order not a bool",
         with_dict("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", six),
         "'fortran_order' is not True or False"},
        {"shape not a tuple",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", six),
         "is not a tuple"},
        {"negative dim",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }", six),
         "non-negative integer"},
        {"non-integer dim",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", six),
         "non-negative integer"},
        {"dim overflows",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                   six),
         "does not fit in int64"},
        {"numel overflows",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                   six),
         "overflows int64"},
        {"missing key", with_dict("{'descr': '<f4', 'shape': (6,), }", six),
         "no 'fortran_order' key"},
        {"unexpected key",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1, }", six),
         "unexpected key 'x'"},
        {"repeated key",
         with_dict("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
                   six),
         "key 'descr' appears twice"},
        {"not a dict", with_dict("[1, 2]", six), "expected a '{'"},
        {"unterminated", with_dict("{'descr': '<f4", six), "unterminated string"},
        {"text after the dict",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } x", six),
         "text after the closing '}'"},
        {"data too short", good.substr(0, good.size() - 4),
         "data is 20 bytes; expected 24 for shape (2, 3)"},
        {"data too long", good + "xx", "data is 26 bytes; expected 24"},
        {"data huge vs shape",
         with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }", six),
         "expected 4000000000000 for shape (1000000000000,)"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        const std::string path = t.file("bad.npy");
        write_bytes(path, c.bytes);
        const std::string msg = read_error(path);
        CHECK_THAT(msg, Contains(path + ": "));
        CHECK_THAT(msg, Contains(c.expected));
        CHECK(msg.find('\n') == std::string::npos);
    }
    // The good file passes, so the catalogue tests one fault at a time.
    write_bytes(t.file("good.npy"), good);
    CHECK(read_npy_f32(t.file("good.npy")).values == six);
    CHECK_THROWS_AS(read_npy_f32(t.file("missing.npy")), Error);
}

TEST_CASE("npy: numpy loads our files and we load numpy's", "[model][format]") {
    if (!have_numpy()) {
        WARN("/usr/bin/python3 has no numpy: skipping the check against numpy");
        return;
    }
    TempDir t("numpy");
    // Ours -> numpy.load: shape, dtype and values; numpy.save of the same array is identical.
    const std::vector<float> v = iota(6, 0.5f);
    write_npy_f32(t.file("ours.npy"), {2, 3}, v);
    CHECK(run_python(
        "import sys, numpy\n"
        "a = numpy.load(sys.argv[1])\n"
        "assert a.dtype == numpy.dtype(\"<f4\") and a.shape == (2, 3), (a.dtype, a.shape)\n"
        "assert (a == numpy.arange(6, dtype=numpy.float32).reshape(2, 3) * 0.5).all(), a\n",
        {t.file("ours.npy")}));
    const std::vector<std::vector<int64_t>> shapes = {
        {2, 3}, {5}, {}, {0}, {1000, 7}, {7, 10, 10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}};
    for (const auto& shape : shapes) {
        int64_t n = 1;
        for (int64_t d : shape)
            n *= d;
        std::string shape_arg;
        for (int64_t d : shape)
            shape_arg += std::to_string(d) + ",";
        INFO("shape (" << shape_arg << ")");
        write_npy_f32(t.file("ours.npy"), shape, iota(static_cast<size_t>(n), 0.25f));
        REQUIRE(run_python("import sys, numpy\n"
                           "shape = tuple(int(d) for d in sys.argv[2].split(\",\") if d)\n"
                           "a = numpy.arange(numpy.prod(shape, dtype=int), dtype=numpy.float32)\n"
                           "numpy.save(sys.argv[1], (a * 0.25).reshape(shape))\n",
                           {t.file("theirs.npy"), shape_arg}));
        CHECK(read_bytes(t.file("ours.npy")) == read_bytes(t.file("theirs.npy")));
    }

    // numpy -> ours: a 3-d array in format 1.0 and 2.0, and a non-contiguous (transposed) view,
    // which numpy.save writes in C order.
    REQUIRE(run_python("import sys, numpy\n"
                       "from numpy.lib import format\n"
                       "a = numpy.arange(24, dtype=numpy.float32).reshape(2, 3, 4) - 5\n"
                       "numpy.save(sys.argv[1], a)\n"
                       "with open(sys.argv[2], \"wb\") as f:\n"
                       "    format.write_array(f, a, version=(2, 0))\n"
                       "numpy.save(sys.argv[3], a.transpose(2, 0, 1))\n"
                       "numpy.save(sys.argv[4], a.astype(numpy.float64))\n",
                       {t.file("v1.npy"), t.file("v2.npy"), t.file("tr.npy"), t.file("f8.npy")}));
    std::vector<float> expected(24);
    for (size_t i = 0; i < 24; ++i)
        expected[i] = static_cast<float>(i) - 5.0f;
    for (const char* name : {"v1.npy", "v2.npy"}) {
        const NpyArray a = read_npy_f32(t.file(name));
        CHECK(a.shape == std::vector<int64_t>{2, 3, 4});
        CHECK(a.values == expected);
    }
    const NpyArray tr = read_npy_f32(t.file("tr.npy"));
    CHECK(tr.shape == std::vector<int64_t>{4, 2, 3});
    CHECK(tr.values[1] == expected[4]); // [0][0][1] of the transpose is a[0][1][0]
    CHECK_THAT(read_error(t.file("f8.npy")), Contains("dtype '<f8' is not supported"));
}
