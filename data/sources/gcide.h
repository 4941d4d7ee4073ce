// GCIDE, the Collaborative International Dictionary of English (Webster 1913 plus additions), as
// Debian's dict-gcide installs it for dictd: the text of the embedded default's corpora.
// Each article is split into senses; a sense whose field label names medicine (Med., Anat.,
// Physiol., Pathol., Surg., Pharm., Dent., Obstet., Vet.) is a medical document, every other
// sense of the article goes into one general document. The dictionary's markup (pronunciations,
// accent codes, etymologies, source tags, cross-reference braces) is reduced to plain prose; its
// real defects (repeated articles under variant headwords, one-line "see X" entries, archaic
// spellings) are kept: they are what curation is for.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data::gcide {

// Where Debian's dict-gcide puts the dictionary (gzip-compatible dictzip).
inline constexpr const char* kDebianPath = "/usr/share/dictd/gcide.dict.dz";

struct Document {
    std::string headword;
    std::string text;
};

struct Corpus {
    std::vector<Document> general; // one per article with any non-medical sense
    std::vector<Document> medical; // one per medical sense
    int64_t articles = 0;
};

// Reads the dictionary at `path` (gzip-compressed or plain text). Throws FormatError naming the
// file when it cannot be read or holds no article.
Corpus read_corpus(const std::string& path);

// Splits dictionary text (already decompressed) into documents.
Corpus parse_corpus(std::string_view text);

// Plain prose from a span of dictionary markup: accent codes decoded, bracketed etymologies and
// source tags dropped, cross-reference braces removed, whitespace collapsed.
std::string plain_text(std::string_view markup);

// True for the 1 in 50 headwords whose general documents are held out of pretraining, to measure
// how fine-tuning changes general text (FNV-1a of the headword, so the split never changes).
bool is_general_heldout(std::string_view headword);

// True for the 1 in 10 headwords whose medical senses are held out of fine-tuning, to measure
// what it gained (the same hash, an independent digit of it). Every sense of a headword falls on
// the same side, so no definition is scored against a sibling sense it was trained on.
bool is_medical_heldout(std::string_view headword);

// The embedded default's four data sets, as documents of one corpus (which must outlive them).
struct Splits {
    std::vector<const Document*> pretrain, general_heldout, medical, medical_heldout;
};
Splits split_corpus(const Corpus& corpus);

// One {"text": ..., "source": "gcide:HEADWORD"} line per document, written atomically.
void write_jsonl(const std::string& path, const std::vector<const Document*>& documents);

// True when a parenthesised field label such as "Med." or "Physiol. Chem." names medicine.
bool is_medical_label(std::string_view label);

} // namespace slimtune::data::gcide
