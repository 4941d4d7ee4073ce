// The arithmetic follows torch 1.13's CPU kernels, which this target reproduces exactly
// because it is compiled with -ffp-contract=off: every fused multiply-add here is an explicit
// std::fma where torch's AVX2 kernel has one (add_ with alpha and addcmul_ fuse; mul_, div,
// sqrt and addcdiv_ do not), every scalar is rounded to float as torch's Scalar::to<float>
// does, and the bias corrections are Python floats (double). Elementwise loops run in
// parallel on large tensors: each element is computed the same way on any thread count.
#include "optim/optimizer.h"

#include "common/error.h"

#include <cmath>
#include <map>
#include <sstream>
#include <utility>

namespace slimtune::optim {
namespace {

constexpr std::int64_t kParallelMin = 1 << 15; // below this, threads cost more than they save

template <class F> void for_each_element(std::int64_t n, const F& f) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (std::int64_t j = 0; j < n; ++j)
        f(j);
}

std::string num(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

void require(bool ok, const std::string& what) {
    if (!ok)
        throw ConfigError(what);
}

} // namespace

Optimizer::Optimizer(std::vector<ParamRef> params, std::vector<std::string> kinds)
    : params_(std::move(params)), kinds_(std::move(kinds)) {
    require(!params_.empty(), "optimizer: the parameter list is empty (nothing to train)");
    std::map<std::string, int> seen;
    for (const ParamRef& p : params_) {
        require(p.tensor.defined(), "optimizer: parameter '" + p.name + "' is undefined");
        require(p.tensor.storage() == Storage::F32,
                "optimizer: parameter '" + p.name + "' is held in 16 bits; train float32 only");
        require(seen[p.name]++ == 0, "optimizer: parameter name '" + p.name + "' repeats");
        std::vector<std::vector<float>> bufs;
        for (std::size_t k = 0; k < kinds_.size(); ++k)
            bufs.emplace_back(static_cast<std::size_t>(p.tensor.numel()), 0.0f);
        buffers_.push_back(std::move(bufs));
    }
    param_steps_.assign(params_.size(), 0);
}

void Optimizer::step(double lr) {
    if (!(lr >= 0) || !std::isfinite(lr))
        throw ConfigError("optimizer step: lr must be finite and >= 0, got " + num(lr));
    ++steps_;
    for (std::size_t i = 0; i < params_.size(); ++i) {
        if (!params_[i].tensor.has_grad())
            continue; // p.grad is None: no update, no state change
        update(i, lr, ++param_steps_[i]);
    }
}

void Optimizer::zero_grad() {
    for (ParamRef& p : params_)
        p.tensor.zero_grad();
}

std::vector<NamedBuffer> Optimizer::state() const {
    std::vector<NamedBuffer> out;
    for (std::size_t i = 0; i < params_.size(); ++i) {
        out.push_back({"step/" + params_[i].name, {static_cast<float>(param_steps_[i])}});
        for (std::size_t k = 0; k < kinds_.size(); ++k)
            out.push_back({kinds_[k] + "/" + params_[i].name, buffers_[i][k]});
    }
    return out;
}

void Optimizer::load_state(const std::vector<NamedBuffer>& buffers, std::int64_t steps) {
    const std::string where = "optimizer state: ";
    if (steps < 0)
        throw FormatError(where + "step count " + std::to_string(steps) + " is negative");
    // name -> (parameter, kind); kind == kinds_.size() is the step count.
    std::map<std::string, std::pair<std::size_t, std::size_t>> expected;
    for (std::size_t i = 0; i < params_.size(); ++i) {
        expected["step/" + params_[i].name] = {i, kinds_.size()};
        for (std::size_t k = 0; k < kinds_.size(); ++k)
            expected[kinds_[k] + "/" + params_[i].name] = {i, k};
    }
    std::map<std::string, const NamedBuffer*> given;
    for (const NamedBuffer& b : buffers) {
        const auto it = expected.find(b.name);
        if (it == expected.end())
            throw FormatError(where + "unexpected buffer '" + b.name +
                              "' (was the optimizer or the parameter list changed?)");
        if (!given.emplace(b.name, &b).second)
            throw FormatError(where + "buffer '" + b.name + "' appears twice");
        const auto [i, k] = it->second;
        const std::size_t size =
            k == kinds_.size() ? 1 : static_cast<std::size_t>(params_[i].tensor.numel());
        if (b.values.size() != size)
            throw FormatError(where + "buffer '" + b.name + "' has " +
                              std::to_string(b.values.size()) + " values; expected " +
                              std::to_string(size));
        if (k == kinds_.size()) {
            const float t = b.values[0];
            if (!(t >= 0) || t != std::floor(t) ||
                static_cast<double>(t) > static_cast<double>(steps))
                throw FormatError(where + "buffer '" + b.name + "' holds step " +
                                  num(static_cast<double>(t)) + "; expected an integer in [0, " +
                                  std::to_string(steps) + "]");
        }
    }
    for (const auto& [name, unused] : expected)
        if (!given.count(name))
            throw FormatError(where + "no buffer '" + name + "'");
    for (const auto& [name, b] : given) {
        const auto [i, k] = expected.at(name);
        if (k == kinds_.size())
            param_steps_[i] = static_cast<std::int64_t>(b->values[0]);
        else
            buffers_[i][k] = b->values;
    }
    steps_ = steps;
}

AdamW::AdamW(const OptimizerConfig& config, std::vector<ParamRef> params)
    : Optimizer(std::move(params), {"exp_avg", "exp_avg_sq"}), config_(config) {
    check_optimizer(config);
}

void AdamW::update(std::size_t i, double lr, std::int64_t t) {
    Tensor& param = params_[i].tensor;
    const double wd = params_[i].weight_decay ? config_.weight_decay : 0.0;
    const float decay = static_cast<float>(1.0 - lr * wd);
    const float beta1 = static_cast<float>(config_.beta1);
    const float beta2 = static_cast<float>(config_.beta2);
    const float one_minus_beta1 = static_cast<float>(1.0 - config_.beta1);
    const float one_minus_beta2 = static_cast<float>(1.0 - config_.beta2);
    const double bias_correction1 = 1.0 - std::pow(config_.beta1, static_cast<double>(t));
    const double bias_correction2 = 1.0 - std::pow(config_.beta2, static_cast<double>(t));
    const float neg_step_size = static_cast<float>(-(lr / bias_correction1));
    const float bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    const float eps = static_cast<float>(config_.eps);

    float* w = param.data();
    const float* g = param.grad();
    float* exp_avg = buffer(i, 0).data();
    float* exp_avg_sq = buffer(i, 1).data();
    for_each_element(param.numel(), [&](std::int64_t j) {
        const float gj = g[j];
        const float p = w[j] * decay; // param.mul_(1 - lr * wd)
        // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        const float m = std::fma(gj, one_minus_beta1, exp_avg[j] * beta1);
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        const float v = std::fma(one_minus_beta2 * gj, gj, exp_avg_sq[j] * beta2);
        exp_avg[j] = m;
        exp_avg_sq[j] = v;
        const float denom = std::sqrt(v) / bias_correction2_sqrt + eps;
        w[j] = p + neg_step_size * m / denom; // param.addcdiv_(exp_avg, denom, value=-step_size)
    });
}

Sgd::Sgd(const OptimizerConfig& config, std::vector<ParamRef> params)
    : Optimizer(std::move(params),
                config.momentum != 0 ? std::vector<std::string>{"momentum_buffer"}
                                     : std::vector<std::string>{}),
      config_(config) {
    check_optimizer(config);
}

void Sgd::update(std::size_t i, double lr, std::int64_t t) {
    Tensor& param = params_[i].tensor;
    const double wd = params_[i].weight_decay ? config_.weight_decay : 0.0;
    const float wd_f = static_cast<float>(wd);
    const float momentum = static_cast<float>(config_.momentum);
    const float keep = static_cast<float>(1.0 - config_.dampening);
    const float neg_lr = static_cast<float>(-lr);
    const bool first = t == 1; // torch: momentum_buffer is None until the first update
    const bool nesterov = config_.nesterov;

    float* w = param.data();
    const float* g = param.grad();
    float* buf = config_.momentum != 0 ? buffer(i, 0).data() : nullptr;
    for_each_element(param.numel(), [&](std::int64_t j) {
        float d = g[j];
        if (wd != 0)
            d = std::fma(w[j], wd_f, d); // d_p.add(param, alpha=wd)
        if (buf) {
            const float b = first ? d : std::fma(d, keep, buf[j] * momentum);
            buf[j] = b;
            d = nesterov ? std::fma(b, momentum, d) : b;
        }
        w[j] = std::fma(d, neg_lr, w[j]); // param.add_(d_p, alpha=-lr)
    });
}

void check_optimizer(const OptimizerConfig& config) {
    if (config.name != "adamw" && config.name != "sgd")
        throw ConfigError("optim.name: unknown optimizer '" + config.name +
                          "'; expected one of adamw, sgd");
    require(config.lr > 0, "optim.lr must be > 0, got " + num(config.lr));
    require(config.weight_decay >= 0,
            "optim.weight_decay must be >= 0, got " + num(config.weight_decay));
    if (config.name == "adamw") {
        require(config.beta1 >= 0 && config.beta1 < 1,
                "optim.betas[0] must be in [0, 1), got " + num(config.beta1));
        require(config.beta2 >= 0 && config.beta2 < 1,
                "optim.betas[1] must be in [0, 1), got " + num(config.beta2));
        require(config.eps > 0, "optim.eps must be > 0, got " + num(config.eps));
        require(config.momentum == 0 && config.dampening == 0 && !config.nesterov,
                "optim.momentum: only for optim.name = sgd; got optim.name = adamw");
        return;
    }
    require(config.momentum >= 0, "optim.momentum must be >= 0, got " + num(config.momentum));
    require(config.dampening >= 0 && config.dampening <= 1,
            "optim.dampening must be in [0, 1], got " + num(config.dampening));
    require(!config.nesterov || (config.momentum > 0 && config.dampening == 0),
            "optim.nesterov needs momentum > 0 and dampening 0");
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config,
                                          std::vector<ParamRef> params) {
    check_optimizer(config);
    if (config.name == "adamw")
        return std::make_unique<AdamW>(config, std::move(params));
    return std::make_unique<Sgd>(config, std::move(params));
}

} // namespace slimtune::optim
