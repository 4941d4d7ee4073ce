#include "train/early_stopping.h"

namespace slimtune::train {

bool BestValidation::observe(int64_t step, double loss, double min_delta) {
    if (!loss_ || loss < *loss_ - min_delta) {
        loss_ = loss;
        step_ = step;
        evals_since_ = 0;
        return true;
    }
    ++evals_since_;
    return false;
}

bool BestValidation::exhausted(int64_t patience) const {
    return patience > 0 && evals_since_ >= patience;
}

void BestValidation::save(std::map<std::string, double>& metrics) const {
    if (!loss_)
        return;
    metrics["best_eval_loss"] = *loss_;
    metrics["best_step"] = static_cast<double>(step_);
    metrics["evals_since_best"] = static_cast<double>(evals_since_);
}

BestValidation BestValidation::load(const std::map<std::string, double>& metrics) {
    BestValidation b;
    const auto loss = metrics.find("best_eval_loss");
    if (loss == metrics.end())
        return b;
    b.loss_ = loss->second;
    const auto count = [&](const char* name) {
        const auto it = metrics.find(name);
        return it == metrics.end() ? int64_t{0} : static_cast<int64_t>(it->second);
    };
    b.step_ = count("best_step");
    b.evals_since_ = count("evals_since_best");
    return b;
}

} // namespace slimtune::train
