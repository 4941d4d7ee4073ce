#include "data/curate/profile.h"

#include "common/error.h"
#include "common/text.h"

#include <filesystem>
#include <fstream>

namespace slimtune::data::curate {

const std::vector<std::string>& curate_profile_names() {
    static const std::vector<std::string> names{"auto", "sft", "pretrain"};
    return names;
}

CurateConfig profile_config(std::string_view profile) {
    CurateConfig c; // pretrain: datatrove's Gopher defaults
    if (profile == "pretrain")
        return c;
    if (profile != "sft")
        throw ConfigError("curate.profile: unknown profile '" + std::string(profile) +
                          "'; expected sft or pretrain");
    c.profile = "sft";
    GopherQualityConfig& q = c.quality;
    q.min_words = 1;               // a one-word answer is an answer (length bounds it further)
    q.min_mean_word_length = 1.5;  // "I am ok", "5 mg" pass; one-letter token spam does not
    q.max_mean_word_length = 20;   // URLs and drug names in short answers; blobs still fail
    q.max_symbol_word_ratio = 0.5; // Markdown headings and code comments
    q.max_ellipsis_word_ratio = 0.3;
    q.max_bullet_lines_ratio = 1;   // a list is a normal answer
    q.max_ellipsis_lines_ratio = 1; // "Let me think..." in a two-line chat
    q.min_alpha_words_ratio = 0;    // numbers, formulas, code and JSON replies
    q.min_stop_words = 0;           // short answers, code, other languages
    return c;
}

std::string profile_for_format(DatasetFormat f) {
    switch (f) {
    case DatasetFormat::prompt_completion:
    case DatasetFormat::alpaca:
    case DatasetFormat::messages:
    case DatasetFormat::sharegpt:
        return "sft";
    case DatasetFormat::text:
        return "pretrain";
    case DatasetFormat::tokens:
    case DatasetFormat::automatic:
        break;
    }
    return "";
}

ProfileChoice choose_profile(const std::vector<std::string>& inputs, const RecordOptions& record) {
    if (record.format != DatasetFormat::automatic) {
        const std::string p = profile_for_format(record.format);
        return {p.empty() ? "pretrain" : p, "from curate.format = " + format_name(record.format)};
    }
    int64_t sft = 0, text = 0;
    for (const std::string& path : inputs) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec))
            continue; // curate_files names it
        std::ifstream in = open_regular_file(path, "file");
        std::string line;
        for (int64_t n = 0, line_no = 1; n < kProfileSample && read_line(in, line, path, line_no);
             ++line_no) {
            if (line.find_first_not_of(" \t\r") == std::string::npos)
                continue;
            ++n;
            try {
                const std::string p = profile_for_format(parse_record(line, record).format);
                sft += p == "sft";
                text += p == "pretrain";
            } catch (const RecordError&) {
                // A malformed line says nothing about the dataset's kind.
            }
        }
    }
    const std::string counts = std::to_string(sft) +
                               " chat, instruction or prompt/completion "
                               "records and " +
                               std::to_string(text) + " text records among the first " +
                               std::to_string(kProfileSample) + " of each input";
    if (sft > 0 && sft >= text)
        return {"sft", counts};
    return {"pretrain", counts};
}

} // namespace slimtune::data::curate
