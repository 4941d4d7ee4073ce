// layer_norm and rms_norm ops over the last dimension.
#include "model/kernels/norm.h"

#include "model/ops/op_util.h"
#include "model/ops/ops.h"

namespace slimtune {

using namespace ops_detail;

static void check_norm_param(const char* op, const char* name, const Tensor& x, const Tensor& p) {
    if (p.defined())
        require(p.ndim() == 1 && p.dim(0) == x.cols(), std::string(op) + ": " + desc(name, p) +
                                                           " does not match the last dim of " +
                                                           desc("x", x));
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
    require_defined(x, "layer_norm", "x");
    require(x.ndim() >= 1, "layer_norm: x must have at least one dim");
    check_norm_param("layer_norm", "weight", x, weight);
    check_norm_param("layer_norm", "bias", x, bias);
    const int64_t rows = x.rows(), cols = x.cols();
    Tensor y = Tensor::zeros(x.shape());
    std::vector<float> mean(static_cast<size_t>(rows)), rstd(static_cast<size_t>(rows));
    kernels::layer_norm_fwd(x.data(), weight.defined() ? weight.data() : nullptr,
                            bias.defined() ? bias.data() : nullptr, y.data(), mean.data(),
                            rstd.data(), rows, cols, eps);
    if (should_record({&x, &weight, &bias}))
        record("layer_norm", y,
               [x, weight, bias, y, mean = std::move(mean), rstd = std::move(rstd), rows, cols] {
                   kernels::layer_norm_bwd(y.grad(), x.data(),
                                           weight.defined() ? weight.data() : nullptr, mean.data(),
                                           rstd.data(), grad_or_null(x), grad_or_null(weight),
                                           grad_or_null(bias), rows, cols);
               });
    return y;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps, float weight_offset) {
    require_defined(x, "rms_norm", "x");
    require(x.ndim() >= 1, "rms_norm: x must have at least one dim");
    check_norm_param("rms_norm", "weight", x, weight);
    const int64_t rows = x.rows(), cols = x.cols();
    Tensor y = Tensor::zeros(x.shape());
    std::vector<float> rstd(static_cast<size_t>(rows));
    const float* w = weight.defined() ? weight.data() : nullptr;
    kernels::rms_norm_fwd(x.data(), w, y.data(), rstd.data(), rows, cols, eps, weight_offset);
    if (should_record({&x, &weight}))
        record("rms_norm", y, [x, weight, y, rstd = std::move(rstd), rows, cols, weight_offset] {
            kernels::rms_norm_bwd(y.grad(), x.data(), weight.defined() ? weight.data() : nullptr,
                                  rstd.data(), grad_or_null(x), grad_or_null(weight), rows, cols,
                                  weight_offset);
        });
    return y;
}

} // namespace slimtune
