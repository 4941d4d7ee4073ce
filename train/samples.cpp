#include "train/samples.h"

#include "common/error.h"
#include "common/labels.h"
#include "model/generate.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace slimtune::train {

// Lines read step, example, prompt, text, tokens: the order a person reads them in.
using json = nlohmann::ordered_json;

std::span<const int32_t> example_prompt(const data::ExampleView& e) {
    size_t first_learned = 0;
    if (!e.labels.empty())
        while (first_learned < e.labels.size() && e.labels[first_learned] == kIgnoreLabel)
            ++first_learned;
    if (first_learned < 2 || first_learned >= e.ids.size())
        first_learned = std::max<size_t>(1, e.ids.size() / 2);
    return e.ids.first(std::min(first_learned, e.ids.size()));
}

std::string decode_known(const data::Tokenizer& tokenizer,
                         std::span<const int32_t> ids,
                         bool skip_special_tokens) {
    std::vector<int32_t> known;
    for (int32_t id : ids)
        if (id >= 0 && static_cast<size_t>(id) < tokenizer.vocab_size())
            known.push_back(id);
    return tokenizer.decode(known, {.skip_special_tokens = skip_special_tokens});
}

SampleWriter::SampleWriter(const data::TrainingData& data,
                           const data::Tokenizer* tokenizer,
                           int64_t count,
                           int64_t max_new_tokens,
                           std::string path)
    : data_(data), tokenizer_(tokenizer),
      count_(std::min(static_cast<size_t>(std::max<int64_t>(count, 0)), data.validation_size())),
      max_new_tokens_(max_new_tokens), path_(std::move(path)) {}

std::vector<Sample> SampleWriter::write(const Model& model, int64_t step) const {
    SamplingOptions greedy{.max_new_tokens = max_new_tokens_, .stop_ids = model.cfg.eos_token_ids};
    if (tokenizer_ && tokenizer_->eos_id())
        greedy.stop_ids.push_back(*tokenizer_->eos_id());
    std::vector<Sample> samples;
    if (count_ == 0)
        return samples;
    std::ofstream out(path_, std::ios::app);
    for (size_t k = 0; k < count_; ++k) {
        const std::span<const int32_t> prompt = example_prompt(data_.validation_example(k));
        Sample s{.example = k, .prompt = {prompt.begin(), prompt.end()}};
        SamplingOptions o = greedy;
        if (model.cfg.family == Family::Gpt2) // learned positions end at max_positions
            o.max_new_tokens = std::min<int64_t>(
                o.max_new_tokens, model.cfg.max_positions - static_cast<int64_t>(prompt.size()));
        if (o.max_new_tokens > 0)
            s.generated = generate(model, prompt, o);
        json line = {{"step", step}, {"example", k}};
        if (tokenizer_) {
            s.prompt_text = decode_known(*tokenizer_, s.prompt, false);
            s.text = decode_known(*tokenizer_, s.generated, true);
            line["prompt"] = s.prompt_text;
            line["text"] = s.text;
        } else {
            line["prompt_tokens"] = s.prompt;
        }
        line["tokens"] = s.generated;
        out << line.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
        samples.push_back(std::move(s));
    }
    if (!out)
        throw Error(path_ + ": cannot append");
    return samples;
}

} // namespace slimtune::train
