// optim/ against torch.optim 1.13: tests/reference/gen_optim.py runs AdamW and SGD for six
// steps (warmup + decay schedules, clip_grad_norm_, a parameter without weight decay and one
// whose grad is None on some steps) and LambdaLR on transformers' schedule lambdas. Given
// torch's clipped gradients the optimizers must match bit for bit; the clipping norm is ours in
// double (torch sums in float32), so the full step is held to 1e-6 relative (plus 1e-8
// absolute for parameters near zero: the clip factor's last bits move an update by ~lr * 1e-7).
#include "common/error.h"
#include "model/io/safetensors.h"
#include "optim/clip.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tests/test_util.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <omp.h>
#include <span>

using namespace slimtune;
using namespace slimtune::optim;
using test::require_close;
using json = nlohmann::json;

namespace {

const std::vector<std::string> kOptimizerCases = {"adamw", "adamw_noclip", "sgd_nesterov",
                                                  "sgd_dampening", "sgd_plain"};

io::SafetensorsFile open_golden(const std::string& name) {
    return io::SafetensorsFile::open(std::string(SLIMTUNE_GOLDEN_DIR) + "/optim/" + name +
                                     ".safetensors");
}

// Exact equality, element by element (a NaN never matches).
template <class A, class E> void require_bitwise(const A& a, const E& e, const std::string& label) {
    require_close(a, e, 0.0, 0.0, label);
}

struct Case {
    std::string name;
    io::SafetensorsFile file;
    json config;
    std::vector<ParamRef> params;
    int steps;

    explicit Case(const std::string& case_name)
        : name(case_name), file(open_golden(case_name)),
          config(json::parse(file.metadata().at("config"))), steps(config.at("steps")) {
        for (const json& p : config.at("params")) {
            const std::string n = p.at("name");
            params.push_back(
                {n, Tensor::from(file.at("init." + n).shape, file.read_f32("init." + n), true),
                 p.at("weight_decay").get<bool>()});
        }
    }
    OptimizerConfig optimizer() const {
        const json& o = config.at("optimizer");
        OptimizerConfig c;
        c.name = o.at("name");
        c.lr = o.at("lr");
        c.weight_decay = o.at("weight_decay");
        c.beta1 = o.value("beta1", c.beta1);
        c.beta2 = o.value("beta2", c.beta2);
        c.eps = o.value("eps", c.eps);
        c.momentum = o.value("momentum", c.momentum);
        c.dampening = o.value("dampening", c.dampening);
        c.nesterov = o.value("nesterov", c.nesterov);
        return c;
    }
    ScheduleConfig schedule() const {
        const json& s = config.at("schedule");
        return {s.at("name"), s.at("warmup_steps"), s.at("min_lr_ratio")};
    }
    double max_grad_norm() const { return config.at("max_grad_norm"); }
    bool clips() const { return max_grad_norm() > 0; }

    // Gradients of step k: "grad" (raw) or "clipped"; a missing one is p.grad None.
    void set_grads(int k, const std::string& kind) {
        for (ParamRef& p : params) {
            p.tensor.zero_grad();
            const std::string key = kind + "." + std::to_string(k) + "." + p.name;
            if (file.find(key)) {
                const std::vector<float> g = file.read_f32(key);
                std::copy(g.begin(), g.end(), p.tensor.grad());
            }
        }
    }
    void check_params(int k, double rtol, const std::string& what, double atol = 0) {
        for (const ParamRef& p : params) {
            const std::string key = "param." + std::to_string(k) + "." + p.name;
            require_close(p.tensor.values(), file.read_f32(key), atol, rtol,
                          name + " " + what + " " + key);
        }
    }
    // One full step as the trainer takes it: clip, schedule, update.
    void full_step(Optimizer& opt, int k) {
        set_grads(k, "grad");
        clip_grad_norm(params, max_grad_norm());
        opt.step(lr_at(schedule(), optimizer().lr, k, steps));
    }
};

} // namespace

TEST_CASE("optim: AdamW and SGD match torch.optim bit for bit", "[optim]") {
    for (const std::string& name : kOptimizerCases) {
        Case c(name);
        auto opt = make_optimizer(c.optimizer(), c.params);
        const std::vector<double> lrs = c.file.read_f64("lr");
        for (int k = 0; k < c.steps; ++k) {
            c.set_grads(k, c.clips() ? "clipped" : "grad");
            opt->step(lrs[static_cast<size_t>(k)]);
            c.check_params(k, 0.0, "torch's gradients");
        }
        CHECK(opt->steps() == c.steps);
        // Our state against optimizer.state after the last step (torch's SGD keeps no step).
        int compared = 0;
        for (const NamedBuffer& b : opt->state()) {
            const std::string key = "state." + b.name.substr(0, b.name.find('/')) + "." +
                                    b.name.substr(b.name.find('/') + 1);
            if (c.file.find(key)) {
                require_bitwise(b.values, c.file.read_f32(key), name + " " + key);
                ++compared;
            }
        }
        const int per_param = name.rfind("adamw", 0) == 0 ? 3 : name == "sgd_plain" ? 0 : 1;
        CHECK(compared == per_param * static_cast<int>(c.params.size()));
    }
}

TEST_CASE("optim: clip_grad_norm against torch.nn.utils.clip_grad_norm_", "[optim]") {
    for (const std::string& name : kOptimizerCases) {
        Case c(name);
        const std::vector<double> exact = c.file.read_f64("grad_norm_exact");
        const std::vector<double> torch_norm = c.file.read_f64("grad_norm"); // float32 in torch
        for (int k = 0; k < c.steps; ++k) {
            const auto i = static_cast<size_t>(k);
            c.set_grads(k, "grad");
            const double norm = clip_grad_norm(c.params, c.max_grad_norm());
            CHECK(std::abs(norm - exact[i]) <= 1e-12 * exact[i]);
            CHECK(std::abs(norm - torch_norm[i]) <= 1e-6 * torch_norm[i]);
            for (const ParamRef& p : c.params) {
                const std::string n = std::to_string(k) + "." + p.name;
                if (!c.file.find("grad." + n)) {
                    CHECK_FALSE(p.tensor.has_grad());
                } else if (c.clips()) {
                    require_close(p.tensor.grad_values(), c.file.read_f32("clipped." + n), 0.0,
                                  1e-6, name + " clipped." + n);
                } else {
                    require_bitwise(p.tensor.grad_values(), c.file.read_f32("grad." + n),
                                    name + " unclipped." + n);
                }
            }
        }
    }
}

TEST_CASE("optim: clip + schedule + step track torch within 1e-6", "[optim]") {
    for (const std::string& name : kOptimizerCases) {
        Case c(name);
        auto opt = make_optimizer(c.optimizer(), c.params);
        const std::vector<double> lrs = c.file.read_f64("lr");
        for (int k = 0; k < c.steps; ++k) {
            CHECK(lr_at(c.schedule(), c.optimizer().lr, k, c.steps) == lrs[static_cast<size_t>(k)]);
            c.full_step(*opt, k);
            c.check_params(k, c.clips() ? 1e-6 : 0.0, "full step", c.clips() ? 1e-8 : 0.0);
        }
    }
}

TEST_CASE("optim: schedules equal LambdaLR on transformers' lambdas", "[optim]") {
    const io::SafetensorsFile f = open_golden("schedules");
    const json configs = json::parse(f.metadata().at("config"));
    REQUIRE(configs.size() >= 7);
    for (const auto& [name, s] : configs.items()) {
        const ScheduleConfig sc{s.at("name"), s.at("warmup_steps"), s.at("min_lr_ratio")};
        const std::int64_t total = s.at("total_steps");
        std::vector<double> lrs;
        for (std::int64_t step = 0; step < total; ++step)
            lrs.push_back(lr_at(sc, s.at("base_lr").get<double>(), step, total));
        require_bitwise(lrs, f.read_f64(name), "schedule " + name);
    }
}

TEST_CASE("optim: configuration errors", "[optim]") {
    using Catch::Matchers::Contains;
    auto params = [] { return std::vector<ParamRef>{{"w", Tensor::zeros({2, 2}, true), true}}; };
    auto rejects = [&](const OptimizerConfig& c, const std::string& message) {
        REQUIRE_THROWS_WITH(make_optimizer(c, params()), Contains(message));
    };
    rejects({.name = "lion"}, "unknown optimizer 'lion'; expected one of adamw, sgd");
    rejects({.lr = 0}, "optim.lr must be > 0, got 0");
    rejects({.lr = std::nan("")}, "optim.lr");
    rejects({.beta1 = 1.0}, "optim.betas[0] must be in [0, 1), got 1");
    rejects({.beta2 = -0.1}, "optim.betas[1]");
    rejects({.eps = 0}, "optim.eps");
    rejects({.weight_decay = -1}, "optim.weight_decay");
    rejects({.name = "sgd", .momentum = -0.5}, "optim.momentum");
    rejects({.name = "sgd", .nesterov = true}, "optim.nesterov needs momentum > 0");
    rejects({.name = "sgd", .momentum = 0.9, .dampening = 0.1, .nesterov = true}, "optim.nesterov");
    REQUIRE_THROWS_AS(make_optimizer(OptimizerConfig{}, {}), ConfigError);
    std::vector<ParamRef> twice = params();
    twice.push_back(twice.front());
    REQUIRE_THROWS_WITH(make_optimizer(OptimizerConfig{}, twice), Contains("'w' repeats"));
    auto opt = make_optimizer(OptimizerConfig{}, params());
    REQUIRE_THROWS_AS(opt->step(-1e-3), ConfigError);
    REQUIRE_THROWS_AS(opt->step(std::numeric_limits<double>::infinity()), ConfigError);

    REQUIRE_THROWS_WITH(
        lr_at({.name = "step"}, 1.0, 0, 10),
        Contains("unknown schedule 'step'; expected one of constant, linear, cosine"));
    REQUIRE_THROWS_WITH(lr_at({.warmup_steps = -1}, 1.0, 0, 10), Contains("sched.warmup_steps"));
    REQUIRE_THROWS_WITH(lr_at({.min_lr_ratio = -0.1}, 1.0, 0, 10), Contains("sched.min_lr_ratio"));
    REQUIRE_THROWS_WITH(lr_at({.min_lr_ratio = 1.5}, 1.0, 0, 10), Contains("sched.min_lr_ratio"));
}

TEST_CASE("optim: state save and load continue bit for bit", "[optim]") {
    for (const std::string name : {"adamw", "sgd_nesterov", "sgd_dampening"}) {
        Case straight(name), resumed(name);
        auto a = make_optimizer(straight.optimizer(), straight.params);
        auto b = make_optimizer(resumed.optimizer(), resumed.params);
        for (int k = 0; k < 3; ++k) {
            straight.full_step(*a, k);
            resumed.full_step(*b, k);
        }
        // A fresh optimizer over fresh tensors holding the saved values, as a resumed run has.
        const std::vector<NamedBuffer> saved = b->state();
        const std::int64_t saved_steps = b->steps();
        for (ParamRef& p : resumed.params)
            p.tensor = p.tensor.clone().set_requires_grad(true);
        b = make_optimizer(resumed.optimizer(), resumed.params);
        b->load_state(saved, saved_steps);
        CHECK(b->steps() == 3);
        for (int k = 3; k < straight.steps; ++k) {
            straight.full_step(*a, k);
            resumed.full_step(*b, k);
        }
        for (size_t i = 0; i < straight.params.size(); ++i)
            require_bitwise(resumed.params[i].tensor.values(), straight.params[i].tensor.values(),
                            name + " resumed " + straight.params[i].name);
        const auto sa = a->state(), sb = b->state();
        REQUIRE(sa.size() == sb.size());
        for (size_t i = 0; i < sa.size(); ++i) {
            CHECK(sa[i].name == sb[i].name);
            require_bitwise(sb[i].values, sa[i].values, name + " resumed state " + sa[i].name);
        }
    }
}

TEST_CASE("optim: load_state rejects a state that does not fit", "[optim]") {
    using Catch::Matchers::Contains;
    std::vector<ParamRef> params{{"w", Tensor::zeros({2, 3}, true), true},
                                 {"b", Tensor::zeros({3}, true), false}};
    auto opt = make_optimizer(OptimizerConfig{}, params);
    const std::vector<NamedBuffer> good = opt->state();
    REQUIRE(good.size() == 6);
    CHECK(good[0].name == "step/w");
    CHECK(good[1].name == "exp_avg/w");
    CHECK(good[2].name == "exp_avg_sq/w");
    auto edited = [&](auto edit) {
        std::vector<NamedBuffer> s = good;
        edit(s);
        return s;
    };
    REQUIRE_THROWS_WITH(opt->load_state(edited([](auto& s) { s.erase(s.begin() + 4); }), 0),
                        Contains("no buffer 'exp_avg/b'"));
    REQUIRE_THROWS_WITH(opt->load_state(edited([](auto& s) { s[1].values.pop_back(); }), 0),
                        Contains("'exp_avg/w' has 5 values; expected 6"));
    REQUIRE_THROWS_WITH(opt->load_state(edited([](auto& s) { s[5].name = "exp_avg_sq/c"; }), 0),
                        Contains("unexpected buffer 'exp_avg_sq/c'"));
    REQUIRE_THROWS_WITH(opt->load_state(edited([](auto& s) { s.push_back(s[1]); }), 0),
                        Contains("'exp_avg/w' appears twice"));
    REQUIRE_THROWS_WITH(opt->load_state(edited([](auto& s) { s[0].values[0] = 2.5f; }), 5),
                        Contains("'step/w' holds step 2.5"));
    REQUIRE_THROWS_WITH(opt->load_state(edited([](auto& s) { s[0].values[0] = 4; }), 3),
                        Contains("'step/w'"));
    REQUIRE_THROWS_AS(opt->load_state(good, -1), FormatError);
    auto sgd = make_optimizer({.name = "sgd", .momentum = 0.9}, params);
    REQUIRE_THROWS_WITH(sgd->load_state(good, 0), Contains("unexpected buffer 'exp_avg/w'"));
    opt->load_state(good, 0); // the untouched state loads
}

TEST_CASE("optim: skipped parameters, finiteness and clipping edge cases", "[optim]") {
    std::vector<ParamRef> params{{"a", Tensor::from({3}, {1, 2, 3}, true), true},
                                 {"b", Tensor::from({2}, {4, 5}, true), true}};
    // No gradient anywhere: norm 0, nothing clipped, nothing updated.
    CHECK(clip_grad_norm(params, 1.0) == 0.0);
    CHECK(all_finite(params));
    auto opt = make_optimizer({.name = "sgd", .lr = 0.1}, params);
    opt->step(0.1);
    require_bitwise(params[0].tensor.values(), std::vector<float>{1, 2, 3}, "untouched");
    CHECK(opt->state()[0].values[0] == 0.0f);

    // Norm 5 below the limit: gradients unchanged; above it: scaled to max_norm.
    std::copy_n(std::vector<float>{3, 0, 0}.begin(), 3, params[0].tensor.grad());
    std::copy_n(std::vector<float>{0, 4}.begin(), 2, params[1].tensor.grad());
    CHECK(clip_grad_norm(params, 10.0) == 5.0);
    require_bitwise(params[1].tensor.grad_values(), std::vector<float>{0, 4}, "not clipped");
    CHECK(clip_grad_norm(params, 0.0) == 5.0);
    CHECK(clip_grad_norm(params, 1.0) == 5.0);
    require_close(params[1].tensor.grad_values(), std::vector<double>{0, 0.8}, 0, 1e-6, "clipped");
    opt->zero_grad();
    CHECK_FALSE(params[0].tensor.has_grad());

    params[1].tensor.grad()[1] = std::numeric_limits<float>::quiet_NaN();
    CHECK_FALSE(all_finite(params));
    params[1].tensor.grad()[1] = -std::numeric_limits<float>::infinity();
    CHECK_FALSE(all_finite(params));
    params[1].tensor.grad()[1] = 1e30f;
    CHECK(all_finite(params));
}

TEST_CASE("optim: large tensors update the same on any thread count", "[optim]") {
    const size_t n = 200000; // above the parallel threshold
    const std::vector<float> init = test::random_normal(n, 7), grad = test::random_normal(n, 8);
    // Returns the parameters after 3 clipped steps, concatenated, and the gradient norms.
    auto run = [&](const OptimizerConfig& config, int threads, size_t chunk) {
        const int keep = omp_get_max_threads();
        omp_set_num_threads(threads);
        std::vector<ParamRef> params;
        for (size_t at = 0; at < n; at += chunk) {
            const auto m = static_cast<std::ptrdiff_t>(std::min(chunk, n - at));
            const auto first = init.begin() + static_cast<std::ptrdiff_t>(at);
            params.push_back({"p" + std::to_string(at),
                              Tensor::from({m}, std::vector<float>(first, first + m), true), true});
        }
        auto opt = make_optimizer(config, params);
        std::vector<double> norms;
        for (int k = 0; k < 3; ++k) {
            size_t at = 0;
            for (ParamRef& p : params)
                for (float& g : std::span(p.tensor.grad(), static_cast<size_t>(p.tensor.numel())))
                    g = grad[at++] * static_cast<float>(k + 1);
            norms.push_back(clip_grad_norm(params, 100.0));
            opt->step(config.lr);
        }
        omp_set_num_threads(keep);
        std::vector<float> out;
        for (const ParamRef& p : params)
            out.insert(out.end(), p.tensor.values().begin(), p.tensor.values().end());
        return std::make_pair(out, norms);
    };
    for (const OptimizerConfig& config :
         {OptimizerConfig{.lr = 1e-2, .weight_decay = 0.1},
          OptimizerConfig{.name = "sgd", .lr = 1e-2, .momentum = 0.9, .nesterov = true}}) {
        const auto serial = run(config, 1, n), parallel = run(config, 4, n);
        const auto chunked = run(config, 4, 1000); // small tensors: the serial loop
        require_bitwise(parallel.first, serial.first, config.name + " 4 threads vs 1");
        require_bitwise(parallel.second, serial.second, config.name + " norms, 4 threads vs 1");
        require_bitwise(chunked.first, serial.first, config.name + " small tensors vs one large");
    }
}
