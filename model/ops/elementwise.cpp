// Shape glue, broadcasting add/mul, scale, pointwise activations and dropout.
#include "model/kernels/activation.h"
#include "model/ops/op_util.h"
#include "model/ops/ops.h"

#include <algorithm>

namespace slimtune {

using namespace ops_detail;

Tensor reshape(const Tensor& x, const Shape& shape) {
    require_defined(x, "reshape", "x");
    Tensor y = Tensor::view_of(x, shape);
    if (should_record({&x}))
        record("reshape", y, [x, y] {
            float* dx = x.grad();
            const float* dy = y.grad();
            const int64_t n = x.numel();
            for (int64_t i = 0; i < n; ++i)
                dx[i] += dy[i];
        });
    return y;
}

Tensor narrow_last(const Tensor& x, int64_t start, int64_t len) {
    require_defined(x, "narrow_last", "x");
    require(x.ndim() >= 1 && start >= 0 && len >= 0 && start + len <= x.cols(),
            "narrow_last: range [" + std::to_string(start) + ", " + std::to_string(start + len) +
                ") does not fit the last dim of " + desc("x", x));
    const int64_t rows = x.rows(), cols = x.cols();
    Tensor y = Tensor::zeros(with_last(x.shape(), len));
    for (int64_t r = 0; r < rows; ++r)
        std::copy_n(x.data() + r * cols + start, len, y.data() + r * len);
    if (should_record({&x}))
        record("narrow_last", y, [x, y, start, len, rows, cols] {
            float* dx = x.grad();
            const float* dy = y.grad();
            for (int64_t r = 0; r < rows; ++r)
                for (int64_t j = 0; j < len; ++j)
                    dx[r * cols + start + j] += dy[r * len + j];
        });
    return y;
}

Tensor sum(const Tensor& x) {
    require_defined(x, "sum", "x");
    double s = 0;
    for (float v : x.values())
        s += static_cast<double>(v);
    Tensor y = Tensor::full({}, static_cast<float>(s));
    if (should_record({&x}))
        record("sum", y, [x, y] {
            float* dx = x.grad();
            const float g = y.grad()[0];
            const int64_t n = x.numel();
            for (int64_t i = 0; i < n; ++i)
                dx[i] += g;
        });
    return y;
}

namespace {

// Broadcast geometry of a binary op: output shape and, per output dim, the element strides of
// a and b (0 where that operand repeats).
struct Broadcast {
    Shape out;
    std::vector<int64_t> stride_a, stride_b;
    bool same = false;
};

Broadcast broadcast(const char* op, const Tensor& a, const Tensor& b) {
    Broadcast bc;
    if (a.shape() == b.shape()) {
        bc.out = a.shape();
        bc.same = true;
        return bc;
    }
    const size_t n = std::max(a.shape().size(), b.shape().size());
    bc.out.assign(n, 1);
    bc.stride_a.assign(n, 0);
    bc.stride_b.assign(n, 0);
    int64_t sa = 1, sb = 1;
    for (size_t k = 0; k < n; ++k) { // from the last dim backwards
        const size_t i = n - 1 - k;
        const int64_t da = k < a.shape().size() ? a.shape()[a.shape().size() - 1 - k] : 1;
        const int64_t db = k < b.shape().size() ? b.shape()[b.shape().size() - 1 - k] : 1;
        require(da == db || da == 1 || db == 1,
                std::string(op) + ": cannot broadcast " + desc("a", a) + " with " + desc("b", b));
        bc.out[i] = std::max(da, db);
        bc.stride_a[i] = da == 1 ? 0 : sa;
        bc.stride_b[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    return bc;
}

// Calls f(o, ia, ib) for every output element o in order, with the matching offsets in a, b.
template <class F> void for_each_broadcast(const Broadcast& bc, F f) {
    const int64_t n = shape_numel(bc.out);
    if (bc.same) {
        for (int64_t o = 0; o < n; ++o)
            f(o, o, o);
        return;
    }
    const size_t nd = bc.out.size();
    std::vector<int64_t> idx(nd, 0);
    int64_t ia = 0, ib = 0;
    for (int64_t o = 0; o < n; ++o) {
        f(o, ia, ib);
        for (size_t k = nd; k-- > 0;) { // odometer increment
            ia += bc.stride_a[k];
            ib += bc.stride_b[k];
            if (++idx[k] < bc.out[k])
                break;
            ia -= bc.stride_a[k] * bc.out[k];
            ib -= bc.stride_b[k] * bc.out[k];
            idx[k] = 0;
        }
    }
}

} // namespace

namespace {

// y = f(a, b) element-wise with broadcasting. Backward: da += dy * df/da (a, b), likewise b;
// the loop is serial in output order, so broadcast sums have a fixed order.
template <class F, class DfDa, class DfDb>
Tensor
broadcast_binary(const char* op, const Tensor& a, const Tensor& b, F f, DfDa df_da, DfDb df_db) {
    require_defined(a, op, "a");
    require_defined(b, op, "b");
    Broadcast bc = broadcast(op, a, b);
    Tensor y = Tensor::zeros(bc.out);
    const float *pa = a.data(), *pb = b.data();
    float* py = y.data();
    for_each_broadcast(bc, [&](int64_t o, int64_t ia, int64_t ib) { py[o] = f(pa[ia], pb[ib]); });
    if (should_record({&a, &b}))
        record(op, y, [a, b, y, bc, df_da, df_db] {
            float *da = grad_or_null(a), *db = grad_or_null(b);
            const float *va = a.data(), *vb = b.data(), *dy = y.grad();
            for_each_broadcast(bc, [&](int64_t o, int64_t ia, int64_t ib) {
                if (da)
                    da[ia] += dy[o] * df_da(va[ia], vb[ib]);
                if (db)
                    db[ib] += dy[o] * df_db(va[ia], vb[ib]);
            });
        });
    return y;
}

} // namespace

Tensor add(const Tensor& a, const Tensor& b) {
    return broadcast_binary(
        "add", a, b, [](float x, float y) { return x + y; }, [](float, float) { return 1.0f; },
        [](float, float) { return 1.0f; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
    return broadcast_binary(
        "mul", a, b, [](float x, float y) { return x * y; }, [](float, float y) { return y; },
        [](float x, float) { return x; });
}

Tensor scale(const Tensor& x, float alpha) {
    require_defined(x, "scale", "x");
    Tensor y = Tensor::zeros(x.shape());
    // Hoisted: numel() and data() are out-of-line and checked, too slow per element.
    const int64_t n = x.numel();
    const float* xs = x.data();
    float* ys = y.data();
    for (int64_t i = 0; i < n; ++i)
        ys[i] = alpha * xs[i];
    if (should_record({&x}))
        record("scale", y, [x, y, alpha, n] {
            float* dx = x.grad();
            const float* dy = y.grad();
            for (int64_t i = 0; i < n; ++i)
                dx[i] += alpha * dy[i];
        });
    return y;
}

Tensor gelu_tanh(const Tensor& x) {
    require_defined(x, "gelu_tanh", "x");
    Tensor y = Tensor::zeros(x.shape());
    kernels::gelu_tanh_fwd(x.data(), y.data(), x.numel());
    if (should_record({&x}))
        record("gelu_tanh", y,
               [x, y] { kernels::gelu_tanh_bwd(x.data(), y.grad(), x.grad(), x.numel()); });
    return y;
}

Tensor silu(const Tensor& x) {
    require_defined(x, "silu", "x");
    Tensor y = Tensor::zeros(x.shape());
    kernels::silu_fwd(x.data(), y.data(), x.numel());
    if (should_record({&x}))
        record("silu", y, [x, y] { kernels::silu_bwd(x.data(), y.grad(), x.grad(), x.numel()); });
    return y;
}

namespace {
// A gated activation y = act(gate) * up: swiglu and geglu, which differ only in their kernels.
template <auto Fwd, auto Bwd> Tensor gated(const char* op, const Tensor& gate, const Tensor& up) {
    require_defined(gate, op, "gate");
    require_defined(up, op, "up");
    require(gate.shape() == up.shape(),
            std::string(op) + ": " + desc("gate", gate) + " and " + desc("up", up) + " differ");
    Tensor y = Tensor::zeros(gate.shape());
    Fwd(gate.data(), up.data(), y.data(), y.numel());
    if (should_record({&gate, &up}))
        record(op, y, [gate, up, y] {
            Bwd(gate.data(), up.data(), y.grad(), grad_or_null(gate), grad_or_null(up), y.numel());
        });
    return y;
}
} // namespace

Tensor swiglu(const Tensor& gate, const Tensor& up) {
    return gated<kernels::swiglu_fwd<float>, kernels::swiglu_bwd<float>>("swiglu", gate, up);
}

Tensor geglu(const Tensor& gate, const Tensor& up) {
    return gated<kernels::geglu_fwd<float>, kernels::geglu_bwd<float>>("geglu", gate, up);
}

Tensor softcap(const Tensor& x, float cap) {
    require_defined(x, "softcap", "x");
    require(cap > 0.0f, "softcap: cap must be positive, got " + std::to_string(cap));
    Tensor y = Tensor::zeros(x.shape());
    kernels::softcap_fwd(x.data(), y.data(), x.numel(), cap);
    if (should_record({&x}))
        record("softcap", y,
               [x, y, cap] { kernels::softcap_bwd(y.data(), y.grad(), x.grad(), x.numel(), cap); });
    return y;
}

Tensor dropout(const Tensor& x, float p, Rng& rng, bool training) {
    require_defined(x, "dropout", "x");
    require(p >= 0.0f && p < 1.0f, "dropout: p must be in [0, 1), got " + std::to_string(p));
    if (!training || p == 0.0f)
        return x;
    const uint64_t seed = rng.seed, offset = rng.take(static_cast<uint64_t>(x.numel()));
    Tensor y = Tensor::zeros(x.shape());
    kernels::dropout_fwd(x.data(), y.data(), x.numel(), p, seed, offset);
    if (should_record({&x}))
        record("dropout", y, [x, y, p, seed, offset] {
            kernels::dropout_bwd(y.grad(), x.grad(), x.numel(), p, seed, offset);
        });
    return y;
}

} // namespace slimtune
