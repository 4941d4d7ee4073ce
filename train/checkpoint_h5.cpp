#include "train/checkpoint_h5.h"

#include "common/error.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <hdf5.h>
#include <limits>
#include <set>
#include <type_traits>
#include <unistd.h>
#include <utility>

namespace slimtune::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "slimtune-train-checkpoint";
constexpr std::int64_t kVersion = 1;

// Keeps HDF5 from printing its error stack to stderr while alive: we report errors ourselves.
// The first one made also turns off HDF5's exit handler (H5dont_atexit must come before the
// library initialises). That handler flushes every file still open at exit, and a file whose
// H5Fclose failed (a full disk, a file size limit) stays open inside the library: flushing it
// again at exit crashed in libhdf5 after slimtune had printed its error. slimtune closes every
// file it opens itself, and removes a temporary whose writing failed, so nothing is lost.
class QuietErrors {
public:
    QuietErrors() {
        static const bool no_exit_handler = [] {
            H5dont_atexit();
            return true;
        }();
        (void)no_exit_handler;
        H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    }
    ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
    QuietErrors(const QuietErrors&) = delete;
    QuietErrors& operator=(const QuietErrors&) = delete;

private:
    H5E_auto2_t func_ = nullptr;
    void* data_ = nullptr;
};

// The most specific message on HDF5's error stack (the cause), "" when it is empty.
std::string h5_reason() {
    std::string reason;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
            if (n == 0 && e->desc)
                *static_cast<std::string*>(out) = e->desc;
            return 0;
        },
        &reason);
    H5Eclear2(H5E_DEFAULT);
    return reason;
}

// An owned hid_t, closed by its H5?close on scope exit (exceptions included).
class Id {
public:
    Id(hid_t id, herr_t (*closer)(hid_t)) : id_(id), close_(closer) {}
    Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
    ~Id() { close(); }
    hid_t get() const { return id_; }
    herr_t close() { return id_ >= 0 ? close_(std::exchange(id_, H5I_INVALID_HID)) : 0; }

private:
    hid_t id_;
    herr_t (*close_)(hid_t);
};

// Error context: the file named in every message; reads throw FormatError, writes Error.
struct Ctx {
    std::string path;
    bool reading;

    [[noreturn]] void fail(const std::string& what) const {
        std::string msg = path + ": " + what;
        const std::string reason = h5_reason();
        // A failed write's reason is a paragraph (time, buffer address, byte counts) around
        // the system's errno: the errno's text is what a user needs ("No space left on device").
        const size_t at = reason.find("errno = ");
        const int err = at == std::string::npos ? 0 : std::atoi(reason.c_str() + at + 8);
        if (err > 0)
            msg += std::string(" (") + std::strerror(err) + ")";
        else if (!reason.empty())
            msg += " (HDF5: " + reason + ")";
        std::replace(msg.begin(), msg.end(), '\n', ' '); // HDF5 reasons can hold newlines
        if (reading)
            throw FormatError(msg);
        throw Error(msg);
    }
    Id own(hid_t id, herr_t (*closer)(hid_t), const std::string& what) const {
        if (id < 0)
            fail(what);
        return Id(id, closer);
    }
    void ok(herr_t status, const std::string& what) const {
        if (status < 0)
            fail(what);
    }
};

// A 64-bit checksum of everything a resume restores: eight bytes at a time, each step
// h = rotl(h ^ word, 31) * odd, a bijection of h for a given word, so any change confined to
// one word (a flipped bit) always changes the result. Not cryptographic: it finds damage, not
// tampering.
class Checksum {
public:
    void add(const void* data, size_t n) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (; n >= 8; p += 8, n -= 8) {
            uint64_t w;
            std::memcpy(&w, p, 8);
            mix(w);
        }
        uint64_t tail = 0; // the length of a short tail is part of it
        if (n > 0)         // an empty vector's data() may be null, which memcpy may not get
            std::memcpy(&tail, p, n);
        mix(tail ^ (uint64_t{n} << 56));
    }
    void add(const std::string& s) { add(s.data(), s.size()); }
    template <class T> void add(const std::vector<T>& v) { add(v.data(), v.size() * sizeof(T)); }
    uint64_t value() const { return h_; }

private:
    void mix(uint64_t w) { h_ = std::rotl(h_ ^ w, 31) * 0x9E3779B97F4A7C15ULL; }
    uint64_t h_ = 0xCBF29CE484222325ULL;
};

uint64_t checkpoint_checksum(const TrainCheckpoint& ck) {
    Checksum sum;
    sum.add(&ck.step, sizeof ck.step);
    sum.add(&ck.optimizer_steps, sizeof ck.optimizer_steps);
    sum.add(ck.recipe);
    sum.add(ck.dataset_manifest_sha256);
    sum.add(ck.rng_state);
    sum.add(ck.data_cursor);
    for (const auto& [name, value] : ck.metrics) {
        sum.add(name);
        sum.add(&value, sizeof value);
    }
    for (const auto* arrays : {&ck.tensors, &ck.optimizer_state})
        for (const NamedArray& a : *arrays) {
            sum.add(a.name);
            sum.add(a.shape);
            sum.add(a.values);
        }
    return sum.value();
}

std::string index_name(size_t i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%06zu", i);
    return buf;
}

// HDF5 types of the numbers we store: {file type, memory type, name}.
struct Types {
    hid_t file, mem;
    const char* name;
};
template <class T> Types types() {
    if constexpr (std::is_same_v<T, float>)
        return {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, "float32"};
    else if constexpr (std::is_same_v<T, double>)
        return {H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, "float64"};
    else if constexpr (std::is_same_v<T, std::int64_t>)
        return {H5T_STD_I64LE, H5T_NATIVE_INT64, "int64"};
    else
        return {H5T_STD_U64LE, H5T_NATIVE_UINT64, "uint64"};
}

// Fixed-length UTF-8 string type of `size` bytes (at least 1), NUL-padded.
Id string_type(const Ctx& c, size_t size) {
    Id t = c.own(H5Tcopy(H5T_C_S1), H5Tclose, "cannot create a string type");
    c.ok(H5Tset_size(t.get(), std::max<size_t>(size, 1)), "cannot size a string type");
    c.ok(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "cannot create a string type");
    c.ok(H5Tset_cset(t.get(), H5T_CSET_UTF8), "cannot create a string type");
    return t;
}

std::string strip_padding(std::string s) {
    s.erase(s.find_last_not_of('\0') + 1); // npos + 1 == 0: all padding
    return s;
}

// ---- writing ----

void check_text(const Ctx& c, const std::string& s, const std::string& what) {
    if (s.find('\0') != std::string::npos)
        c.fail(what + " contains a NUL byte; strings are stored NUL-padded");
}

void write_attr(const Ctx& c, hid_t obj, const char* name, Types t, const void* data) {
    const std::string what = std::string("attribute '") + name + "'";
    Id space = c.own(H5Screate(H5S_SCALAR), H5Sclose, "cannot create a dataspace");
    Id attr = c.own(H5Acreate2(obj, name, t.file, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                    "cannot create " + what);
    c.ok(H5Awrite(attr.get(), t.mem, data), "cannot write " + what);
}
template <class T> void write_attr(const Ctx& c, hid_t obj, const char* name, const T& value) {
    write_attr(c, obj, name, types<T>(), &value);
}
void write_attr(const Ctx& c, hid_t obj, const char* name, const std::string& value) {
    check_text(c, value, std::string("attribute '") + name + "'");
    Id type = string_type(c, value.size()); // c_str(): the NUL fills the 1 byte of an empty one
    write_attr(c, obj, name, {type.get(), type.get(), ""}, value.c_str());
}

// Dataset `path` (shown as `where`) of shape `dims` (scalar when empty), written from `data`.
// Its space is allocated when written and never pre-filled: each byte is written once.
Id write_dataset(const Ctx& c,
                 hid_t loc,
                 const std::string& path,
                 const std::string& where,
                 Types t,
                 const std::vector<hsize_t>& dims,
                 const void* data) {
    hsize_t count = 1;
    for (const hsize_t d : dims)
        count *= d;
    Id space =
        c.own(dims.empty() ? H5Screate(H5S_SCALAR)
                           : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
              H5Sclose, "cannot create a dataspace for " + where);
    Id dcpl = c.own(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "cannot create properties");
    c.ok(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "cannot set the fill time");
    Id ds = c.own(
        H5Dcreate2(loc, path.c_str(), t.file, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
        H5Dclose, "cannot create " + where);
    if (count > 0)
        c.ok(H5Dwrite(ds.get(), t.mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
             "cannot write " + where);
    return ds;
}

void write_arrays(const Ctx& c,
                  hid_t file,
                  const std::string& group,
                  const std::vector<NamedArray>& arrays) {
    Id g = c.own(H5Gcreate2(file, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                 "cannot create group " + group);
    write_attr(c, g.get(), "count", static_cast<std::int64_t>(arrays.size()));
    std::set<std::string> names;
    for (size_t i = 0; i < arrays.size(); ++i) {
        const NamedArray& a = arrays[i];
        const std::string where = group + " array '" + a.name + "'";
        if (!names.insert(a.name).second)
            c.fail("duplicate " + where);
        std::vector<hsize_t> dims;
        std::uint64_t n = 1;
        for (const std::int64_t d : a.shape) {
            if (d < 0 || (d > 0 && n > std::numeric_limits<std::uint64_t>::max() /
                                           static_cast<std::uint64_t>(d)))
                c.fail(where + ": bad shape dimension " + std::to_string(d));
            n *= static_cast<std::uint64_t>(d);
            dims.push_back(static_cast<hsize_t>(d));
        }
        if (n != a.values.size())
            c.fail(where + ": values do not fit the shape; expected " + std::to_string(n) +
                   ", got " + std::to_string(a.values.size()));
        Id ds =
            write_dataset(c, g.get(), index_name(i), where, types<float>(), dims, a.values.data());
        write_attr(c, ds.get(), "name", a.name);
    }
}

void write_contents(const Ctx& c, const std::string& tmp, const TrainCheckpoint& ck) {
    Id fapl = c.own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "cannot create file properties");
    c.ok(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "libver bounds");
    c.ok(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "fclose degree");
    Id file = c.own(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                    "cannot create temporary file '" + tmp + "'");
    const hid_t f = file.get();
    write_attr(c, f, "format", std::string(kFormat));
    write_attr(c, f, "version", kVersion);
    write_attr(c, f, "step", ck.step);
    write_attr(c, f, "optimizer_steps", ck.optimizer_steps);
    write_attr(c, f, "recipe", ck.recipe);
    write_attr(c, f, "dataset_manifest_sha256", ck.dataset_manifest_sha256);
    write_attr(c, f, "slimtune_version", ck.slimtune_version);
    write_dataset(c, f, "rng_state", "/rng_state", types<std::uint64_t>(), {ck.rng_state.size()},
                  ck.rng_state.data());
    write_dataset(c, f, "data_cursor", "/data_cursor", types<std::int64_t>(),
                  {ck.data_cursor.size()}, ck.data_cursor.data());
    // Metrics: names as one fixed-width string array, values alongside.
    size_t width = 1;
    for (const auto& [name, value] : ck.metrics) {
        check_text(c, name, "metric '" + name + "'");
        width = std::max(width, name.size());
    }
    std::string names(width * ck.metrics.size(), '\0');
    std::vector<double> values;
    for (const auto& [name, value] : ck.metrics) {
        names.replace(values.size() * width, name.size(), name);
        values.push_back(value);
    }
    c.own(H5Gcreate2(f, "metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
          "cannot create group /metrics");
    Id type = string_type(c, width);
    write_dataset(c, f, "metrics/names", "/metrics/names", {type.get(), type.get(), ""},
                  {values.size()}, names.data());
    write_dataset(c, f, "metrics/values", "/metrics/values", types<double>(), {values.size()},
                  values.data());
    write_arrays(c, f, "/tensors", ck.tensors);
    write_arrays(c, f, "/optimizer", ck.optimizer_state);
    write_attr(c, f, "checksum", checkpoint_checksum(ck));
    c.ok(file.close(), "cannot write temporary file '" + tmp + "'");
}

// fsync(2) of a file or directory; a directory that cannot be synced is not an error.
void sync_path(const Ctx& c, const std::string& p, bool directory) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
    const bool synced = fd >= 0 && ::fsync(fd) == 0;
    const int err = errno;
    if (fd >= 0)
        ::close(fd);
    if (!synced && !directory)
        c.fail("cannot sync '" + p + "': " + std::strerror(err));
}

// ---- reading ----

// The type of an open attribute or dataset, checked to equal t.file (any fixed-length string
// type when H5I_INVALID_HID), and its shape ({} when scalar).
struct Shape {
    Id type;
    std::vector<std::int64_t> dims;
    size_t n = 0;
};
Shape inspect(const Ctx& c, hid_t obj, bool attr, Types t, const std::string& what) {
    Shape s{c.own(attr ? H5Aget_type(obj) : H5Dget_type(obj), H5Tclose, "cannot read " + what)};
    if (t.file == H5I_INVALID_HID
            ? H5Tget_class(s.type.get()) != H5T_STRING || H5Tis_variable_str(s.type.get()) != 0
            : H5Tequal(s.type.get(), t.file) <= 0)
        c.fail("bad type of " + what + "; expected " + t.name);
    Id space = c.own(attr ? H5Aget_space(obj) : H5Dget_space(obj), H5Sclose, "cannot read " + what);
    const H5S_class_t cls = H5Sget_simple_extent_type(space.get());
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if ((cls != H5S_SIMPLE && cls != H5S_SCALAR) || rank < 0)
        c.fail("bad shape of " + what);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    c.ok(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "bad shape of " + what);
    s.dims.assign(dims.begin(), dims.end());
    s.n = static_cast<size_t>(H5Sget_simple_extent_npoints(space.get()));
    return s;
}

// Attribute `name` of `obj` (shown as `where`): one value of type T (std::string: fixed-length).
template <class T>
T read_attr(const Ctx& c, hid_t obj, const std::string& where, const char* name) {
    const std::string what = std::string("attribute '") + name + "' on " + where;
    if (H5Aexists(obj, name) <= 0)
        c.fail("missing " + what);
    Id attr = c.own(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose, "cannot open " + what);
    constexpr bool text = std::is_same_v<T, std::string>;
    const Shape s = inspect(
        c, attr.get(), true,
        text ? Types{H5I_INVALID_HID, H5I_INVALID_HID, "fixed-length string"} : types<T>(), what);
    if (s.n != 1)
        c.fail("bad shape of " + what + "; expected one value");
    T value{};
    if constexpr (text) {
        value.resize(H5Tget_size(s.type.get()));
        Id mem = string_type(c, value.size());
        c.ok(H5Aread(attr.get(), mem.get(), value.data()), "cannot read " + what);
        return strip_padding(std::move(value));
    } else {
        c.ok(H5Aread(attr.get(), types<T>().mem, &value), "cannot read " + what);
        return value;
    }
}

// Dataset `path` under `loc`, its type checked against `t`, with its shape.
struct Dataset {
    Id ds;
    Shape shape;
};
Dataset
open_dataset(const Ctx& c, hid_t loc, const std::string& path, const std::string& where, Types t) {
    if (H5Lexists(loc, path.c_str(), H5P_DEFAULT) <= 0)
        c.fail("missing dataset " + where);
    Id ds = c.own(H5Dopen2(loc, path.c_str(), H5P_DEFAULT), H5Dclose, "cannot open " + where);
    Shape s = inspect(c, ds.get(), false, t, where);
    if (s.n > 0 && H5Dget_storage_size(ds.get()) < s.n * H5Tget_size(s.type.get()))
        c.fail(where + " was not fully written");
    return {std::move(ds), std::move(s)};
}

void read_all(const Ctx& c, const Dataset& d, hid_t mem, void* data, const std::string& where) {
    if (d.shape.n > 0)
        c.ok(H5Dread(d.ds.get(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "cannot read " + where);
}

template <class T> std::vector<T> read_vector(const Ctx& c, hid_t loc, const std::string& path) {
    const std::string where = "/" + path;
    const Dataset d = open_dataset(c, loc, path, where, types<T>());
    if (d.shape.dims.size() != 1)
        c.fail("bad shape of " + where + "; expected one dimension");
    std::vector<T> v(d.shape.n);
    read_all(c, d, types<T>().mem, v.data(), where);
    return v;
}

std::vector<NamedArray>
read_arrays(const Ctx& c, hid_t file, const std::string& group, bool values) {
    if (H5Lexists(file, group.c_str(), H5P_DEFAULT) <= 0)
        c.fail("missing group " + group);
    Id g = c.own(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose, "cannot open " + group);
    const auto count = read_attr<std::int64_t>(c, g.get(), group, "count");
    H5G_info_t info;
    c.ok(H5Gget_info(g.get(), &info), "cannot read group " + group);
    if (count < 0 || info.nlinks != static_cast<hsize_t>(count))
        c.fail("group " + group + " holds " + std::to_string(info.nlinks) +
               " arrays; expected its count " + std::to_string(count));
    std::vector<NamedArray> arrays(static_cast<size_t>(count));
    for (size_t i = 0; i < arrays.size(); ++i) {
        NamedArray& a = arrays[i];
        const std::string name = index_name(i), where = group + "/" + name;
        const Dataset d = open_dataset(c, g.get(), name, where, types<float>());
        a.shape = d.shape.dims;
        if (values) {
            a.values.resize(d.shape.n);
            read_all(c, d, H5T_NATIVE_FLOAT, a.values.data(), where);
        }
        a.name = read_attr<std::string>(c, d.ds.get(), where, "name");
    }
    return arrays;
}

TrainCheckpoint read_checkpoint(const std::string& path, bool values) {
    QuietErrors quiet;
    const Ctx c{path, true};
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw Error(path + ": cannot open checkpoint: " +
                    (fs::exists(path, ec) ? "not a regular file" : "no such file"));
    Id fapl = c.own(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "cannot create file properties");
    c.ok(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "fclose degree");
    Id file = c.own(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose,
                    "not a readable HDF5 file (truncated or corrupt?)");
    const hid_t f = file.get();
    if (H5Aexists(f, "format") <= 0)
        c.fail("not a slimtune training checkpoint: no attribute 'format' on /");
    if (const auto format = read_attr<std::string>(c, f, "/", "format"); format != kFormat)
        c.fail(std::string("not a slimtune training checkpoint; expected format '") + kFormat +
               "', got '" + format + "'");
    if (const auto version = read_attr<std::int64_t>(c, f, "/", "version"); version != kVersion)
        c.fail("unsupported checkpoint version; expected " + std::to_string(kVersion) + ", got " +
               std::to_string(version));
    TrainCheckpoint ck;
    ck.step = read_attr<std::int64_t>(c, f, "/", "step");
    ck.optimizer_steps = read_attr<std::int64_t>(c, f, "/", "optimizer_steps");
    ck.recipe = read_attr<std::string>(c, f, "/", "recipe");
    ck.dataset_manifest_sha256 = read_attr<std::string>(c, f, "/", "dataset_manifest_sha256");
    ck.slimtune_version = read_attr<std::string>(c, f, "/", "slimtune_version");
    ck.rng_state = read_vector<std::uint64_t>(c, f, "rng_state");
    ck.data_cursor = read_vector<std::int64_t>(c, f, "data_cursor");
    if (H5Lexists(f, "metrics", H5P_DEFAULT) <= 0)
        c.fail("missing group /metrics");
    const auto metric_values = read_vector<double>(c, f, "metrics/values");
    const Dataset d = open_dataset(c, f, "metrics/names", "/metrics/names",
                                   {H5I_INVALID_HID, H5I_INVALID_HID, "fixed-length strings"});
    if (d.shape.dims.size() != 1 || d.shape.n != metric_values.size())
        c.fail("/metrics/names does not match /metrics/values");
    const size_t width = H5Tget_size(d.shape.type.get());
    Id mem = string_type(c, width);
    std::string names(width * d.shape.n, '\0');
    read_all(c, d, mem.get(), names.data(), "/metrics/names");
    for (size_t i = 0; i < metric_values.size(); ++i)
        ck.metrics[strip_padding(names.substr(i * width, width))] = metric_values[i];
    ck.tensors = read_arrays(c, f, "/tensors", values);
    ck.optimizer_state = read_arrays(c, f, "/optimizer", values);
    // Checkpoints written before the checksum existed have none, and are taken as they are.
    if (values && H5Aexists(f, "checksum") > 0) {
        const auto stored = read_attr<std::uint64_t>(c, f, "/", "checksum");
        if (stored != checkpoint_checksum(ck))
            c.fail("checksum mismatch: the file was damaged after it was written (a bit flip "
                   "on disk or in transfer)");
    }
    return ck;
}

// N of "step-<N>.h5" (digits, no leading zeros); nullopt for any other name.
std::optional<std::int64_t> step_of(const std::string& file) {
    if (!file.starts_with("step-") || !file.ends_with(".h5"))
        return std::nullopt;
    const std::string digits = file.substr(5, file.size() - 8);
    if (digits.empty() || digits.size() > 18 || (digits[0] == '0' && digits.size() > 1) ||
        !std::all_of(digits.begin(), digits.end(), [](char d) { return d >= '0' && d <= '9'; }))
        return std::nullopt;
    return std::stoll(digits);
}

// The step-<N>.h5 files of DIR/checkpoints, by ascending step.
std::vector<std::pair<std::int64_t, std::string>> list_checkpoints(const fs::path& dir) {
    std::vector<std::pair<std::int64_t, std::string>> found;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (const auto step = step_of(it->path().filename().string()); step)
            found.emplace_back(*step, it->path().string());
    std::sort(found.begin(), found.end());
    return found;
}

} // namespace

void write_train_checkpoint(const std::string& path, const TrainCheckpoint& checkpoint) {
    QuietErrors quiet;
    const Ctx c{path, false};
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    try {
        write_contents(c, tmp, checkpoint);
        sync_path(c, tmp, false);
        if (std::rename(tmp.c_str(), path.c_str()) != 0)
            c.fail("cannot rename '" + tmp + "': " + std::strerror(errno));
        const fs::path parent = fs::path(path).parent_path();
        sync_path(c, parent.empty() ? "." : parent.string(), true);
    } catch (...) {
        std::remove(tmp.c_str());
        throw;
    }
}

TrainCheckpoint read_train_checkpoint(const std::string& path) {
    return read_checkpoint(path, true);
}

std::string check_train_checkpoint(const std::string& path) {
    try {
        read_checkpoint(path, true); // with the values: the checksum covers them
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

std::string checkpoint_in_run(const std::string& run_dir, std::int64_t step) {
    return (fs::path(run_dir) / "checkpoints" / ("step-" + std::to_string(step) + ".h5")).string();
}

std::string save_checkpoint_in_run(const std::string& run_dir,
                                   const TrainCheckpoint& checkpoint,
                                   int keep,
                                   std::optional<std::int64_t> also_keep) {
    const fs::path dir = fs::path(run_dir) / "checkpoints";
    if (checkpoint.step < 0)
        throw Error(run_dir + ": cannot save a checkpoint of step " +
                    std::to_string(checkpoint.step));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(dir.string() + ": cannot create directory: " + ec.message());
    const std::string path = checkpoint_in_run(run_dir, checkpoint.step);
    write_train_checkpoint(path, checkpoint);
    if (keep > 0) {
        auto others = list_checkpoints(dir);
        std::erase_if(others, [&](const auto& f) {
            return f.second == path || (also_keep && f.first == *also_keep);
        });
        const size_t drop = others.size() - std::min(others.size(), static_cast<size_t>(keep - 1));
        for (size_t i = 0; i < drop; ++i)
            fs::remove(others[i].second, ec); // a file we cannot delete only costs disk space
    }
    return path;
}

std::optional<std::string> latest_checkpoint(const std::string& run_dir,
                                             std::vector<std::string>* skipped) {
    auto found = list_checkpoints(fs::path(run_dir) / "checkpoints");
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
        std::string reason = check_train_checkpoint(it->second);
        if (reason.empty())
            return it->second;
        if (skipped)
            skipped->push_back(std::move(reason));
    }
    return std::nullopt;
}

} // namespace slimtune::train
