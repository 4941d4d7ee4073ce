// Tensor: a shape, contiguous row-major float storage, an optional gradient and a link to the
// tape entry that produced it. A Tensor is a cheap handle (shared ownership), like torch.Tensor:
// copying it aliases the same values. Shape order is PyTorch's (outermost first, last dim
// contiguous). Linear weights keep Hugging Face's (out_features, in_features) layout.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slimtune {

using Shape = std::vector<int64_t>;

std::string shape_str(const Shape& s); // "[2, 3, 4]"
int64_t shape_numel(const Shape& s);   // throws ShapeError on a negative or overflowing size

// How a tensor's values are stored. Everything computes in float32; a frozen linear weight may
// stay in the 16-bit format its checkpoint stored (half the memory), read only by linear().
enum class Storage { F32, BF16, F16 };

struct TensorImpl {
    Shape shape;
    std::shared_ptr<std::vector<float>> storage; // shared by reshaped views; null: placeholder
    Storage kind = Storage::F32;
    std::shared_ptr<std::vector<uint16_t>> half; // the bits of a BF16/F16 tensor
    std::vector<float> grad;                     // empty until something accumulates into it
    bool requires_grad = false;
    int64_t node = -1;       // index of the producing tape entry; -1 for a leaf
    uint64_t generation = 0; // tape generation the node index belongs to

    TensorImpl() = default;
    TensorImpl(const TensorImpl&) = delete;
    TensorImpl& operator=(const TensorImpl&) = delete;
    ~TensorImpl(); // gives the gradient buffer's bytes back to tensor_bytes()
};

// Bytes held by tensor values (float32 and 16-bit storage) and gradient buffers, all threads
// together: now, and the most at any moment since the last reset. What tests measure activation
// checkpointing with; nothing else depends on it.
struct TensorBytes {
    int64_t live = 0, peak = 0;
};
TensorBytes tensor_bytes();
void reset_tensor_bytes_peak(); // peak := live

class Tensor {
public:
    Tensor() = default; // an undefined tensor (used for "no bias" and similar)

    static Tensor zeros(const Shape& shape, bool requires_grad = false);
    static Tensor full(const Shape& shape, float value, bool requires_grad = false);
    // Takes ownership of `values`; their count must equal the shape's element count.
    static Tensor from(const Shape& shape, std::vector<float> values, bool requires_grad = false);
    // A frozen tensor kept as 16-bit bits (BF16 or F16): it never requires grad, and only ops
    // that say so (linear's weight) accept it; data() on it throws ShapeError.
    static Tensor from_half(const Shape& shape, std::vector<uint16_t> bits, Storage kind);
    // A shape without values (model skeletons before loading): data() on it throws.
    static Tensor placeholder(const Shape& shape);

    bool defined() const { return impl_ != nullptr; }
    // A placeholder (shape only, see placeholder()); false for an undefined tensor.
    bool is_placeholder() const { return impl_ && !impl_->storage && !impl_->half; }
    const Shape& shape() const;
    int64_t ndim() const { return static_cast<int64_t>(shape().size()); }
    int64_t dim(int64_t i) const; // negative i counts from the end
    int64_t numel() const;
    int64_t cols() const; // size of the last dimension (1 for a scalar)
    int64_t rows() const; // numel / cols: the tensor seen as a [rows, cols] matrix

    Storage storage() const;
    const uint16_t* half_data() const; // the bits of a BF16/F16 tensor
    float* data();
    const float* data() const;
    std::span<float> values() { return {data(), static_cast<size_t>(numel())}; }
    std::span<const float> values() const { return {data(), static_cast<size_t>(numel())}; }
    float item() const; // the single value of a one-element tensor

    bool requires_grad() const;
    // Marks a leaf as trainable (its gradient accumulates across backward calls).
    Tensor& set_requires_grad(bool on = true);
    bool is_leaf() const;
    bool has_grad() const;
    // The gradient buffer, allocated (zero) on first use. Logically part of autograd state, so it
    // is reachable through a const handle, as torch's .grad is.
    float* grad() const;
    std::span<const float> grad_values() const; // empty span if no gradient yet
    void zero_grad();                           // releases the gradient buffer

    // A tensor sharing these values with no gradient and no tape link.
    Tensor detach() const;
    // A deep copy of the values (no gradient, no tape link).
    Tensor clone() const;

    TensorImpl* impl() const { return impl_.get(); }
    bool same(const Tensor& o) const { return impl_ == o.impl_; }

    // Used by reshape: a new handle with another shape over the same storage.
    static Tensor view_of(const Tensor& base, const Shape& shape);

private:
    std::shared_ptr<TensorImpl> impl_;
};

} // namespace slimtune
