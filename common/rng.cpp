#include "common/rng.h"

#include <cmath>

namespace slimtune {

float Rng::next_normal() {
    // 1 - u keeps the logarithm's argument in (0, 1].
    double u1 = 1.0 - static_cast<double>(next_uniform());
    double u2 = static_cast<double>(next_uniform());
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
}

} // namespace slimtune
