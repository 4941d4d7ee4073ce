// One optimizer step of LoRA or full fine-tuning, and evaluation: the library the `train`
// command drives and the parity tests call directly.
//
// A step takes the micro-batches of one optimizer step (gradient accumulation): each
// micro-batch's summed loss is divided by the number of counted targets of all of them, so
// the accumulated gradient is exactly that of one batch holding them all. Then the gradients
// are clipped to max_grad_norm (global 2-norm), the learning rate comes from the schedule, and
// AdamW (or SGD) updates the trainable tensors. A non-finite loss or gradient stops with a
// NumericsError naming the step.
#pragma once

#include "common/rng.h"
#include "data/packing.h"
#include "model/lora.h"
#include "model/transformer.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace slimtune::train {

// The [lora], [optim] and [sched] sections of a recipe and the trainer's own keys of [train]
// (mode, trainable, seed): the recipe's key table binds straight to these fields.
struct TrainerConfig {
    std::string mode = "lora"; // lora | full
    LoraConfig lora;           // lora mode: the adapters to attach
    // lora mode: a PEFT adapter directory to start from instead; its own config replaces `lora`.
    std::string lora_init;
    // full mode: parameter-name substrings that train; empty: every parameter.
    std::vector<std::string> trainable;
    optim::OptimizerConfig optimizer;
    optim::ScheduleConfig schedule;
    double max_grad_norm = 1.0; // 0: no clipping
    uint64_t seed = 42;         // adapter init and dropout
    // Storage of the frozen linear weights (and a frozen head/embedding) while training:
    // float32, bfloat16 (their matmuls run BF16 x BF16 -> FP32), or auto = bfloat16 where the
    // CPU has AMX or AVX-512 BF16. Trainable tensors, norms, attention and the loss stay FP32.
    std::string base_dtype = "auto"; // auto | float32 | bfloat16
    // Keep only each block's input in the forward and recompute the block during backward:
    // activation memory per block falls to one [tokens, hidden] tensor, for ~1/3 (full) to ~1/2
    // (LoRA: no weight gradient of the frozen base to amortise the replay) more compute.
    bool checkpoint_activations = false;
};

struct StepStats {
    int64_t step = 0; // 1-based index of the step just taken
    double loss = 0, grad_norm = 0, lr = 0;
    int64_t tokens = 0;           // input tokens of the micro-batches (padding left out)
    int64_t trainable_tokens = 0; // counted targets: the loss-bearing tokens
};

class Trainer {
public:
    // Attaches LoRA adapters (lora mode: read from config.lora_init, or fresh ones from
    // config.lora unless the model already carries adapters) or marks parameters trainable
    // (full mode), and builds the optimizer. `total_steps` (>= 1) spans the schedule.
    Trainer(Model& model, TrainerConfig config, int64_t total_steps);

    StepStats step(std::span<const data::TokenBatch> micro_batches);
    // Mean loss over the counted targets of `batches` (no gradient, no dropout); `tokens`
    // receives their number.
    double evaluate(std::span<const data::TokenBatch> batches, int64_t* tokens = nullptr) const;

    int64_t steps_done() const { return steps_; }
    const std::vector<optim::ParamRef>& params() const { return params_; }
    optim::Optimizer& optimizer() { return *optimizer_; }
    Rng& dropout_rng() { return dropout_rng_; }
    // The config as trained: with lora_init, `lora` is the adapter's own.
    const TrainerConfig& config() const { return config_; }
    int64_t total_steps() const { return total_steps_; }
    // One line on how the frozen base is held and multiplied ("frozen base: bfloat16, ...").
    const std::string& base_note() const { return base_note_; }
    // Continue from a checkpoint: the step counter (weights and optimizer state are restored by
    // the caller through params() and optimizer()).
    void set_steps_done(int64_t steps) { steps_ = steps; }

private:
    Model& model_;
    TrainerConfig config_;
    int64_t total_steps_;
    std::vector<optim::ParamRef> params_;
    std::unique_ptr<optim::Optimizer> optimizer_;
    Rng dropout_rng_;
    int64_t steps_ = 0;
    std::string base_note_;
};

// Whether config asks for the frozen base in bfloat16 (auto: in lora mode on a CPU with the BF16
// dot product); throws ConfigError for bfloat16 in full mode or an unknown value.
bool wants_bf16_base(const TrainerConfig& config);
// Replaces the model's frozen projection, embedding and head weights by their bfloat16 rounding
// (nearest, ties to even): what the BF16 matmuls read, at half the memory.
void hold_frozen_base_in_bf16(Model& model);

// Parameters as PEFT's print_trainable_parameters counts them: `all` holds the model's own
// and, in LoRA mode, the adapters'.
struct ParamCount {
    int64_t trainable = 0, all = 0;
};
ParamCount count_params(Model& model, const Trainer& trainer);

// The trainable tensors of a model in LoRA mode ("<module>.lora_A" / ".lora_B", weight decay
// on) or full mode (Hugging Face names, weight decay on matrices only).
std::vector<optim::ParamRef> lora_param_refs(Model& model);
std::vector<optim::ParamRef> full_param_refs(Model& model, const std::vector<std::string>& only);

} // namespace slimtune::train
