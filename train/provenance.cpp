#include "train/provenance.h"

#include "common/error.h"

#include <filesystem>
#include <fstream>

namespace slimtune::train {

namespace fs = std::filesystem;
using nlohmann::json;

json read_provenance(const std::string& dir) {
    const fs::path p = fs::path(dir) / kProvenanceFile;
    std::error_code ec;
    if (dir.empty() || !fs::is_regular_file(p, ec))
        return nullptr;
    std::ifstream in(p);
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw FormatError(p.string() + ": not a JSON object");
    return j;
}

std::string trained_chat_template(const json& provenance) {
    if (!provenance.is_object())
        return {};
    const json& t = provenance.value("chat_template", json::object());
    return t.is_object() ? t.value("name", std::string()) : std::string();
}

} // namespace slimtune::train
