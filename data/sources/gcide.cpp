// The dictd text of GCIDE: an article starts with the headword at column 0 followed by its
// pronunciation between backslashes ("Fever \Fe"ver\ (f[=e]"v[~e]r), n. [etymology]"); its
// senses, notes, quotations and compounds follow, indented. A sense starts a paragraph or a
// numbered line ("   2. (Med.) ..."). Accent codes are bracketed ("[=e]", "['e]", "[ae]").
#include "data/sources/gcide.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <zlib.h>

namespace slimtune::data::gcide {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_space(s.back()))
        s.remove_suffix(1);
    return s;
}

// A diacritic mark in an accent code: "[=e]" (macron), "[~e]", "[.a]", "[-o]", "['e]",
// "["o]", "[`e]", "[,c]", "[*a]", "[e^]" (breve/circumflex after the letter).
bool is_accent_mark(char c) {
    return c == '=' || c == '~' || c == '.' || c == '-' || c == '\'' || c == '"' || c == '`' ||
           c == ',' || c == '*' || c == '^';
}

// Named codes that stand for letters or symbols in running text.
std::string_view named_code(std::string_view code) {
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 14> kNames{{
        {"ae", "ae"},
        {"AE", "Ae"},
        {"oe", "oe"},
        {"OE", "Oe"},
        {"imac", "i"},
        {"aum", "a"},
        {"eth", "th"},
        {"thorn", "th"},
        {"th", "th"},
        {"ng", "ng"},
        {"deg", " degrees"},
        {"root", "root"},
        {"sect", "section"},
        {"times", "x"},
    }};
    for (const auto& [name, text] : kNames)
        if (name == code)
            return text;
    return {};
}

// The letters of an accent code: a mark then one or two letters ("=e", "'E", "\"o"), or letters
// then a breve ("i^", "oo^"); empty when `code` is not one ("F.", "Obs.", "R.").
std::string accent_letters(std::string_view code) {
    const bool mark_first = !code.empty() && is_accent_mark(code.front());
    const bool breve_last = !code.empty() && code.back() == '^';
    if (mark_first == breve_last) // exactly one of the two forms
        return {};
    const std::string_view letters = mark_first ? code.substr(1) : code.substr(0, code.size() - 1);
    if (letters.empty() || letters.size() > 2)
        return {};
    for (char c : letters)
        if (!std::isalpha(static_cast<unsigned char>(c)))
            return {};
    return std::string(letters);
}

// Dictionary markup -> text: accent codes decoded, other bracketed spans (etymologies, usage and
// source tags) dropped, pronunciations between backslashes dropped, braces removed.
std::string strip_markup(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    int depth = 0; // inside [...] that is not an accent code: etymology or tag, dropped
    bool in_braces = false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '[') {
            const size_t close = s.find(']', i + 1);
            if (close != std::string_view::npos && close - i <= 7) {
                const std::string_view code = s.substr(i + 1, close - i - 1);
                std::string letters = accent_letters(code);
                const std::string_view named = letters.empty() ? named_code(code) : "";
                if (!letters.empty() || !named.empty()) {
                    if (depth == 0)
                        out += letters.empty() ? std::string(named) : letters;
                    i = close;
                    continue;
                }
            }
            ++depth;
            continue;
        }
        if (c == ']' && depth > 0) {
            --depth;
            continue;
        }
        // The dictionary is ASCII with bracketed accent codes; v0.48 has three stray CP1252
        // bytes, which would make the JSONL invalid UTF-8.
        if (depth > 0 || static_cast<unsigned char>(c) >= 0x80)
            continue;
        if (c == '\\') { // a pronunciation: skip to its closing backslash
            const size_t close = s.find('\\', i + 1);
            i = close == std::string_view::npos ? s.size() : close;
            continue;
        }
        if (c == '{' || c == '}') {
            in_braces = c == '{';
            continue;
        }
        if (in_braces && (c == '*' || c == '"' || c == '`')) // syllable and stress marks
            continue;
        out += c;
    }
    return out;
}

// A pronunciation left in parentheses once its accent codes are decoded: "(fe"ver)",
// "(a*ba"zhi*a; -zi*a)". Definitions' own parentheses have spaces and no syllable marks.
bool is_pronunciation(std::string_view inside) {
    return inside.find('*') != inside.npos ||
           (inside.find('"') != inside.npos && inside.find(' ') == inside.npos);
}

std::string drop_pronunciations(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '(') {
            const size_t close = s.find_first_of("()", i + 1);
            if (close != std::string::npos && s[close] == ')' && close - i < 80 &&
                is_pronunciation(std::string_view(s).substr(i + 1, close - i - 1))) {
                i = close;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

// Drops "--Shak." style attributions: a double dash followed by a capitalised name and a period.
std::string drop_attributions(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s.compare(i, 2, "--") == 0 && i + 2 < s.size() &&
            std::isupper(static_cast<unsigned char>(s[i + 2]))) {
            size_t end = i + 2;
            while (end < s.size() && s[end] != '.' && s[end] != '\n' && end - i < 40)
                ++end;
            if (end < s.size() && s[end] == '.') {
                i = end;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

std::string collapse_spaces(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : trim(s)) {
        if (is_space(c)) {
            space = true;
            continue;
        }
        if (space && !out.empty() && c != ',' && c != ';' && c != '.' && c != ')')
            out += ' ';
        space = false;
        out += c;
    }
    return out;
}

// The parenthesised labels of a span, such as "Med." in "1. (Med.) A diseased state".
bool has_medical_label(std::string_view s) {
    for (size_t open = s.find('('); open != std::string_view::npos; open = s.find('(', open + 1)) {
        const size_t close = s.find(')', open);
        if (close == std::string_view::npos)
            break;
        if (close - open < 40 && is_medical_label(s.substr(open + 1, close - open - 1)))
            return true;
    }
    return false;
}

// A column-0 line holding a headword and its pronunciation: "Fever \Fe"ver\ ...".
bool is_article_start(std::string_view line) {
    if (line.empty() || is_space(line[0]) || line[0] == '\\')
        return false;
    const size_t open = line.find(" \\");
    return open != std::string_view::npos && open < 80 && line.find('\\', open + 2) != line.npos;
}

// "   2. ..." : a numbered sense inside an article.
bool is_numbered_sense(std::string_view line) {
    size_t i = 0;
    while (i < line.size() && line[i] == ' ')
        ++i;
    if (i == 0 || i > 6)
        return false;
    size_t digits = i;
    while (digits < line.size() && std::isdigit(static_cast<unsigned char>(line[digits])))
        ++digits;
    return digits > i && digits - i <= 2 && line.substr(digits, 2) == ". ";
}

// A line that is only a source tag: "[1913 Webster]", "[PJC]", "[WordNet 1.5 +PJC]".
bool is_source_tag(std::string_view line) {
    const std::string_view t = trim(line);
    return t.size() >= 3 && t.front() == '[' && t.back() == ']' &&
           t.find('[', 1) == std::string_view::npos;
}

struct Article {
    std::string headword;
    std::string head;                // the headword line(s) up to the first sense, as plain text
    std::vector<std::string> senses; // raw markup of each sense
};

void add_documents(const Article& a, Corpus& corpus) {
    std::string general;
    for (const std::string& sense : a.senses) {
        const std::string text = plain_text(sense);
        if (text.empty())
            continue;
        if (has_medical_label(sense)) {
            corpus.medical.push_back({a.headword, a.head.empty() ? text : a.head + " " + text});
        } else {
            general += general.empty() ? "" : " ";
            general += text;
        }
    }
    if (!general.empty())
        corpus.general.push_back({a.headword, a.head.empty() ? general : a.head + " " + general});
    ++corpus.articles;
}

// The head of an article (headword, part of speech) and the sense its first line may begin.
void start_article(std::string_view line, Article& a) {
    a.headword = std::string(trim(line.substr(0, line.find(" \\"))));
    a.senses.emplace_back(line);
    a.senses.back() += '\n';
}

// The first "sense" holds the headword line; where it defines nothing beyond the part of
// speech and etymology ("Fever, n.") it becomes the article's head, prefixed to every sense.
void finish_article(Article& a, Corpus& corpus) {
    if (a.headword.empty())
        return;
    const std::string first = plain_text(a.senses.front());
    if (a.senses.size() > 1 && first.size() < a.headword.size() + 24 &&
        !has_medical_label(a.senses.front())) {
        a.head = first;
        a.senses.erase(a.senses.begin());
    }
    add_documents(a, corpus);
    a = Article{};
}

std::string decompress(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr)
        throw FormatError(path + ": cannot open the dictionary (install Debian's dict-gcide)");
    std::string text;
    std::array<char, 1 << 16> buffer{};
    // GCIDE is 40 MB of text; a file inflating past 256 MB is not the dictionary.
    constexpr size_t kMaxBytes = size_t{256} << 20;
    for (;;) {
        const int n = gzread(f, buffer.data(), static_cast<unsigned>(buffer.size()));
        if (n < 0) {
            gzclose(f);
            throw FormatError(path + ": not a readable gzip/dictzip file");
        }
        if (n == 0)
            break;
        text.append(buffer.data(), static_cast<size_t>(n));
        if (text.size() > kMaxBytes) {
            gzclose(f);
            throw FormatError(path + ": inflates past 256 MB, not the GCIDE dictionary");
        }
    }
    gzclose(f);
    return text;
}

} // namespace

bool is_medical_label(std::string_view label) {
    // The label's first word, abbreviated or not: "Physiol. Chem." -> "Physiol".
    static constexpr std::array<std::string_view, 21> kFields{
        "Med",    "Medicine",  "Medical", "Anat",       "Anatomy", "Physiol",  "Physiology",
        "Pathol", "Pathology", "Surg",    "Surgery",    "Pharm",   "Pharmacy", "Dent",
        "Dental", "Dentistry", "Obstet",  "Obstetrics", "Vet",     "Veter",    "Veterinary"};
    label = trim(label);
    size_t end = 0;
    while (end < label.size() && std::isalpha(static_cast<unsigned char>(label[end])))
        ++end;
    const std::string_view word = label.substr(0, end);
    for (std::string_view field : kFields)
        if (word == field)
            return true;
    return word == "Physiological"; // "(Physiological Chem.)"
}

namespace {

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : s)
        h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return h;
}

} // namespace

bool is_general_heldout(std::string_view headword) {
    return fnv1a(headword) % 50 == 0;
}

bool is_medical_heldout(std::string_view headword) {
    return fnv1a(headword) / 50 % 10 == 0;
}

Splits split_corpus(const Corpus& corpus) {
    Splits s;
    for (const Document& d : corpus.general)
        (is_general_heldout(d.headword) ? s.general_heldout : s.pretrain).push_back(&d);
    for (const Document& d : corpus.medical)
        (is_medical_heldout(d.headword) ? s.medical_heldout : s.medical).push_back(&d);
    return s;
}

void write_jsonl(const std::string& path, const std::vector<const Document*>& documents) {
    write_file_atomic(path, [&](std::ostream& os) {
        for (const Document* d : documents)
            os << nlohmann::json{{"text", d->text}, {"source", "gcide:" + d->headword}}.dump()
               << "\n";
    });
}

std::string plain_text(std::string_view markup) {
    return collapse_spaces(drop_pronunciations(drop_attributions(strip_markup(markup))));
}

Corpus parse_corpus(std::string_view text) {
    Corpus corpus;
    Article a;
    bool blank_before = false;
    for (size_t pos = 0; pos < text.size();) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos)
            end = text.size();
        const std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (trim(line).empty()) {
            blank_before = true;
            continue;
        }
        if (is_article_start(line)) {
            finish_article(a, corpus);
            start_article(line, a);
        } else if (!a.headword.empty() && !is_source_tag(line)) {
            if (blank_before || is_numbered_sense(line))
                a.senses.emplace_back();
            a.senses.back() += line;
            a.senses.back() += '\n';
        }
        blank_before = false;
    }
    finish_article(a, corpus);
    return corpus;
}

Corpus read_corpus(const std::string& path) {
    Corpus corpus = parse_corpus(decompress(path));
    if (corpus.articles == 0)
        throw FormatError(path + ": no dictionary article found (expected GCIDE's dictd text)");
    return corpus;
}

} // namespace slimtune::data::gcide
