// The [curate] recipe keys (train/curate_keys.cpp), appended to the recipe's key table, and the
// recipe `slimtune curate` runs with.
#pragma once

#include "data/curate/profile.h"
#include "train/recipe.h"
#include "train/recipe_keys.h"

#include <string>
#include <vector>

namespace slimtune::train {

const std::vector<recipe_detail::Key>& curate_keys();

struct CurateRecipe {
    Recipe recipe;                       // recipe.curate: the settings applied, profile resolved
    data::curate::ProfileChoice profile; // which profile, and how it was chosen
};

// The recipe for curating `inputs`: the values of the profile (curate.profile; with auto, the
// one data::curate::choose_profile picks from the inputs' records, pretrain when there are
// none), then the [curate] section of `path` ("" for none) and the `overrides` on top, so that
// every key the user sets wins over the profile.
CurateRecipe load_curate_recipe(const std::string& path,
                                const std::vector<std::string>& overrides,
                                const std::vector<std::string>& inputs);

} // namespace slimtune::train
