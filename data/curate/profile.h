// Curation profiles: the settings `slimtune curate` starts from, before the recipe's [curate]
// keys and the --curate.KEY options (which always win). A profile suits a kind of data:
//   pretrain  web-scale prose: datatrove's Gopher defaults (the values of CurateConfig{})
//   sft       fine-tuning data (instructions, chat, Q&A): the Gopher quality rules that judge
//             whether a text reads as a long web page (50 words at least, two English stop
//             words, 80 % alphabetic tokens, mostly non-bullet lines ...) are off or loosened,
//             so that a one-sentence answer, a dose, a list or a code reply passes; the rules
//             that catch broken records (symbol and ellipsis ratios, word length) stay.
// Both share the repetition stage's minimum length (repetition.min_words). The profile "auto"
// is chosen from the records (choose_profile) before the keys are applied.
#pragma once

#include "data/curate/config.h"

#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data::curate {

// "auto", "sft", "pretrain": the values of the curate.profile key.
const std::vector<std::string>& curate_profile_names();

// The settings of profile "sft" or "pretrain", with config.profile set to it; ConfigError for
// another name.
CurateConfig profile_config(std::string_view profile);

// The profile that suits records of format `f`: sft for prompt_completion, alpaca, messages and
// sharegpt; pretrain for text; "" for tokens (no text stage reads them) and automatic.
std::string profile_for_format(DatasetFormat f);

struct ProfileChoice {
    std::string profile; // "sft" or "pretrain"
    std::string reason;  // how it was chosen, for the command's message
};

// What curate.profile "auto" means for `inputs` read with `record`: the profile of the named
// format, or, with format auto, sft when at least as many of the first kProfileSample records
// of each input are chat, Alpaca or prompt/completion records as text records (pre-tokenized
// and malformed lines do not count), else pretrain. A missing input is left to curate_files
// to report.
inline constexpr int kProfileSample = 1000;
ProfileChoice choose_profile(const std::vector<std::string>& inputs, const RecordOptions& record);

} // namespace slimtune::data::curate
