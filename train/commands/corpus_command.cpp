// `slimtune corpus`: the embedded default's text, from Debian's GCIDE dictionary (dict-gcide):
// general prose to pretrain on, general prose held out of pretraining, and the medical senses,
// held out of both, as the raw domain data to curate and fine-tune on (one medical headword in 10
// held out of that too, to score the fine-tuning).
#include "common/atomic_file.h"
#include "common/error.h"
#include "data/sources/gcide.h"
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"

#include <cstdio>

namespace slimtune::train {

namespace po = boost::program_options;

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
    // The four files appear together, replacing an earlier set whole, or not at all.
    StagedDirectory stage(out_dir);
    using data::gcide::write_jsonl;
    write_jsonl(stage.file("general.jsonl"), splits.pretrain);
    write_jsonl(stage.file("general-heldout.jsonl"), splits.general_heldout);
    write_jsonl(stage.file("medical.jsonl"), splits.medical);
    write_jsonl(stage.file("medical-heldout.jsonl"), splits.medical_heldout);
    stage.publish();
    std::printf("corpus: %lld articles of %s -> %s/general.jsonl (%zu documents), "
                "general-heldout.jsonl (%zu), medical.jsonl (%zu), medical-heldout.jsonl (%zu)\n",
                static_cast<long long>(corpus.articles), dictionary.c_str(), out_dir.c_str(),
                splits.pretrain.size(), splits.general_heldout.size(), splits.medical.size(),
                splits.medical_heldout.size());
    return 0;
}

} // namespace slimtune::train
