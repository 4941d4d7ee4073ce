// Fuzz harness: One JSONL dataset line in every format: the record, its text and its chat messages.
#include "data/dataset_format.h"
#include "fuzz/fuzz_util.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return guarded([&] {
        const data::RecordOptions options;
        try {
            const data::Record r = data::parse_record(as_text(data, size), options);
            data::record_text(r, options);
            if (r.format != data::DatasetFormat::tokens && r.format != data::DatasetFormat::text)
                data::record_messages(r, options);
        } catch (const data::RecordError&) {
            // parse_record's refusal of one line (its callers name the file and line)
        }
    });
}
