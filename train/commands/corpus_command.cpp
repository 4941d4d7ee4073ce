// `slimtune corpus`: the embedded default's text, from Debian's GCIDE dictionary (dict-gcide):
// general prose to pretrain on, general prose held out of pretraining, and the medical senses,
// held out of both, as the raw domain data to curate and fine-tune on.
#include "common/atomic_file.h"
#include "common/error.h"
#include "data/sources/gcide.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace slimtune::train {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// One {"text": ..., "source": ...} line per document.
void write_jsonl(const fs::path& path, const std::vector<const data::gcide::Document*>& docs) {
    write_file_atomic(path.string(), [&](std::ostream& os) {
        for (const data::gcide::Document* d : docs)
            os << nlohmann::json{{"text", d->text}, {"source", "gcide:" + d->headword}}.dump()
               << "\n";
    });
}

} // namespace

int run_corpus(const std::vector<std::string>& args) {
    std::string dictionary = data::gcide::kDebianPath, out_dir;
    po::options_description opts(
        "slimtune corpus --out DIR: general and medical text from Debian's GCIDE dictionary "
        "(dict-gcide), as JSONL for tokenizer-train, curate and train");
    opts.add_options()("out", po::value(&out_dir)->required(), "output directory")(
        "dictionary", po::value(&dictionary)->default_value(dictionary),
        "the dictd file of GCIDE (gzip/dictzip or plain text)");
    po::variables_map vm;
    if (!parse_options(args, opts, vm))
        return 0;
    const data::gcide::Corpus corpus = data::gcide::read_corpus(dictionary);
    std::vector<const data::gcide::Document*> pretrain, heldout, medical;
    for (const auto& d : corpus.general)
        (data::gcide::is_general_heldout(d.headword) ? heldout : pretrain).push_back(&d);
    for (const auto& d : corpus.medical)
        medical.push_back(&d);
    if (std::error_code ec; !fs::create_directories(out_dir, ec) && ec)
        throw Error(out_dir + ": cannot create the directory: " + ec.message());
    const fs::path out(out_dir);
    write_jsonl(out / "general.jsonl", pretrain);
    write_jsonl(out / "general-heldout.jsonl", heldout);
    write_jsonl(out / "medical.jsonl", medical);
    std::printf("corpus: %lld articles of %s -> %s/general.jsonl (%zu documents), "
                "general-heldout.jsonl (%zu), medical.jsonl (%zu)\n",
                static_cast<long long>(corpus.articles), dictionary.c_str(), out_dir.c_str(),
                pretrain.size(), heldout.size(), medical.size());
    return 0;
}

} // namespace slimtune::train
