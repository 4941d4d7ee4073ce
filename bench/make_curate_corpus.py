#!/usr/bin/env python3
"""Writes the JSONL corpus of the curation throughput benchmark (bench/run_curate.sh).

    /usr/bin/python3 bench/make_curate_corpus.py OUT.jsonl [--mb 120] [--seed 1] [--labels L.tsv]

Standard library only, nothing fetched. The text is real English prose found offline on a Debian
machine: /usr/share/common-licenses/*, /usr/share/doc/*/copyright and the (gzipped or plain)
README, NEWS and changelog files under /usr/share/doc. They are cut into sentences; a sentence is
kept only if it looks like prose (6-60 words, starts with a capital letter, ends with . ! or ?,
mostly letters, not shouted in capitals, no e-mail address, URL, path, version number or long
digit run, so that the pool itself holds no PII). Documents of 100-1500 words are composed from
random sentences and random real paragraphs, in paragraphs separated by blank lines.

Record formats (of the clean documents), like a fine-tuning set: ~70 % {"text"}, ~15 % alpaca
{"instruction","input","output"}, ~15 % {"messages"} chat (optional system turn, 1-3
user/assistant exchanges).

Planted issues (each record is one of these, drawn with these probabilities):
  5 %  exact duplicate of an earlier clean record: verbatim, lower-cased, upper-cased or with
       punctuation/whitespace changed (all equal after datatrove's simplify_text)
  5 %  near duplicate of an earlier clean record: 2-12 words replaced (word 5-gram Jaccard
       computed here; the expected number the 14x8 LSH finds is printed)
  2 %  PII: 1-3 spans (e-mail, phone such as +1 650-253-0000, Luhn-valid card, mod-97-valid IBAN
       such as DE89 3704 0044 0532 0130 00) in a clean document; 1 in 8 of them carries 6-8
       spans (more than pii.max_spans = 5: dropped)
  2 %  low quality: a bullet list (every line starts with one marker: "- ", "• " or "* ") or a
       very short record (1-7 words; 5-11 with the user turn of a chat record)
  1 %  of the clean documents get one explicitly gendered sentence ("He ... while she ...")
What was planted is printed to stderr (counts); --labels writes one line per record
("LINE<TAB>LABEL", LABEL one of clean, gendered, exact:VARIANT, near, pii, pii_many,
low:bullets, low:short) so that run_curate.sh can check what curate did with each kind.
The output is deterministic for a given seed and a given set of installed Debian packages (the
pool's size and SHA-256 are printed too).
"""
import argparse
import glob
import gzip
import hashlib
import json
import os
import random
import re
import sys


# ---------------------------------------------------------------------------------------------
# Sentence pool
# ---------------------------------------------------------------------------------------------

def source_files():
    files = sorted(glob.glob("/usr/share/common-licenses/*"))
    files += sorted(glob.glob("/usr/share/doc/*/copyright"))
    for pattern in ("README*", "NEWS*", "changelog*", "*.txt.gz", "FAQ*"):
        files += sorted(glob.glob("/usr/share/doc/*/" + pattern))
    seen, out = set(), []
    for f in files:
        try:
            real = os.path.realpath(f)
            if not os.path.isfile(real) or real in seen or os.path.getsize(real) > 4_000_000:
                continue
        except OSError:
            continue
        seen.add(real)
        out.append(real)
    return out


def read_text(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read(4_000_000)
        else:
            with open(path, "rb") as f:
                data = f.read(4_000_000)
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
BAD = re.compile(r"@|https?:|www\.|\.com\b|\.org\b|/|\\|<|>|\{|\}|\[|\]|\||=|_|#|\*|~|\^|`|"
                 r"\d{5,}|\d+\.\d+\.\d+|\d+\.\d+|\.\.|--|\$|\bet al\b|\bi\.e\b|\be\.g\b")
LIST_LINE = re.compile(r"^\s*([-*+o•]|\d+[.)]|\(?[a-z0-9]\))\s")


def looks_like_prose(s):
    words = s.split()
    if not 6 <= len(words) <= 60:
        return False
    if not (s[0].isupper() and s[-1] in ".!?"):
        return False
    if BAD.search(s):
        return False
    letters = sum(c.isalpha() for c in s)
    visible = sum(not c.isspace() for c in s)
    if letters < 0.85 * visible:
        return False
    if sum(c.isupper() for c in s) > 0.15 * letters:  # license disclaimers in capitals, acronyms
        return False
    if sum(w.lower() in STOP for w in words) < 2:
        return False
    return True


STOP = {"the", "be", "to", "of", "and", "that", "have", "with", "is", "a", "in", "for", "it",
        "this", "are", "or", "not", "you", "on", "as", "by", "may", "any"}


def build_pool():
    """Returns (sentences, paragraphs) of prose, deduplicated, in a deterministic order."""
    sentences, paragraphs = [], []
    seen_s, seen_p = set(), set()
    for path in source_files():
        text = read_text(path)
        for block in re.split(r"\n\s*\n", text):
            lines = [ln for ln in block.splitlines() if ln.strip()]
            if not lines or sum(bool(LIST_LINE.match(ln)) for ln in lines) > len(lines) // 2:
                continue
            joined = " ".join(ln.strip() for ln in lines)
            joined = re.sub(r"\s+", " ", joined).strip()
            good = []
            for s in SENTENCE_SPLIT.split(joined):
                s = s.strip()
                if looks_like_prose(s):
                    good.append(s)
                    if s not in seen_s:
                        seen_s.add(s)
                        sentences.append(s)
            # A real paragraph: at least 3 sentences, all of them prose.
            if len(good) >= 3 and len(good) == len(SENTENCE_SPLIT.split(joined)):
                p = " ".join(good)
                if p not in seen_p:
                    seen_p.add(p)
                    paragraphs.append(good)
    return sentences, paragraphs


# ---------------------------------------------------------------------------------------------
# PII generators (valid by the checks curate applies)
# ---------------------------------------------------------------------------------------------

FIRST = ["james", "maria", "wei", "aisha", "lukas", "sofia", "rahul", "emma", "omar", "chloe",
         "diego", "hannah", "kenji", "fatima", "noah", "ingrid", "pedro", "leila", "tomasz", "ana"]
LAST = ["smith", "garcia", "chen", "khan", "muller", "rossi", "patel", "dubois", "kowalski",
        "silva", "novak", "haddad", "tanaka", "jensen", "okafor", "larsen", "moreau", "singh"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.co.uk", "proton.me", "acme-corp.com",
           "uni-heidelberg.de", "example-shop.fr", "fastmail.fm", "northwind.io", "mail.ru"]
US_AREAS = [201, 202, 206, 212, 213, 303, 305, 312, 404, 415, 503, 512, 617, 650, 702, 713,
            718, 773, 808, 919]


def make_email(rng):
    f, l = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{f}.{l}", f"{f}{l[0]}", f"{f[0]}{l}{rng.randint(1, 99)}", f"{l}.{f}"])
    return f"{local}@{rng.choice(DOMAINS)}"


def make_phone(rng):
    area = rng.choice(US_AREAS)
    exch = rng.randint(200, 989)
    while exch % 100 == 11 or exch == 555:
        exch = rng.randint(200, 989)
    line = rng.randint(0, 9999)
    style = rng.random()
    if style < 0.6:
        return f"+1 {area}-{exch}-{line:04d}"
    if style < 0.85:
        return f"({area}) {exch}-{line:04d}"
    return f"+44 20 7946 {rng.randint(0, 999):04d}"  # Ofcom's drama range, London


def luhn_complete(digits):
    """Appends the Luhn check digit to a list of digits."""
    total = 0
    for i, d in enumerate(reversed(digits)):  # the check digit will sit to the right
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + [(10 - total % 10) % 10]


def make_card(rng):
    if rng.random() < 0.6:
        prefix = [4]
    else:
        prefix = [5, rng.randint(1, 5)]
    body = prefix + [rng.randint(0, 9) for _ in range(15 - len(prefix))]
    s = "".join(map(str, luhn_complete(body)))
    sep = rng.choice([" ", "-", ""])
    return sep.join(s[i:i + 4] for i in range(0, 16, 4))


def iban_check(country, bban):
    rearranged = bban + country + "00"
    n = int("".join(str(int(c, 36)) for c in rearranged))
    return f"{98 - n % 97:02d}"


def make_iban(rng):
    if rng.random() < 0.7:
        country, bban = "DE", "".join(str(rng.randint(0, 9)) for _ in range(18))
    else:
        country = "GB"
        bban = rng.choice(["NWBK", "BARC", "HBUK", "LOYD"]) + \
            "".join(str(rng.randint(0, 9)) for _ in range(14))
    s = country + iban_check(country, bban) + bban
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


PII_TEMPLATES = {
    "EMAIL": ["You can reach me at {} if anything is unclear.",
              "Send the signed form to {} before the end of the month.",
              "Questions about the release should go to {} rather than the tracker."],
    "PHONE": ["Call me on {} any afternoon this week.",
              "The support desk can be reached at {} during office hours.",
              "If the build breaks again, phone {} and ask for the maintainer."],
    "CREDIT_CARD": ["Please charge the renewal to my card {} as before.",
                    "The invoice was paid with the card {} last Tuesday."],
    "IBAN": ["Transfer the deposit to the account {} by Friday.",
             "Our bank details are {} and the reference is the invoice date."],
}
PII_MAKERS = {"EMAIL": make_email, "PHONE": make_phone, "CREDIT_CARD": make_card,
              "IBAN": make_iban}

GENDERED = [
    "He is a brilliant engineer and she is a caring nurse.",
    "She stayed at home with the children while he went to work at the office.",
    "The manager said he would hire a man for the job because women are too emotional.",
    "His wife cooked dinner while he read the newspaper in the living room.",
    "She is pretty but he is the smart one in the family.",
    "The doctor explained his plan and the secretary typed her notes.",
]

INSTRUCTIONS = [
    "Summarize the following text in a few paragraphs.",
    "Explain what the following passage means in plain English.",
    "Rewrite the text below so that a new contributor can follow it.",
    "Describe the main obligations that this text places on the reader.",
    "Write a short explanation of the points made below.",
    "What are the key terms and conditions described here?",
    "Answer the question using the information in the input.",
    "Give an overview of the following notice.",
    "Explain the rules below as if to a colleague.",
    "Draft a clear answer to the user's question.",
]
SYSTEM = ["You are a helpful assistant.",
          "You are a careful assistant who explains software licenses and release notes.",
          "You answer questions about free software packaging in clear English."]
USER_OPENERS = ["Can you explain this to me?", "What does this mean for my project?",
                "I read the following and I am not sure what it implies.",
                "Could you go over this part again in more detail?",
                "Thanks. And what about the next point?"]


# ---------------------------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------------------------

class Composer:
    def __init__(self, rng, sentences, paragraphs):
        self.rng, self.sentences, self.paragraphs = rng, sentences, paragraphs

    def paragraph(self):
        """A real paragraph (1 in 3) or 2-7 random sentences."""
        rng = self.rng
        if self.paragraphs and rng.random() < 1 / 3:
            return list(rng.choice(self.paragraphs))
        return rng.sample(self.sentences, rng.randint(2, 7))

    def body(self, words):
        """Paragraphs of prose with about `words` words, no sentence twice."""
        paras, n, used = [], 0, set()
        while n < words:
            p = [s for s in self.paragraph() if s not in used]
            if not p:
                continue
            used.update(p)
            paras.append(p)
            n += sum(len(s.split()) for s in p)
        return paras

    def words_target(self):
        return int(self.rng.triangular(100, 1500, 250))

    def record(self):
        rng = self.rng
        r = rng.random()
        words = self.words_target()
        if r < 0.70:
            return "text", {"text": join(self.body(words))}
        if r < 0.85:
            paras = self.body(words)
            use_input = rng.random() < 0.5 and len(paras) > 1
            inp = join(paras[:1]) if use_input else ""
            out = join(paras[1:] if use_input else paras)
            return "alpaca", {"instruction": rng.choice(INSTRUCTIONS), "input": inp,
                              "output": out}
        paras = self.body(words)
        turns = min(len(paras), rng.randint(1, 3))
        msgs = []
        if rng.random() < 0.4:
            msgs.append({"role": "system", "content": rng.choice(SYSTEM)})
        chunks = split_even(paras, turns)
        for i, chunk in enumerate(chunks):
            # The user quotes the chunk's first sentence; the assistant answers with the rest.
            question = rng.choice(USER_OPENERS) + " " + chunk[0][0]
            msgs.append({"role": "user", "content": question})
            msgs.append({"role": "assistant", "content": join([chunk[0][1:]] + chunk[1:])})
        return "messages", {"messages": msgs}


def join(paras):
    return "\n\n".join(" ".join(p) for p in paras)


def split_even(items, k):
    n = len(items)
    return [items[i * n // k:(i + 1) * n // k] for i in range(k)]


def text_slots(rec):
    """The record's text fields, as (container, key) pairs, in curate's order."""
    if "text" in rec:
        return [(rec, "text")]
    if "instruction" in rec:
        return [(rec, k) for k in ("instruction", "input", "output")]
    return [(m, "content") for m in rec["messages"]]


def record_text(rec):
    return "\n\n".join(c[k] for c, k in text_slots(rec) if c[k])


def map_text(rec, fn):
    out = json.loads(json.dumps(rec))
    for c, k in text_slots(out):
        c[k] = fn(c[k])
    return out


def simplified_words(text):
    text = re.sub(r"\d+(?:[.,]\d+)?", "0", text.lower())
    return re.sub(r"[^\w\s]|_", " ", text).split()


def shingles(text, n=5):
    w = simplified_words(text)
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def exact_variant(rng, rec):
    """A copy equal to rec after simplify_text; returns (kind, record)."""
    kind = rng.choice(["verbatim", "verbatim", "lowercase", "case", "punctuation",
                       "whitespace"])
    if kind == "verbatim":
        return kind, json.loads(json.dumps(rec))
    if kind == "lowercase":
        return kind, map_text(rec, str.lower)
    if kind == "case":  # about one word in ten shouted (a whole document in capitals would
        # fail Gopher's case-sensitive stop-word rule before it reaches dedup)
        return kind, map_text(rec, lambda t: " ".join(
            w.upper() if rng.random() < 0.1 else w for w in t.split(" ")))
    if kind == "punctuation":  # commas dropped, full stops to semicolons, ? to !
        return kind, map_text(rec, lambda t: t.replace(", ", " ").replace(". ", "; ")
                              .replace("?", "!"))
    return kind, map_text(rec, lambda t: t.replace(" ", "  ").replace("\n\n", "\n"))


def near_variant(rng, rec, vocab):
    """A copy with a few words replaced; returns (words changed, record)."""
    out = json.loads(json.dumps(rec))
    slots = text_slots(out)
    # Change the longest field (the answer or the body), where the words are.
    c, k = max(slots, key=lambda ck: len(ck[0][ck[1]]))
    words = c[k].split(" ")
    n = len(words)
    changes = max(2, min(12, rng.randint(2, 3 + n // 150)))
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 3]
    picked = rng.sample(candidates, min(changes, len(candidates)))
    for i in picked:
        new = rng.choice(vocab)
        while new.lower() == words[i].lower():
            new = rng.choice(vocab)
        words[i] = new
    c[k] = " ".join(words)
    return len(picked), out


def add_sentences(rng, rec, sentences):
    """Inserts sentences at random paragraph breaks of the longest field."""
    out = json.loads(json.dumps(rec))
    c, k = max(text_slots(out), key=lambda ck: len(ck[0][ck[1]]))
    paras = c[k].split("\n\n")
    for s in sentences:
        i = rng.randrange(len(paras))
        paras[i] = paras[i] + " " + s
    c[k] = "\n\n".join(paras)
    return out


def low_quality(rng, sentences):
    """A bullet list or a very short record: (kind, format, record)."""
    if rng.random() < 0.5:
        marker = rng.choice(["- ", "- ", "• ", "* "])  # one marker per list
        lines = []
        for _ in range(rng.randint(8, 30)):
            words = rng.choice(sentences).rstrip(".!?").split()
            start = rng.randrange(max(1, len(words) - 3))
            frag = " ".join(words[start:start + rng.randint(3, 7)])
            lines.append(marker + frag[0].upper() + frag[1:])
        text = "\n".join(lines)
        if rng.random() < 0.8:
            return "bullets", "text", {"text": text}
        return "bullets", "alpaca", {"instruction": "List the main points.", "input": "",
                                     "output": text}
    short = rng.choice(["Thanks!", "See above.", "ok", "Done, closing this.",
                        "Great, it works now.", "Click here to subscribe to our newsletter.",
                        "Page 3 of 12", "Home | About | Contact", "Read more", "No changes."])
    if rng.random() < 0.6:
        return "short", "text", {"text": short}
    return "short", "messages", {"messages": [{"role": "user", "content": "Did that fix it?"},
                                              {"role": "assistant", "content": short}]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--mb", type=float, default=120.0, help="MB (10^6 bytes) to write")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--labels", help="write LINE<TAB>LABEL per record here")
    a = ap.parse_args()

    sentences, paragraphs = build_pool()
    if len(sentences) < 2000:
        sys.exit(f"make_curate_corpus.py: only {len(sentences)} prose sentences found under "
                 "/usr/share; not enough for a realistic corpus")
    pool_hash = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    vocab = sorted({w for s in sentences for w in s.split() if w.isalpha() and len(w) >= 4})
    print(f"pool: {len(sentences)} sentences, {len(paragraphs)} real paragraphs, "
          f"{len(vocab)} words (sha256 {pool_hash})", file=sys.stderr)

    rng = random.Random(a.seed)
    comp = Composer(rng, sentences, paragraphs)
    target = int(a.mb * 1e6)
    counts = {}
    formats = {}
    clean = []  # (format, record) of clean records, originals for duplicates
    near_expected, near_j = 0.0, []
    pii_spans = {t: 0 for t in PII_MAKERS}
    written = 0

    def bump(key, n=1):
        counts[key] = counts.get(key, 0) + n

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    labels = open(a.labels, "w", encoding="utf-8") if a.labels else None
    with open(a.out, "w", encoding="utf-8") as f:
        while written < target:
            r = rng.random()
            if r < 0.05 and clean:
                fmt, orig = rng.choice(clean)
                kind, rec = exact_variant(rng, orig)
                bump("exact_duplicate")
                bump("exact_duplicate." + kind)
                label = "exact:" + kind
            elif r < 0.10 and clean:
                fmt, orig = rng.choice(clean)
                changed, rec = near_variant(rng, orig, vocab)
                a_sh, b_sh = shingles(record_text(orig)), shingles(record_text(rec))
                j = len(a_sh & b_sh) / max(1, len(a_sh | b_sh))
                near_j.append(j)
                near_expected += 1 - (1 - j ** 8) ** 14
                bump("near_duplicate")
                bump("near_duplicate.words_changed", changed)
                label = "near"
            elif r < 0.12:
                fmt, rec = comp.record()
                many = rng.random() < 1 / 8
                n = rng.randint(6, 8) if many else rng.randint(1, 3)
                added = []
                for _ in range(n):
                    t = rng.choice(list(PII_MAKERS))
                    pii_spans[t] += 1
                    added.append(rng.choice(PII_TEMPLATES[t]).format(PII_MAKERS[t](rng)))
                rec = add_sentences(rng, rec, added)
                bump("pii")
                bump("pii.over_5_spans" if many else "pii.1_to_3_spans")
                bump("pii.spans", n)
                label = "pii_many" if many else "pii"
            elif r < 0.14:
                kind, fmt, rec = low_quality(rng, sentences)
                bump("low_quality")
                bump("low_quality." + kind)
                label = "low:" + kind
            else:
                fmt, rec = comp.record()
                label = "clean"
                if rng.random() < 0.01:
                    rec = add_sentences(rng, rec, [rng.choice(GENDERED)])
                    bump("gendered_sentence")
                    label = "gendered"
                bump("clean")
                clean.append((fmt, rec))
            formats[fmt] = formats.get(fmt, 0) + 1
            line = json.dumps(rec, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            if labels:
                labels.write(f"{sum(formats.values())}\t{label}\n")
    if labels:
        labels.close()

    total = sum(formats.values())
    print(f"wrote {a.out}: {total} records, {written / 1e6:.1f} MB, seed {a.seed}", file=sys.stderr)
    print("formats: " + ", ".join(f"{k} {v} ({100 * v / total:.1f} %)"
                                  for k, v in sorted(formats.items())), file=sys.stderr)
    print("planted: " + json.dumps(dict(sorted(counts.items()))), file=sys.stderr)
    print("pii spans by type: " + json.dumps(pii_spans), file=sys.stderr)
    if near_j:
        near_j.sort()
        print(f"near duplicates: word 5-gram Jaccard min {near_j[0]:.3f} median "
              f"{near_j[len(near_j) // 2]:.3f} max {near_j[-1]:.3f}; expected found by 14x8 LSH "
              f"{near_expected:.0f} of {len(near_j)}", file=sys.stderr)
    # One machine-readable line for run_curate.sh.
    print("PLANTED_JSON " + json.dumps({
        "records": total, "bytes": written, "formats": formats, "counts": counts,
        "pii_spans": pii_spans, "near_expected_found": round(near_expected, 1),
        "pool_sentences": len(sentences), "pool_sha256": pool_hash}), file=sys.stderr)


if __name__ == "__main__":
    main()
