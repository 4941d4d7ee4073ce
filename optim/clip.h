// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_, PyTorch 1.13, norm type 2) and
// the finiteness check the trainer runs before it. Parameters without a gradient buffer are
// left out, as torch leaves out p.grad None.
#pragma once

#include "optim/optimizer.h"

#include <span>

namespace slimtune::optim {

// total = sqrt(sum over tensors of |grad|^2); when max_norm > 0 and
// coef = max_norm / (total + 1e-6) is below 1, every gradient is multiplied by float(coef).
// Returns the total norm before clipping (0 without gradients). Unlike torch, the norm is
// accumulated in double, so it is the exactly rounded value where torch's float32 sums are
// off by about 1e-7 relative; a non-finite norm leaves the gradients untouched.
// max_norm <= 0: no clipping, only the norm.
double clip_grad_norm(std::span<const ParamRef> params, double max_norm);

// False when any gradient element is NaN or infinite.
bool all_finite(std::span<const ParamRef> params);
// The first parameter whose gradient / whose values hold a NaN or an infinity; nullptr when
// none does. How a numeric fault is traced to a tensor.
const ParamRef* first_non_finite_grad(std::span<const ParamRef> params);
const ParamRef* first_non_finite_value(std::span<const ParamRef> params);

} // namespace slimtune::optim
