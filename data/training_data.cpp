#include "data/training_data.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/labels.h"
#include "common/text.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <ostream>
#include <string_view>
#include <unordered_map>

namespace slimtune::data {

namespace fs = std::filesystem;

namespace {

// Distinct streams of the run's seed for the split and the shuffle (dropout and adapter init
// draw from others), so changing one never moves another.
constexpr uint64_t kSplitStream = 0x76616c6964ULL;       // "valid"
constexpr uint64_t kShuffleStream = 0x73687566666c65ULL; // "shuffle"

// Tokenizes one JSONL file into a store and says what it read; `bad_lines` receives the line
// numbers of the malformed lines skipped.
TokenStore build_store(const std::string& jsonl,
                       const ExampleOptions& options,
                       const std::string& store_path,
                       std::ostream& progress,
                       std::vector<std::int64_t>& bad_lines) {
    ExampleStats st;
    TokenStore store = TokenStore::build(jsonl, options, store_path, &st);
    bad_lines = st.bad_line_numbers;
    std::string formats;
    for (const auto& [name, n] : st.formats)
        formats += (formats.empty() ? "" : ", ") + std::to_string(n) + " " + name;
    progress << jsonl << ": " << st.examples << " examples (" << formats << ")";
    if (st.bad_lines > 0) // skipped by data.on_bad_line = skip: counted, never silent
        progress << ", " << st.bad_lines << " malformed lines skipped; the first: " << st.first_bad;
    progress << "\n";
    return store;
}

std::function<ExampleView(std::size_t)> views_of(const TokenStore& store) {
    return [&store](std::size_t i) { return ExampleView{store.ids(i), store.labels(i)}; };
}

} // namespace

std::vector<std::size_t> seeded_permutation(std::size_t n, Rng rng) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i)
        std::swap(order[i - 1], order[rng.next_u64() % i]);
    return order;
}

TrainingData::TrainingData(TrainingDataConfig config, uint64_t seed, TokenStore train)
    : config_(std::move(config)), seed_(seed), train_store_(std::move(train)) {}

TrainingData TrainingData::open(const TrainingDataConfig& config,
                                const ExampleOptions& options,
                                uint64_t seed,
                                const std::string& store_dir,
                                std::ostream& progress) {
    std::error_code ec;
    fs::create_directories(store_dir, ec);
    std::vector<std::int64_t> train_bad_lines;
    TrainingData d(config, seed,
                   build_store(config.train, options, (fs::path(store_dir) / "train.bin").string(),
                               progress, train_bad_lines));
    d.validation_bad_lines_ = std::move(train_bad_lines);
    if (!config.validation.empty()) {
        d.validation_store_.emplace(build_store(config.validation, options,
                                                (fs::path(store_dir) / "validation.bin").string(),
                                                progress, d.validation_bad_lines_));
        d.validation_pool_.resize(d.validation_store_->size());
        std::iota(d.validation_pool_.begin(), d.validation_pool_.end(), std::size_t{0});
    }
    // The seeded split: the same examples are held out on every run and every resume.
    const std::size_t n = d.train_store_.size();
    std::vector<bool> held(n, false);
    if (config.validation.empty() && config.validation_split > 0.0) {
        const auto want =
            static_cast<std::size_t>(std::ceil(config.validation_split * static_cast<double>(n)));
        const std::vector<std::size_t> idx = seeded_permutation(n, Rng(seed ^ kSplitStream));
        for (std::size_t i = 0; i < want && i < idx.size(); ++i)
            held[idx[i]] = true;
    }
    for (std::size_t i = 0; i < n; ++i)
        (held[i] ? d.validation_pool_ : d.train_pool_).push_back(i);
    if (d.train_pool_.empty())
        throw ConfigError(config.train + ": no training examples");
    // A label predicts its token from the ones before it, so position 0 never counts. Data
    // whose every label is masked trained on 0 tokens and still wrote an adapter.
    const bool learns_something =
        std::any_of(d.train_pool_.begin(), d.train_pool_.end(), [&](std::size_t i) {
            const auto labels = d.train_store_.labels(i);
            return std::any_of(labels.begin() + std::min<std::ptrdiff_t>(1, std::ssize(labels)),
                               labels.end(), [](std::int32_t l) { return l != kIgnoreLabel; });
        });
    if (!learns_something)
        throw ConfigError(config.train + ": every label of every training example is masked (" +
                          std::to_string(d.train_pool_.size()) +
                          " examples, 0 tokens to learn); check data.train_on and the labels");
    return d;
}

PackPlan TrainingData::epoch_plan(int64_t epoch) const {
    std::vector<std::size_t> order = train_pool_;
    if (config_.shuffle) {
        const std::vector<std::size_t> perm = seeded_permutation(
            train_pool_.size(), Rng(seed_ ^ kShuffleStream, static_cast<uint64_t>(epoch) << 40));
        for (std::size_t j = 0; j < perm.size(); ++j)
            order[j] = train_pool_[perm[j]];
    }
    return plan_packing(
        order, [this](std::size_t i) { return train_store_.length(i); }, config_.packing);
}

TokenBatch TrainingData::train_batch(const PackPlan& plan, std::size_t b) const {
    return make_batch(plan, b, views_of(train_store_));
}

const TokenStore& TrainingData::validation_store() const {
    return validation_store_ ? *validation_store_ : train_store_;
}

std::vector<TokenBatch> TrainingData::validation_batches(int64_t max_batches) const {
    std::vector<TokenBatch> out;
    if (validation_pool_.empty())
        return out;
    const TokenStore& store = validation_store();
    const PackPlan plan = plan_packing(
        validation_pool_, [&](std::size_t i) { return store.length(i); }, config_.packing);
    std::size_t nb = plan.batches();
    if (max_batches > 0)
        nb = std::min(nb, static_cast<std::size_t>(max_batches));
    for (std::size_t b = 0; b < nb; ++b)
        out.push_back(make_batch(plan, b, views_of(store)));
    return out;
}

ExampleView TrainingData::validation_example(std::size_t k) const {
    const std::size_t i = validation_pool_.at(k);
    return {validation_store().ids(i), validation_store().labels(i)};
}

bool TrainingData::write_validation_records(const std::string& path) const {
    if (validation_pool_.empty())
        return false;
    const std::string& source = config_.validation.empty() ? config_.train : config_.validation;
    std::ifstream in = open_regular_file(source, "file");
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    // validation_pool_ is ascending, and so are the examples of the file's lines.
    auto next_held = validation_pool_.begin();
    write_file_atomic(path, [&](std::ostream& out) {
        std::string line;
        std::size_t example = 0;
        for (std::int64_t number = 1;
             next_held != validation_pool_.end() && read_line(in, line, source, number); ++number) {
            if (line.find_first_not_of(" \t\r") == std::string::npos ||
                std::binary_search(validation_bad_lines_.begin(), validation_bad_lines_.end(),
                                   number))
                continue;
            if (example++ == *next_held) {
                out << line << "\n";
                ++next_held;
            }
        }
    });
    if (next_held != validation_pool_.end())
        throw Error(source + ": changed while training read it (fewer records than examples)");
    return true;
}

std::int64_t TrainingData::validation_overlap() const {
    const auto bytes = [](std::span<const std::int32_t> ids) {
        return std::string_view(reinterpret_cast<const char*>(ids.data()), ids.size_bytes());
    };
    // Hash of a training example's ids -> the example, then an exact comparison on a hit.
    std::unordered_map<std::size_t, std::size_t> train;
    train.reserve(train_pool_.size());
    for (std::size_t i : train_pool_)
        train.emplace(std::hash<std::string_view>{}(bytes(train_store_.ids(i))), i);
    std::int64_t overlap = 0;
    for (std::size_t k = 0; k < validation_pool_.size(); ++k) {
        const std::string_view v = bytes(validation_example(k).ids);
        const auto hit = train.find(std::hash<std::string_view>{}(v));
        overlap += hit != train.end() && bytes(train_store_.ids(hit->second)) == v;
    }
    return overlap;
}

} // namespace slimtune::data
