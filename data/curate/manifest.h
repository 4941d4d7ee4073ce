// The curation manifest and the gate built on it. `slimtune curate` writes manifest.json next to
// curated.jsonl: the SHA-256 of every input and output file, the profile and every setting as
// applied (what the model card quotes), the stage list with its settings and counts, and the
// slimtune version. `slimtune train` accepts a data file only when a
// manifest vouches for it (verify_curated): the file's SHA-256 must equal the one recorded for
// curated.jsonl, so an uncurated, edited or swapped file is refused. The SHA-256 of the
// manifest itself identifies the dataset in checkpoints, adapters and exports.
// SHA-256 comes from OpenSSL's libcrypto (FIPS-validated, SHA-NI/AVX2 accelerated).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace slimtune::data::curate {

inline constexpr const char* kManifestFormat = "slimtune.curation-manifest";
inline constexpr int kManifestVersion = 1;

// Lower-case hex SHA-256 of bytes / of a file's contents (Error naming an unreadable file).
std::string sha256_hex(std::string_view bytes);
std::string sha256_file(const std::string& path);

struct CuratedData {
    std::string manifest_path;
    std::string manifest_sha256; // what checkpoints, adapters and exports record
    nlohmann::json manifest;
};

// The gate. `manifest_path` "" means manifest.json beside data_file. Throws ConfigError, naming
// the file and saying how to curate it, when the manifest is missing, is not a slimtune
// curation manifest, or does not record data_file's SHA-256 as its curated output.
CuratedData verify_curated(const std::string& data_file, const std::string& manifest_path = "");

} // namespace slimtune::data::curate
