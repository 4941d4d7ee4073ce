#include "model/tensor.h"

#include "common/error.h"

#include <algorithm>
#include <atomic>
#include <limits>

namespace slimtune {

namespace {

std::atomic<int64_t> g_live_bytes{0}, g_peak_bytes{0};

void count_alloc(size_t bytes) {
    const auto n = static_cast<int64_t>(bytes);
    const int64_t now = g_live_bytes.fetch_add(n, std::memory_order_relaxed) + n;
    int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
    while (now > peak &&
           !g_peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
    }
}
void count_free(size_t bytes) {
    g_live_bytes.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
}

// Tensor values whose bytes tensor_bytes() counts for as long as some view holds them.
template <class T> std::shared_ptr<std::vector<T>> counted(std::vector<T> values) {
    const size_t bytes = values.size() * sizeof(T);
    count_alloc(bytes);
    return std::shared_ptr<std::vector<T>>(new std::vector<T>(std::move(values)),
                                           [bytes](std::vector<T>* v) {
                                               count_free(bytes);
                                               delete v;
                                           });
}

} // namespace

TensorBytes tensor_bytes() {
    return {g_live_bytes.load(std::memory_order_relaxed),
            g_peak_bytes.load(std::memory_order_relaxed)};
}

void reset_tensor_bytes_peak() {
    g_peak_bytes.store(g_live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

TensorImpl::~TensorImpl() {
    count_free(grad.size() * sizeof(float));
}

std::string shape_str(const Shape& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i)
        r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) {
        if (d < 0)
            throw ShapeError("tensor: negative dimension in shape " + shape_str(s));
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
            throw ShapeError("tensor: element count of shape " + shape_str(s) + " overflows");
        n *= d;
    }
    return n;
}

Tensor Tensor::zeros(const Shape& shape, bool requires_grad) {
    return full(shape, 0.0f, requires_grad);
}

Tensor Tensor::full(const Shape& shape, float value, bool requires_grad) {
    return from(shape, std::vector<float>(static_cast<size_t>(shape_numel(shape)), value),
                requires_grad);
}

Tensor Tensor::from(const Shape& shape, std::vector<float> values, bool requires_grad) {
    int64_t n = shape_numel(shape);
    if (static_cast<int64_t>(values.size()) != n)
        throw ShapeError("tensor: shape " + shape_str(shape) + " needs " + std::to_string(n) +
                         " values, got " + std::to_string(values.size()));
    Tensor t;
    t.impl_ = std::make_shared<TensorImpl>();
    t.impl_->shape = shape;
    t.impl_->storage = counted(std::move(values));
    t.impl_->requires_grad = requires_grad;
    return t;
}

Tensor Tensor::from_half(const Shape& shape, std::vector<uint16_t> bits, Storage kind) {
    const int64_t n = shape_numel(shape);
    if (static_cast<int64_t>(bits.size()) != n || kind == Storage::F32)
        throw ShapeError("tensor: shape " + shape_str(shape) + " needs " + std::to_string(n) +
                         " 16-bit values, got " + std::to_string(bits.size()));
    Tensor t;
    t.impl_ = std::make_shared<TensorImpl>();
    t.impl_->shape = shape;
    t.impl_->storage = std::make_shared<std::vector<float>>();
    t.impl_->kind = kind;
    t.impl_->half = counted(std::move(bits));
    return t;
}

Tensor Tensor::placeholder(const Shape& shape) {
    shape_numel(shape); // validates
    Tensor t;
    t.impl_ = std::make_shared<TensorImpl>();
    t.impl_->shape = shape;
    return t;
}

Tensor Tensor::view_of(const Tensor& base, const Shape& shape) {
    if (base.storage() != Storage::F32)
        throw ShapeError("reshape: a 16-bit frozen weight cannot be viewed");
    if (shape_numel(shape) != base.numel())
        throw ShapeError("reshape: cannot view " + shape_str(base.shape()) + " as " +
                         shape_str(shape));
    Tensor t;
    t.impl_ = std::make_shared<TensorImpl>();
    t.impl_->shape = shape;
    t.impl_->storage = base.impl_->storage;
    return t;
}

static TensorImpl& checked(const std::shared_ptr<TensorImpl>& p) {
    SLIMTUNE_ASSERT(p != nullptr, "use of an undefined Tensor");
    return *p;
}

const Shape& Tensor::shape() const {
    return checked(impl_).shape;
}

int64_t Tensor::dim(int64_t i) const {
    int64_t n = ndim();
    int64_t j = i < 0 ? i + n : i;
    if (j < 0 || j >= n)
        throw ShapeError("tensor: dimension " + std::to_string(i) + " out of range for shape " +
                         shape_str(shape()));
    return shape()[static_cast<size_t>(j)];
}

int64_t Tensor::numel() const {
    return shape_numel(checked(impl_).shape);
}

Storage Tensor::storage() const {
    return checked(impl_).kind;
}

const uint16_t* Tensor::half_data() const {
    SLIMTUNE_ASSERT(storage() != Storage::F32, "half_data() on a float32 tensor");
    return checked(impl_).half->data();
}

static void require_f32(const TensorImpl& t) {
    if (t.kind == Storage::F32 && !t.storage)
        throw ShapeError("tensor " + shape_str(t.shape) + ": a placeholder has no values");
    if (t.kind != Storage::F32)
        throw ShapeError("tensor " + shape_str(t.shape) +
                         ": a 16-bit frozen weight can only be read by linear()");
}
int64_t Tensor::cols() const {
    return ndim() == 0 ? 1 : shape().back();
}
int64_t Tensor::rows() const {
    return cols() == 0 ? 0 : numel() / cols();
}
float* Tensor::data() {
    require_f32(checked(impl_));
    return impl_->storage->data();
}
const float* Tensor::data() const {
    require_f32(checked(impl_));
    return impl_->storage->data();
}

float Tensor::item() const {
    if (numel() != 1)
        throw ShapeError("item: tensor of shape " + shape_str(shape()) + " has " +
                         std::to_string(numel()) + " elements, expected 1");
    return data()[0];
}

bool Tensor::requires_grad() const {
    return checked(impl_).requires_grad;
}

Tensor& Tensor::set_requires_grad(bool on) {
    if (!is_leaf())
        throw ShapeError("set_requires_grad: only leaf tensors can be marked trainable");
    if (on && storage() != Storage::F32)
        throw ShapeError("set_requires_grad: a 16-bit frozen weight cannot be trained");
    checked(impl_).requires_grad = on;
    return *this;
}

bool Tensor::is_leaf() const {
    return checked(impl_).node < 0;
}
bool Tensor::has_grad() const {
    return !checked(impl_).grad.empty();
}

float* Tensor::grad() const {
    TensorImpl& t = checked(impl_);
    if (t.grad.empty()) {
        t.grad.assign(static_cast<size_t>(shape_numel(t.shape)), 0.0f);
        count_alloc(t.grad.size() * sizeof(float));
    }
    return t.grad.data();
}

std::span<const float> Tensor::grad_values() const {
    return checked(impl_).grad;
}

void Tensor::zero_grad() {
    count_free(checked(impl_).grad.size() * sizeof(float));
    std::vector<float>().swap(impl_->grad);
}

Tensor Tensor::detach() const {
    return view_of(*this, shape());
}

Tensor Tensor::clone() const {
    require_f32(checked(impl_));
    return from(shape(), *impl_->storage);
}

} // namespace slimtune
