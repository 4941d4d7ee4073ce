// Reverse-mode autograd on a tape (define-by-run). Each differentiable op computes its output
// and, when grad mode is on and some input requires grad, appends one entry: the output plus a
// closure that reads what the op saved and accumulates (+=) into its inputs' gradients.
// backward() seeds the output's gradient and replays the tape in reverse, then clears it.
// The tape is per thread.
#pragma once

#include "model/tensor.h"

#include <functional>
#include <initializer_list>

namespace slimtune {

bool grad_enabled();

// Turns recording off for its lifetime (evaluation, generation).
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

// True when grad mode is on and at least one defined input requires grad: the op must record.
bool should_record(std::initializer_list<const Tensor*> inputs);

// Appends a tape entry for `output` (which then requires grad and links to the entry).
// `backward` runs only if `output` has received a gradient by the time it is replayed.
void record(const char* op, Tensor& output, std::function<void()> backward);

// Backpropagates from a one-element tensor (gradient 1), or from any tensor with an explicit
// upstream gradient of the same element count. Leaf gradients accumulate across calls; the
// tape is cleared afterwards, so the graph can be walked once.
void backward(const Tensor& loss);
void backward(const Tensor& output, std::span<const float> grad_output);

// Activation checkpointing, the reentrant form of torch.utils.checkpoint. A checkpointed op
// computes y = f(x) (f may read parameters) with recording off, so none of f's intermediates
// outlive the forward pass, and records the closure this returns on y. During backward it calls
// `replay` on a leaf copy of x with recording on, on a tape of its own, backpropagates y's
// gradient through that sub-graph into the parameters f reads, and adds the copy's gradient to
// x's. `replay` must recompute f's values exactly (restart any random stream where the forward
// started it), or the gradients belong to another function.
std::function<void()>
checkpoint_backward(const Tensor& x, const Tensor& y, std::function<Tensor(const Tensor&)> replay);

// Drops every recorded entry (what is left of a forward pass that will not be backpropagated).
void clear_tape();
size_t tape_size();

// The gradient buffer of `t` if it requires grad, else nullptr: backward closures pass this to
// kernels, which skip a null destination.
inline float* grad_or_null(const Tensor& t) {
    return t.defined() && t.requires_grad() ? t.grad() : nullptr;
}

} // namespace slimtune
