// PII detection and redaction for `slimtune curate` (curation.md §6): finds e-mail addresses,
// phone numbers, public IP addresses, credit-card numbers, US social security numbers, IBANs and
// dates of birth, plus user-configured regexes, and replaces each with a type tag ("<EMAIL>").
// Fine-tuning data should not teach a model someone's contact or account details; every type
// is validated (checksum, range or library check) because over-redaction damages the text.
//
// Scanning is cheap byte-level triggers ('@', ':', digit runs, a few cue words) followed by
// exact parsers, so prose without PII costs little. Decisions, per type:
//  - EMAIL: local part of ASCII alphanumerics and $ % & * + - ^ _ ~ with inner single dots
//    (RFC 5322 atext minus ! # / = ? ' ` { | }, which in running text delimit paths, URL queries,
//    quotes and markup; BigCode excludes most of them too), at most 64 bytes, not preceded by a
//    non-ASCII letter; '@'; 2-11 dot-separated labels of alphanumerics and inner hyphens (at most
//    63 bytes each), the last a TLD of 2-63 ASCII letters or "xn--...". The longest label prefix
//    ending in a valid TLD is taken ("a@b.com.5" -> "a@b.com"). Bracketed IP literals are not
//    matched.
//  - IP_ADDRESS: dotted-quad IPv4 with octets 0-255 and no leading zeros (as Python's ipaddress),
//    not inside a longer dotted number or word. Dates cannot pass (a 4-digit year is no octet),
//    so BigCode's date rule needs no separate check. BigCode's version rule: a 7-byte x.x.x.x
//    (single digits) is dropped unless "dns" or "server" occurs within 100 characters either
//    side. IPv6 (full, "::"-compressed, IPv4-suffixed; parsed by inet_pton) needs two ':' and a
//    decimal digit (BigCode's "has a digit"). Only public addresses are spans unless
//    redact_private_ips: IPv4 per ipv4_is_public; IPv6 in 2000::/3 minus 2001::/23 (IETF
//    protocol assignments), 2001:db8::/32 and 3fff::/20 (documentation) and 2002::/16 (6to4).
//    The public DNS resolvers BigCode keeps (8.8.8.8, 1.1.1.1, ...) are redacted like any other
//    public address, as datatrove does.
//  - CREDIT_CARD: Presidio's shape widened to 13-19 digits: one contiguous run, or a 4-digit
//    block followed by blocks of 3-6 digits (4-4-4-4, 4-6-5 Amex, 4-4-4-4-3), separated by one
//    space or one hyphen (the same throughout). Leading digits as Presidio (4, 51-55, 6, 1, 3;
//    no 13-digit number starting with 1) plus Mastercard's 2221-2720 range, which Presidio
//    misses. Luhn-checked. When more blocks follow, the longest valid prefix of blocks is taken.
//  - US_SSN: ddd-dd-dddd, ddd dd dddd or ddd.dd.dddd (one delimiter throughout), not inside a
//    longer number; bare 9 digits only when "ssn" (as a word) or "social security" occurs within
//    the 50 characters before. us_ssn_valid rules out the rest.
//  - IBAN: upper-case country code and two check digits at a word start, then blocks of up to 4
//    upper-case letters or digits, each optionally after one space or hyphen. The country's
//    length (table in pii_validate.cpp: SWIFT registry countries) cuts the candidate, which must
//    end there (not mid-word) and pass iban_valid. The per-country BBAN layout (DE: 18 digits) is
//    not checked; mod-97 plus the exact length already rejects almost every non-IBAN.
//  - PHONE: libphonenumber's PhoneNumberMatcher, leniency VALID, per phone_regions entry
//    (region codes as libphonenumber spells them: "GB", not "UK"). Each call costs 10-100 us, so
//    it runs only on windows (8 bytes before, for "+" or "(", 24 after, for extensions) around
//    runs of >= 7 digits joined by up to three of " -.()/", skipping runs that are numeric
//    dates (yyyy-mm-dd, dd.mm.yyyy: the matcher rejects those) or lie inside another span.
//    Regions are tried in order until one finds a number covering the run; after a '+' one
//    region suffices. A document gets at most 16 + bytes/128 matcher calls, spent on formatted
//    runs first and bare digit strings (IDs, timestamps, table cells) after: this bounds a
//    numeric table to ~3 MB/s instead of ~0.05, at the cost of unchecked bare numbers there.
//  - DATE_OF_BIRTH: a date that starts within 30 characters after a cue ("born", "date of
//    birth", "birth date", "birthdate", "birthday", "DOB", "D.O.B.", any case). Dates: d/m/y or
//    m/d/y with '/', '-' or '.' (one delimiter; 2- or 4-digit year), y-m-d, "12 March 1985",
//    "12th of Mar. 1985", "March 12, 1985"; day 1-31, month 1-12 (either order for numeric
//    dates), 4-digit years 1800-2099. Only the date is the span; a date without a year is not.
//  - extras: every non-empty match of each PCRE2 pattern (UTF mode, Perl syntax) is a span whose
//    type is the pattern's name upper-cased.
// Overlaps: the longest candidate wins, then the earliest, then the more specific type (EMAIL,
// CREDIT_CARD, IBAN, US_SSN, IP_ADDRESS, DATE_OF_BIRTH, PHONE, extras in order).
// Not here: curation.md's "drop the document if > 5 PII spans" is the pipeline's decision
// (find(...).size() > 5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace slimtune::data::curate {

// A user-configured detector; name "EMPLOYEE_ID" gives spans of type EMPLOYEE_ID, redacted as
// <EMPLOYEE_ID>. Names are letters, digits and '_'.
struct PiiPattern {
    std::string name;
    std::string regex;
};

struct PiiConfig {
    bool enabled = true;
    // Types detected: email, phone, ip_address, credit_card, us_ssn, iban, date_of_birth.
    std::vector<std::string> types{"email",  "phone", "ip_address",   "credit_card",
                                   "us_ssn", "iban",  "date_of_birth"};
    std::vector<PiiPattern> extra;   // PCRE2 patterns (Perl syntax), each a type of its own
    bool redact_private_ips = false; // private/loopback/reserved addresses stay unless true
    std::vector<std::string> phone_regions{"US", "GB", "DE", "FR", "IN", "CA", "BR", "IL"};
};

// Byte offsets [begin, end) into the text; type is upper-case: EMAIL, PHONE, IP_ADDRESS,
// CREDIT_CARD, US_SSN, IBAN, DATE_OF_BIRTH, or an extra pattern's name.
struct PiiSpan {
    std::size_t begin = 0, end = 0;
    std::string type;
    bool operator==(const PiiSpan&) const = default;
};

class PiiDetector {
public:
    // Compiles every pattern once. Throws ConfigError naming the key for an unknown type name,
    // an unknown phone region, a bad extra name or a regex PCRE2 rejects
    // ("curate.pii.extra 'X': ...").
    explicit PiiDetector(const PiiConfig& config);
    ~PiiDetector();
    PiiDetector(PiiDetector&&) noexcept;
    PiiDetector& operator=(PiiDetector&&) noexcept;

    // Spans in valid UTF-8 `text`, sorted by begin and non-overlapping. Const and thread-safe.
    std::vector<PiiSpan> find(std::string_view text) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// `text` with each span replaced by "<TYPE>". Spans must be sorted, non-empty, non-overlapping
// and inside the text (as find returns them); otherwise throws slimtune::Error.
std::string redact(std::string_view text, std::span<const PiiSpan> spans);

// Luhn checksum over a string of ASCII digits (false for an empty string or any non-digit).
bool luhn_valid(std::string_view digits_only);

// Spaces and hyphens are ignored, letters may be either case. Valid when the country code is in
// the length table, the length matches, the rest is alphanumeric and the ISO 7064 mod-97
// remainder of the rearranged number is 1.
bool iban_valid(std::string_view iban);

// "ddd-dd-dddd", "ddd dd dddd", "ddd.dd.dddd" or 9 bare digits. Invalid (Presidio): mixed or
// misplaced delimiters, all digits equal, group 00, serial 0000, starting with 000, 666,
// 123456789, 98765432 or 078051120; and (SSA) area 900-999.
bool us_ssn_valid(std::string_view ssn);

// Python's IPv4Address.is_global, with multicast (224.0.0.0/4) also not public: false for
// 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24 (except .9 and .10),
// 192.0.2/24, 192.168/16, 198.18/15, 198.51.100/24, 203.0.113/24, 224/4 and 240/4 (which holds
// the broadcast address). `addr` is in host order (1.2.3.4 = 0x01020304).
bool ipv4_is_public(std::uint32_t addr);

} // namespace slimtune::data::curate
