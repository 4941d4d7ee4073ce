// The word lists behind the toxicity screen and the bias measures (curation.md §7, §8). Defaults
// ship inside the binary (data/curate/lexicons/*.txt, embedded at build time by
// embed_lexicons.cmake), so `slimtune curate` needs no files at run time; a user directory can
// replace or extend any of them.
//
// File format: UTF-8 text, one entry per line; lines starting with '#' and blank lines are
// skipped. The file name says what the file is and how its lines look:
//   identity_terms.txt, toxicity_<category>.txt   term
//   groups_<axis>.txt                             group<TAB>term
//   pairs_<axis>.txt                              term_a<TAB>term_b   (CDA swap pair, a then b)
//   attributes_<kind>.txt                         attribute<TAB>term, or term (attribute = term)
// A term is one or more words separated by spaces (see words.h); matching is whole-word and
// case-folded, so terms are written in lower case by convention.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slimtune::data::curate {

struct LexiconEntry {
    std::string key;   // group, first pair term or attribute; empty in one-column files
    std::string term;  // the term (second pair term in pairs files)
    std::string where; // "file:line", for error messages
};

struct LexiconFile {
    std::string name; // e.g. "groups_gender.txt"
    std::vector<LexiconEntry> entries;
};

struct Lexicon {
    std::map<std::string, LexiconFile, std::less<>> files; // by name

    const LexiconFile* find(std::string_view name) const;
    // Names of the files starting with `prefix` (e.g. "attributes_"), sorted.
    std::vector<std::string> names_with_prefix(std::string_view prefix) const;

    // Parses `contents` as file `name` (its format chosen by the name) and adds it, replacing an
    // existing file of that name (replace) or appending to it. `source` names the file in
    // errors. Throws ConfigError for a name of no known kind, FormatError "source:line: ..." for
    // a malformed line or invalid UTF-8.
    void add_file(const std::string& name,
                  std::string_view contents,
                  const std::string& source,
                  bool replace);
};

// The shipped lists: (file name, contents), sorted by name. Defined in the .cpp file that
// embed_lexicons.cmake generates at build time.
const std::vector<std::pair<std::string_view, std::string_view>>& embedded_lexicons();

// The embedded defaults, then every *.txt file of `user_dir` (when not empty) replacing
// (replace) or extending the default of the same name; files with new names are added. Throws
// Error when user_dir is not a readable directory, and add_file's errors.
Lexicon load_lexicons(const std::string& user_dir = {}, bool replace = false);

} // namespace slimtune::data::curate
