// `slimtune corpus`: the embedded default's text, from Debian's GCIDE dictionary (dict-gcide):
// general prose to pretrain on, general prose held out of pretraining, and the medical senses,
// held out of both, as the raw domain data to curate and fine-tune on.
#include "common/error.h"
#include "data/sources/gcide.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"

#include <cstdio>
#include <filesystem>

namespace slimtune::train {

namespace po = boost::program_options;
namespace fs = std::filesystem;

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
    const data::gcide::Splits splits = data::gcide::split_corpus(corpus);
    if (std::error_code ec; !fs::create_directories(out_dir, ec) && ec)
        throw Error(out_dir + ": cannot create the directory: " + ec.message());
    const fs::path out(out_dir);
    using data::gcide::write_jsonl;
    write_jsonl((out / "general.jsonl").string(), splits.pretrain);
    write_jsonl((out / "general-heldout.jsonl").string(), splits.general_heldout);
    write_jsonl((out / "medical.jsonl").string(), splits.medical);
    write_jsonl((out / "medical-heldout.jsonl").string(), splits.medical_heldout);
    std::printf("corpus: %lld articles of %s -> %s/general.jsonl (%zu documents), "
                "general-heldout.jsonl (%zu), medical.jsonl (%zu), medical-heldout.jsonl (%zu)\n",
                static_cast<long long>(corpus.articles), dictionary.c_str(), out_dir.c_str(),
                splits.pretrain.size(), splits.general_heldout.size(), splits.medical.size(),
                splits.medical_heldout.size());
    return 0;
}

} // namespace slimtune::train
