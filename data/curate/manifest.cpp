#include "data/curate/manifest.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/text.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <openssl/evp.h>

namespace slimtune::data::curate {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Sha256 {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
    Sha256() {
        if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
            throw Error("SHA-256: OpenSSL could not start a digest");
    }
    void update(const void* data, std::size_t n) {
        if (EVP_DigestUpdate(ctx.get(), data, n) != 1)
            throw Error("SHA-256: OpenSSL digest update failed");
    }
    std::string hex() {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int len = 0;
        if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
            throw Error("SHA-256: OpenSSL digest failed");
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (unsigned int i = 0; i < len; ++i) {
            out.push_back(digits[md[i] >> 4]);
            out.push_back(digits[md[i] & 15]);
        }
        return out;
    }
};

std::string how_to_curate(const std::string& data_file) {
    return "curate it first: slimtune curate " + data_file +
           " --out DIR, then train on DIR/curated.jsonl";
}

} // namespace

std::string sha256_hex(std::string_view bytes) {
    Sha256 h;
    h.update(bytes.data(), bytes.size());
    return h.hex();
}

std::string sha256_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open file");
    Sha256 h;
    std::string buf(1 << 20, '\0');
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
    }
    if (in.bad())
        throw Error(path + ": read error");
    return h.hex();
}

CuratedData verify_curated(const std::string& data_file, const std::string& manifest_path) {
    CuratedData d;
    d.manifest_path = manifest_path.empty()
                          ? (fs::path(data_file).parent_path() / "manifest.json").string()
                          : manifest_path;
    std::error_code ec;
    if (!fs::exists(data_file, ec))
        throw ConfigError(data_file + ": no such data file");
    if (!fs::exists(d.manifest_path, ec))
        throw ConfigError(data_file + ": not curated (no manifest " + d.manifest_path + "); " +
                          how_to_curate(data_file));
    const std::string text = read_file(d.manifest_path, "manifest", kMaxSettingsFileBytes);
    check_json_depth(text, d.manifest_path);
    d.manifest = json::parse(text, nullptr, false);
    if (d.manifest.is_discarded() || !d.manifest.is_object() ||
        d.manifest.value("format", "") != kManifestFormat)
        throw ConfigError(d.manifest_path + ": not a slimtune curation manifest; " +
                          how_to_curate(data_file));
    const json* curated = nullptr;
    if (d.manifest.contains("outputs") && d.manifest["outputs"].is_object() &&
        d.manifest["outputs"].contains("curated.jsonl"))
        curated = &d.manifest["outputs"]["curated.jsonl"];
    if (!curated || !curated->is_object() || !curated->contains("sha256") ||
        !(*curated)["sha256"].is_string())
        throw ConfigError(d.manifest_path + ": records no curated.jsonl hash; " +
                          how_to_curate(data_file));
    const std::string want = (*curated)["sha256"].get<std::string>();
    const std::string got = sha256_file(data_file);
    if (got != want)
        throw ConfigError(data_file + ": SHA-256 " + got.substr(0, 12) +
                          "... does not match the curated file recorded in " + d.manifest_path +
                          " (" + want.substr(0, 12) +
                          "...): the file was edited or replaced after curation; " +
                          how_to_curate(data_file));
    d.manifest_sha256 = sha256_hex(text);
    return d;
}

} // namespace slimtune::data::curate
