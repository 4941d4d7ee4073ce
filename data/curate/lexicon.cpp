#include "data/curate/lexicon.h"

#include "common/error.h"
#include "common/text.h"
#include "data/curate/words.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace slimtune::data::curate {

namespace {

enum class FileKind { kTerms, kKeyed, kTermPairs, kOptionalKey };

bool starts_with_kind(std::string_view name, std::string_view prefix) {
    if (!name.starts_with(prefix) || !name.ends_with(".txt"))
        return false;
    const std::string_view stem = name.substr(prefix.size(), name.size() - prefix.size() - 4);
    return !stem.empty() && std::all_of(stem.begin(), stem.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

FileKind kind_of(const std::string& name, const std::string& source) {
    if (name == "identity_terms.txt" || starts_with_kind(name, "toxicity_"))
        return FileKind::kTerms;
    if (starts_with_kind(name, "groups_"))
        return FileKind::kKeyed;
    if (starts_with_kind(name, "pairs_"))
        return FileKind::kTermPairs;
    if (starts_with_kind(name, "attributes_"))
        return FileKind::kOptionalKey;
    throw ConfigError(source + ": unknown word list name " + name_text(name) +
                      "; expected identity_terms.txt, toxicity_<name>.txt, groups_<name>.txt, "
                      "pairs_<name>.txt or attributes_<name>.txt (<name> in [a-z0-9_])");
}

std::string_view trim(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\r' || c == '\t'; };
    while (!s.empty() && space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && space(s.back()))
        s.remove_suffix(1);
    return s;
}

const char* expected_format(FileKind kind) {
    switch (kind) {
    case FileKind::kTerms:
        return "'term'";
    case FileKind::kKeyed:
        return "'group<TAB>term'";
    case FileKind::kTermPairs:
        return "'term_a<TAB>term_b'";
    case FileKind::kOptionalKey:
        return "'attribute<TAB>term' or 'term'";
    }
    return "";
}

LexiconEntry parse_line(std::string_view line, FileKind kind, const std::string& where) {
    const auto bad = [&](const std::string& what) {
        return FormatError(where + ": " + what + "; expected " + expected_format(kind) + ", got " +
                           name_text(line));
    };
    LexiconEntry entry;
    entry.where = where;
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
        if (kind == FileKind::kKeyed || kind == FileKind::kTermPairs)
            throw bad("missing TAB");
        entry.term = std::string(trim(line));
    } else {
        if (kind == FileKind::kTerms)
            throw bad("unexpected TAB");
        if (line.find('\t', tab + 1) != std::string_view::npos)
            throw bad("more than one TAB");
        entry.key = std::string(trim(line.substr(0, tab)));
        entry.term = std::string(trim(line.substr(tab + 1)));
        if (entry.key.empty())
            throw bad("empty field before the TAB");
    }
    if (entry.term.empty())
        throw bad("empty term");
    if (!is_plain_phrase(entry.term))
        throw bad("term " + name_text(entry.term) +
                  " has characters outside words (letters, numbers, marks, inner ' and -)");
    if (kind == FileKind::kTermPairs && !is_plain_phrase(entry.key))
        throw bad("term " + name_text(entry.key) +
                  " has characters outside words (letters, numbers, marks, inner ' and -)");
    return entry;
}

} // namespace

const LexiconFile* Lexicon::find(std::string_view name) const {
    const auto it = files.find(name);
    return it == files.end() ? nullptr : &it->second;
}

std::vector<std::string> Lexicon::names_with_prefix(std::string_view prefix) const {
    std::vector<std::string> names;
    for (const auto& [name, file] : files)
        if (std::string_view(name).starts_with(prefix))
            names.push_back(name);
    return names; // std::map keeps them sorted
}

void Lexicon::add_file(const std::string& name,
                       std::string_view contents,
                       const std::string& source,
                       bool replace) {
    const FileKind kind = kind_of(name, source);
    if (!is_valid_utf8(contents))
        throw FormatError(source + ": word list is not valid UTF-8");
    if (contents.starts_with("\xEF\xBB\xBF")) // a byte-order mark some editors write
        contents.remove_prefix(3);
    LexiconFile parsed;
    parsed.name = name;
    std::size_t line_no = 0;
    for (std::size_t pos = 0; pos < contents.size();) {
        std::size_t end = contents.find('\n', pos);
        if (end == std::string_view::npos)
            end = contents.size();
        const std::string_view line = contents.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        const std::string_view stripped = trim(line);
        if (stripped.empty() || stripped.front() == '#')
            continue;
        parsed.entries.push_back(parse_line(line, kind, source + ":" + std::to_string(line_no)));
    }
    auto it = files.find(name);
    if (it == files.end() || replace) {
        files[name] = std::move(parsed);
    } else {
        auto& entries = it->second.entries;
        entries.insert(entries.end(), std::make_move_iterator(parsed.entries.begin()),
                       std::make_move_iterator(parsed.entries.end()));
    }
}

Lexicon load_lexicons(const std::string& user_dir, bool replace) {
    Lexicon lexicon;
    for (const auto& [name, contents] : embedded_lexicons())
        lexicon.add_file(std::string(name), contents, "lexicons/" + std::string(name), true);
    if (user_dir.empty())
        return lexicon;
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(user_dir, ec))
        throw Error("lexicon directory " + name_text(user_dir) + ": not found or not a directory");
    std::vector<fs::path> paths;
    for (fs::directory_iterator it(user_dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".txt" && it->is_regular_file(ec))
            paths.push_back(it->path());
    if (ec)
        throw Error("lexicon directory " + name_text(user_dir) + ": " + ec.message());
    std::sort(paths.begin(), paths.end());
    for (const fs::path& path : paths)
        lexicon.add_file(path.filename().string(), read_file(path, "word list"), path.string(),
                         replace);
    return lexicon;
}

} // namespace slimtune::data::curate
