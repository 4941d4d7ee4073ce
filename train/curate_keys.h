// The [curate] recipe keys (train/curate_keys.cpp), appended to the recipe's key table.
#pragma once

#include "train/recipe_keys.h"

#include <vector>

namespace slimtune::train {

const std::vector<recipe_detail::Key>& curate_keys();

} // namespace slimtune::train
