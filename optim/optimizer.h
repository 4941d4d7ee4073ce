// Optimizers over a list of named parameters: AdamW and SGD with torch.optim's semantics (the
// single-tensor path of PyTorch 1.13, float32, same operation order, so results match it bit for
// bit). A parameter is a Tensor handle: step() updates its float storage in place from grad().
#pragma once

#include "model/tensor.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace slimtune::optim {

struct ParamRef {
    std::string name; // unique; names the optimizer state buffers
    Tensor tensor;    // float32 values; its gradient is read by step()
    bool weight_decay;
};

struct OptimizerConfig {
    std::string name = "adamw"; // adamw | sgd
    double lr = 2e-4;           // base lr (the schedule scales it; step() takes the result)
    // adamw
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    // adamw: decoupled (param *= 1 - lr * wd); sgd: added to the gradient (grad += wd * param)
    double weight_decay = 0.0;
    // sgd
    double momentum = 0.0, dampening = 0.0;
    bool nesterov = false;
};

// One state buffer for checkpoints: "<kind>/<param name>", e.g. "exp_avg/model.norm.weight".
struct NamedBuffer {
    std::string name;
    std::vector<float> values;
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    // One update with this step's lr (from the schedule; 0 is allowed, e.g. the first warmup
    // step). Parameters without a gradient buffer are skipped, as PyTorch skips p.grad None:
    // their state and their own step count stay as they are.
    void step(double lr);
    // Releases every gradient buffer (PyTorch's zero_grad(set_to_none=True)), so a parameter
    // that the next backward does not reach is skipped by the next step.
    void zero_grad();

    std::int64_t steps() const { return steps_; } // step() calls so far
    const std::vector<ParamRef>& params() const { return params_; }

    // The state, in parameter order: for each parameter "step/<name>" (one value: how many
    // steps updated it, a float like torch's state['step']) then its buffers.
    std::vector<NamedBuffer> state() const;
    // Restores what state() returned. Every buffer must be present once with the right size;
    // otherwise FormatError naming the buffer (nothing is changed then).
    void load_state(const std::vector<NamedBuffer>& buffers, std::int64_t steps);

protected:
    // `kinds`: the names of the per-parameter buffers (each as many floats as the parameter).
    Optimizer(std::vector<ParamRef> params, std::vector<std::string> kinds);
    // Updates parameter i; its step count (t, 1-based) has already been incremented.
    virtual void update(std::size_t i, double lr, std::int64_t t) = 0;
    std::vector<float>& buffer(std::size_t i, std::size_t kind) { return buffers_[i][kind]; }

    std::vector<ParamRef> params_;

private:
    std::vector<std::string> kinds_;
    std::vector<std::vector<std::vector<float>>> buffers_; // [param][kind]
    std::vector<std::int64_t> param_steps_;
    std::int64_t steps_ = 0;
};

// torch.optim.AdamW: decoupled weight decay (only on parameters with weight_decay), bias
// correction in double, the rest in float32. Buffers: exp_avg, exp_avg_sq.
class AdamW final : public Optimizer {
public:
    AdamW(const OptimizerConfig& config, std::vector<ParamRef> params);

private:
    void update(std::size_t i, double lr, std::int64_t t) override;
    OptimizerConfig config_;
};

// torch.optim.SGD: weight decay coupled into the gradient, momentum buffer initialised to the
// first gradient, dampening, nesterov. Buffer: momentum_buffer (only when momentum != 0).
class Sgd final : public Optimizer {
public:
    Sgd(const OptimizerConfig& config, std::vector<ParamRef> params);

private:
    void update(std::size_t i, double lr, std::int64_t t) override;
    OptimizerConfig config_;
};

// ConfigError naming the setting (as its recipe key): unknown name, lr <= 0, negative weight
// decay; adamw: betas outside [0, 1), eps <= 0, any SGD setting given; sgd: negative momentum,
// dampening outside [0, 1], nesterov without momentum or with dampening. The one place these
// rules live: the optimizers' constructors and the recipe both call it.
void check_optimizer(const OptimizerConfig& config);

// Checks `config` (check_optimizer) and the parameters (none, a repeated name, an undefined or
// 16-bit tensor).
std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          std::vector<ParamRef> params);

} // namespace slimtune::optim
