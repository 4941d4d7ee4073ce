#include "train/trainer.h"

#include "common/error.h"
#include "model/autograd.h"
#include "model/half.h"
#include "model/kernels/gemm.h"
#include "optim/clip.h"
#include "train/evaluate.h"

#include <algorithm>
#include <cmath>

namespace slimtune::train {

std::vector<optim::ParamRef> lora_param_refs(Model& model) {
    std::vector<optim::ParamRef> refs;
    for (const LoraModule& l : lora_modules(model)) {
        // transformers' Trainer decays every parameter that is not a bias or a norm weight,
        // LoRA's A and B included.
        refs.push_back({l.module + ".lora_A", l.linear->lora.a, true});
        refs.push_back({l.module + ".lora_B", l.linear->lora.b, true});
    }
    return refs;
}

std::vector<optim::ParamRef> full_param_refs(Model& model, const std::vector<std::string>& only) {
    std::vector<optim::ParamRef> refs;
    for (const NamedParam& p : model_params(model)) {
        bool wanted = only.empty();
        for (const std::string& s : only)
            wanted |= p.name.find(s) != std::string::npos;
        if (!wanted)
            continue;
        if (p.tensor->storage() != Storage::F32)
            throw ConfigError("full fine-tuning: " + p.name +
                              " is held in 16 bits; load the model with float32 weights");
        p.tensor->set_requires_grad(true);
        refs.push_back({p.name, *p.tensor, p.tensor->ndim() >= 2});
    }
    if (refs.empty())
        throw ConfigError("full fine-tuning: train.trainable selects no parameter");
    return refs;
}

ParamCount count_params(Model& model, const Trainer& trainer) {
    ParamCount c;
    for (const optim::ParamRef& p : trainer.params())
        c.trainable += p.tensor.numel();
    for (const NamedParam& p : model_params(model))
        c.all += p.tensor->numel();
    if (trainer.config().mode == "lora") // adapters are not among the model's own parameters
        c.all += c.trainable;
    return c;
}

bool wants_bf16_base(const TrainerConfig& config) {
    if (config.base_dtype == "float32")
        return false;
    if (config.base_dtype == "bfloat16") {
        if (config.mode != "lora")
            throw ConfigError("model.base_dtype = bfloat16 needs train.mode = lora: full "
                              "fine-tuning updates the weights in float32");
        return true;
    }
    if (config.base_dtype != "auto")
        throw ConfigError("model.base_dtype must be auto, float32 or bfloat16, got '" +
                          config.base_dtype + "'");
    return config.mode == "lora" && kernels::bf16_gemm_available();
}

void hold_frozen_base_in_bf16(Model& model) {
    for (const NamedParam& p : model_params(model)) {
        Tensor& t = *p.tensor;
        const bool matrix =
            p.projection || p.slot == ParamSlot::Embed || p.slot == ParamSlot::LmHead;
        if (!matrix || t.requires_grad() || t.storage() == Storage::BF16)
            continue;
        if (t.storage() != Storage::F32) // an f16 checkpoint kept in 16 bits: bf16 from its values
            throw ConfigError("model.base_dtype = bfloat16: " + p.name +
                              " is held in float16; load the model with float32 weights");
        std::vector<uint16_t> bits(static_cast<size_t>(t.numel()));
        const float* v = t.data();
        for (size_t i = 0; i < bits.size(); ++i)
            bits[i] = f32_to_bf16(v[i]);
        t = Tensor::from_half(t.shape(), std::move(bits), Storage::BF16);
    }
}

std::string base_dtype_note(bool bf16_base) {
    if (!bf16_base)
        return "frozen base: float32";
    const std::string isa = kernels::bf16_gemm_isa();
    if (kernels::bf16_gemm_available())
        return "frozen base: bfloat16, matmuls on " + isa + " (oneDNN), FP32 accumulation";
    return "frozen base: bfloat16, matmuls widened to float32: this CPU has no AVX-512 BF16 or "
           "AMX" +
           std::string(isa == "none" ? "" : " (turned off by SLIMTUNE_GEMM=portable)");
}

Trainer::Trainer(Model& model, TrainerConfig config, int64_t total_steps)
    : model_(model), config_(std::move(config)), total_steps_(total_steps),
      dropout_rng_(config_.seed ^ 0x6c6f7261ULL) {
    if (!config_.lora_init.empty() && config_.mode != "lora")
        throw ConfigError("lora.init is set but train.mode is " + config_.mode);
    if (config_.mode == "lora") {
        if (!config_.lora_init.empty()) {
            config_.lora = load_peft_adapter(model_, config_.lora_init);
        } else if (lora_modules(model_).empty()) {
            Rng init(config_.seed);
            lora_attach(model_, config_.lora, init);
        }
        params_ = lora_param_refs(model_);
    } else if (config_.mode == "full") {
        if (!lora_modules(model_).empty())
            throw ConfigError("full fine-tuning of a model that carries LoRA adapters: merge "
                              "them first or train in lora mode");
        params_ = full_param_refs(model_, config_.trainable);
    } else {
        throw ConfigError("train.mode must be lora or full, got '" + config_.mode + "'");
    }
    if (total_steps_ < 1)
        throw ConfigError("the run has no optimizer step (check train.max_steps / epochs)");
    optim::check_schedule(config_.schedule);
    optimizer_ = optim::make_optimizer(config_.optimizer, params_);
    const bool bf16_base = wants_bf16_base(config_);
    if (bf16_base)
        hold_frozen_base_in_bf16(model_);
    base_note_ = base_dtype_note(bf16_base);
}

StepStats Trainer::step(std::span<const data::TokenBatch> micro) {
    if (micro.empty())
        throw ConfigError("a training step needs at least one micro-batch");
    int64_t total = 0;
    StepStats s;
    for (const auto& b : micro) {
        total += b.counted;
        s.tokens += b.doc_ids.empty() ? b.batch * b.seq
                                      : std::count_if(b.doc_ids.begin(), b.doc_ids.end(),
                                                      [](int32_t doc) { return doc >= 0; });
    }
    s.step = steps_ + 1;
    s.trainable_tokens = total;
    optimizer_->zero_grad();
    if (total == 0) {
        // Nothing to learn from (every target masked): count the step, change nothing.
        steps_ = s.step;
        return s;
    }
    for (const auto& b : micro) {
        if (b.counted == 0)
            continue;
        const TokenLayout layout{.batch = b.batch,
                                 .seq = b.seq,
                                 .positions = b.positions,
                                 .doc_ids = b.doc_ids,
                                 .dropout_rng = &dropout_rng_,
                                 .checkpoint_activations = config_.checkpoint_activations};
        Tensor h = model_hidden(model_, b.ids, layout);
        Tensor loss = model_loss(model_, h, b.targets, static_cast<double>(total));
        const double value = static_cast<double>(loss.item());
        if (!std::isfinite(value)) {
            // Weights loaded from files are checked at load, so a trainable tensor that is
            // not finite went so in an update; otherwise the activations overflowed.
            const optim::ParamRef* bad = optim::first_non_finite_value(params_);
            throw NumericsError(
                "loss is " + std::string(std::isnan(value) ? "nan" : "inf") + " at step " +
                std::to_string(s.step) +
                (bad ? ": trainable tensor '" + bad->name + "' holds NaN or Inf after step " +
                           std::to_string(steps_) + " (lower optim.lr or set optim.max_grad_norm)"
                     : ": the weights are finite, the activations overflowed (lower optim.lr, "
                       "or check the data)"));
        }
        backward(loss);
        s.loss += value;
    }
    if (const optim::ParamRef* bad = optim::first_non_finite_grad(params_))
        throw NumericsError("the gradient of '" + bad->name + "' is not finite at step " +
                            std::to_string(s.step) +
                            " (lower optim.lr or set optim.max_grad_norm)");
    s.grad_norm = optim::clip_grad_norm(params_, config_.max_grad_norm);
    s.lr = optim::lr_at(config_.schedule, config_.optimizer.lr, steps_, total_steps_);
    optimizer_->step(s.lr);
    steps_ = s.step;
    return s;
}

double Trainer::evaluate(std::span<const data::TokenBatch> batches, int64_t* tokens) const {
    return mean_loss(model_, batches, tokens);
}

} // namespace slimtune::train
