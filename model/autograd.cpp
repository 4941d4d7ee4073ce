#include "model/autograd.h"

#include "common/error.h"

#include <string>
#include <vector>

namespace slimtune {

namespace {

struct TapeEntry {
    const char* op;
    Tensor output;
    std::function<void()> backward;
};

struct Tape {
    std::vector<TapeEntry> entries;
    uint64_t generation = 1; // a fresh one at every clear, so stale node indices are detected
    uint64_t generations_issued = 1; // tapes nest (checkpointing): each gets its own generation
    bool grad_on = true;
};

Tape& tape() {
    thread_local Tape t;
    return t;
}

// Entries are released newest first so saved tensors die in reverse creation order.
void drop_entries(std::vector<TapeEntry>& entries) {
    while (!entries.empty())
        entries.pop_back();
}

// For its lifetime the thread records on a fresh, empty tape with grad on; the enclosing tape
// is set aside untouched and restored afterwards. This lets a backward closure record and
// backpropagate a sub-graph while the outer backward is walking its own entries (swapping
// vectors keeps the outer entries' addresses, so the closure being run stays valid).
class NestedTape {
public:
    NestedTape() : outer_generation_(tape().generation), outer_grad_on_(tape().grad_on) {
        Tape& tp = tape();
        outer_.swap(tp.entries);
        tp.generation = ++tp.generations_issued;
        tp.grad_on = true;
    }
    ~NestedTape() {
        Tape& tp = tape();
        drop_entries(tp.entries);
        tp.entries.swap(outer_);
        tp.generation = outer_generation_;
        tp.grad_on = outer_grad_on_;
    }
    NestedTape(const NestedTape&) = delete;
    NestedTape& operator=(const NestedTape&) = delete;

private:
    std::vector<TapeEntry> outer_;
    uint64_t outer_generation_;
    bool outer_grad_on_;
};

} // namespace

bool grad_enabled() {
    return tape().grad_on;
}

NoGradGuard::NoGradGuard() : previous_(tape().grad_on) {
    tape().grad_on = false;
}
NoGradGuard::~NoGradGuard() {
    tape().grad_on = previous_;
}

bool should_record(std::initializer_list<const Tensor*> inputs) {
    if (!tape().grad_on)
        return false;
    for (const Tensor* t : inputs)
        if (t && t->defined() && t->requires_grad())
            return true;
    return false;
}

void record(const char* op, Tensor& output, std::function<void()> backward) {
    Tape& tp = tape();
    TensorImpl* impl = output.impl();
    impl->requires_grad = true;
    impl->node = static_cast<int64_t>(tp.entries.size());
    impl->generation = tp.generation;
    tp.entries.push_back({op, output, std::move(backward)});
}

void clear_tape() {
    Tape& tp = tape();
    drop_entries(tp.entries);
    tp.generation = ++tp.generations_issued;
}

size_t tape_size() {
    return tape().entries.size();
}

void backward(const Tensor& output, std::span<const float> grad_output) {
    if (!output.defined())
        throw ShapeError("backward: undefined tensor");
    if (static_cast<int64_t>(grad_output.size()) != output.numel())
        throw ShapeError("backward: upstream gradient has " + std::to_string(grad_output.size()) +
                         " values, expected " + std::to_string(output.numel()) + " for shape " +
                         shape_str(output.shape()));
    if (!output.requires_grad())
        throw ShapeError("backward: tensor of shape " + shape_str(output.shape()) +
                         " does not require grad (no input of its graph is trainable)");
    Tape& tp = tape();
    const TensorImpl* impl = output.impl();
    if (impl->node >= 0 && (impl->generation != tp.generation ||
                            impl->node >= static_cast<int64_t>(tp.entries.size())))
        throw ShapeError("backward: the graph of this tensor was already backpropagated or "
                         "cleared; run the forward pass again");

    float* g = output.grad();
    for (size_t i = 0; i < grad_output.size(); ++i)
        g[i] += grad_output[i];
    // Replay from the output's own entry down; later entries cannot contribute to it. Each
    // entry is dropped once replayed, so what only it kept alive (saved activations, its
    // output and that output's gradient) is freed at once: peak memory is the forward's
    // activations plus a few gradients, not the activations plus every activation gradient.
    while (static_cast<int64_t>(tp.entries.size()) > impl->node + 1)
        tp.entries.pop_back();
    while (!tp.entries.empty()) {
        TapeEntry& e = tp.entries.back();
        if (e.output.has_grad())
            e.backward();
        tp.entries.pop_back();
    }
    clear_tape();
}

void backward(const Tensor& loss) {
    if (!loss.defined() || loss.numel() != 1)
        throw ShapeError("backward: expected a one-element loss, got shape " +
                         (loss.defined() ? shape_str(loss.shape()) : std::string("undefined")) +
                         " (pass an upstream gradient for other tensors)");
    const float one = 1.0f;
    backward(loss, std::span<const float>(&one, 1));
}

std::function<void()>
checkpoint_backward(const Tensor& x, const Tensor& y, std::function<Tensor(const Tensor&)> replay) {
    return [x, y, run_again = std::move(replay)] {
        NestedTape nested;
        Tensor x_copy = x.detach(); // shares x's values: the input is not kept twice
        if (x.requires_grad())
            x_copy.set_requires_grad(true);
        const Tensor y_again = run_again(x_copy);
        if (y_again.numel() != y.numel())
            throw ShapeError("checkpoint: the replay gave shape " + shape_str(y_again.shape()) +
                             ", the forward " + shape_str(y.shape()));
        backward(y_again, y.grad_values());
        if (!x.requires_grad() || !x_copy.has_grad())
            return;
        if (!x.has_grad()) { // x's only use was f (a block's input): take the buffer as it is
            x.impl()->grad.swap(x_copy.impl()->grad);
            return;
        }
        float* dx = x.grad();
        const std::span<const float> dx_copy = x_copy.grad_values();
        for (size_t i = 0; i < dx_copy.size(); ++i)
            dx[i] += dx_copy[i];
    };
}

} // namespace slimtune
