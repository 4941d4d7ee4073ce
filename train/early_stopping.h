// Early stopping on the validation loss (eval.early_stopping_patience, eval.early_stopping_
// min_delta) and the best checkpoint (checkpoint.keep_best). The rule is transformers'
// EarlyStoppingCallback: an evaluation improves on the best when its loss is lower by more than
// min_delta; after `patience` evaluations in a row without an improvement the run stops.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace slimtune::train {

class BestValidation {
public:
    // Records the validation loss of the evaluation at `step`; true when it is the new best.
    bool observe(int64_t step, double loss, double min_delta);
    // `patience` evaluations have passed without an improvement (never when patience is 0).
    bool exhausted(int64_t patience) const;

    std::optional<double> loss() const { return loss_; }
    int64_t step() const { return step_; }
    int64_t evals_since() const { return evals_since_; }

    // Stored among a checkpoint's metrics (best_eval_loss, best_step, evals_since_best), so that
    // a resumed run keeps counting where it stopped.
    void save(std::map<std::string, double>& metrics) const;
    static BestValidation load(const std::map<std::string, double>& metrics);

private:
    std::optional<double> loss_;
    int64_t step_ = 0;
    int64_t evals_since_ = 0;
};

} // namespace slimtune::train
