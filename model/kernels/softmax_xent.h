// Softmax cross-entropy over rows of logits (rows, V), with an ignore index. The scaled logits
// z = logit_scale * logits (Granite divides its logits by a constant; 1 elsewhere), soft-capped
// to softcap * tanh(z / softcap) when softcap > 0 (Gemma 2's final_logit_softcapping).
// A row whose target is kIgnoreLabel (-100) contributes nothing and gets a zero gradient.
#pragma once

#include "common/labels.h"

#include <cstdint>

namespace slimtune::kernels {

// row_loss[r] = logsumexp(z_r) - z_r[target_r]  (0 for ignored rows); lse[r] saved for bwd.
template <class T>
void softmax_xent_fwd(const T* logits,
                      const int32_t* targets,
                      T* row_loss,
                      T* lse,
                      int64_t rows,
                      int64_t vocab,
                      T logit_scale,
                      T softcap = T(0)) noexcept;

// dlogits[r, :] (+)= g * logit_scale * (softmax(z_r) - onehot(target_r)) for counted rows,
// times the cap's derivative 1 - tanh^2 when softcap > 0.
// With overwrite, dlogits is assigned instead (ignored rows get zeros) and may alias logits,
// which turns a logits chunk into its gradient in place.
template <class T>
void softmax_xent_bwd(const T* logits,
                      const int32_t* targets,
                      const T* lse,
                      T g,
                      T* dlogits,
                      int64_t rows,
                      int64_t vocab,
                      T logit_scale,
                      bool overwrite,
                      T softcap = T(0)) noexcept;

} // namespace slimtune::kernels
