#include "data/curate/pii.h"

#include "common/error.h"
#include "common/text.h"
#include "data/tokenizer/regex.h"
#include "data/tokenizer/utf8.h"

#include <algorithm>
#include <arpa/inet.h>
#include <map>
#include <phonenumbers/phonenumbermatch.h>
#include <phonenumbers/phonenumbermatcher.h>
#include <phonenumbers/phonenumberutil.h>
#include <set>

namespace slimtune::data::curate {
namespace {

namespace pn = i18n::phonenumbers;

// Built-in kinds in tie-break order (a more specific, checksum-validated type first); extra
// pattern i is kind kExtraBase + i.
enum Kind : int { kEmail, kCard, kIban, kSsn, kIp, kDob, kPhone, kExtraBase };
constexpr const char* kKindNames[] = {"EMAIL",      "CREDIT_CARD",   "IBAN", "US_SSN",
                                      "IP_ADDRESS", "DATE_OF_BIRTH", "PHONE"};

struct Candidate {
    std::size_t begin, end;
    int kind;
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_upper(char c) {
    return c >= 'A' && c <= 'Z';
}
bool is_alpha(char c) {
    return is_upper(c) || (c >= 'a' && c <= 'z');
}
bool is_alnum(char c) {
    return is_digit(c) || is_alpha(c);
}
bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char lower(char c) {
    return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c;
}
bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Whether a letter, number or '_' code point starts at byte i / ends right before byte i. PII
// must not be glued to a word ("ID4111...", "v1.2.3.4"), in any script.
bool word_char_at(std::string_view s, std::size_t i) {
    if (i >= s.size())
        return false;
    if (static_cast<unsigned char>(s[i]) < 0x80)
        return is_alnum(s[i]) || s[i] == '_';
    return data::is_word_char(data::next_code_point(s, i));
}
bool word_char_before(std::string_view s, std::size_t i) {
    if (i == 0)
        return false;
    std::size_t j = i - 1;
    while (j > 0 && is_continuation(s[j]))
        --j;
    return word_char_at(s, j);
}

// Byte offset `count` code points before / after byte i (clamped to the text).
std::size_t back_code_points(std::string_view s, std::size_t i, std::size_t count) {
    while (i > 0 && count > 0) {
        --i;
        if (!is_continuation(s[i]))
            --count;
    }
    return i;
}
std::size_t forward_code_points(std::string_view s, std::size_t i, std::size_t count) {
    while (i < s.size() && count > 0) {
        ++i;
        while (i < s.size() && is_continuation(s[i]))
            ++i;
        --count;
    }
    return i;
}

// ASCII case-insensitive search for a lower-case needle; `word` also requires that no ASCII
// letter touches it on either side.
bool contains_ci(std::string_view hay, std::string_view needle, bool word = false) {
    for (std::size_t i = 0, e = needle.size(); e <= hay.size(); ++i, ++e)
        if (std::equal(needle.begin(), needle.end(), hay.begin() + static_cast<std::ptrdiff_t>(i),
                       [](char a, char b) { return a == lower(b); }) &&
            (!word ||
             ((i == 0 || !is_alpha(hay[i - 1])) && (e == hay.size() || !is_alpha(hay[e])))))
            return true;
    return false;
}

// --- e-mail -----------------------------------------------------------------------------------

bool is_local_char(char c) {
    return is_alnum(c) || std::string_view("$%&*+-^_~.").find(c) != std::string_view::npos;
}

bool is_tld(std::string_view label) {
    if (label.size() >= 5 && lower(label[0]) == 'x' && lower(label[1]) == 'n' && label[2] == '-' &&
        label[3] == '-')
        return true; // label characters were checked by the caller
    if (label.size() < 2 || label.size() > 63)
        return false;
    return std::all_of(label.begin(), label.end(), is_alpha);
}

void find_emails(std::string_view s, std::vector<Candidate>& out) {
    const std::size_t n = s.size();
    for (std::size_t at = s.find('@'); at != std::string_view::npos; at = s.find('@', at + 1)) {
        // Local part, right to left; a dot may not end it or follow another dot.
        std::size_t b = at;
        while (b > 0 && is_local_char(s[b - 1])) {
            if (s[b - 1] == '.' && (b == at || s[b] == '.'))
                break;
            --b;
        }
        while (b < at && s[b] == '.')
            ++b;
        if (b == at || at - b > 64 || word_char_before(s, b))
            continue;
        // Domain labels, keeping the longest prefix that ends in a TLD.
        std::size_t i = at + 1, end = 0;
        for (int labels = 1; labels <= 11; ++labels) {
            const std::size_t start = i;
            while (i < n && (is_alnum(s[i]) || s[i] == '-'))
                ++i;
            if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
                break;
            if (labels >= 2 && is_tld(s.substr(start, i - start)))
                end = i;
            if (i + 1 >= n || s[i] != '.' || !is_alnum(s[i + 1]))
                break;
            ++i;
        }
        if (end != 0 && !word_char_at(s, end))
            out.push_back({b, end, kEmail});
    }
}

// --- IP addresses -----------------------------------------------------------------------------

// A dotted quad starting at p (a digit-run start); sets end and addr.
bool parse_ipv4(std::string_view s, std::size_t p, std::size_t& end, std::uint32_t& addr) {
    const std::size_t n = s.size();
    if (p > 0 && s[p - 1] == '.')
        return false; // inside a longer dotted number
    std::size_t i = p;
    std::uint32_t a = 0;
    for (int k = 0; k < 4; ++k) {
        if (k > 0) {
            if (i >= n || s[i] != '.')
                return false;
            ++i;
        }
        const std::size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(s[i]) && i - start < 4)
            v = v * 10 + static_cast<unsigned>(s[i++] - '0');
        const std::size_t len = i - start;
        if (len == 0 || len > 3 || v > 255 || (len > 1 && s[start] == '0'))
            return false;
        a = (a << 8) | v;
    }
    if (word_char_at(s, i) || (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])))
        return false;
    end = i;
    addr = a;
    return true;
}

bool ipv6_is_public(const unsigned char b[16]) {
    const unsigned g0 = (b[0] << 8) | b[1], g1 = (b[2] << 8) | b[3];
    if ((g0 & 0xE000) != 0x2000)
        return false; // outside global unicast 2000::/3
    if (g0 == 0x2001 && g1 < 0x0200)
        return false; // 2001::/23
    if ((g0 == 0x2001 && g1 == 0x0db8) || g0 == 0x2002 || (g0 == 0x3fff && g1 < 0x1000))
        return false;
    return true;
}

void find_ipv6(std::string_view s, bool any_address, std::vector<Candidate>& out) {
    const std::size_t n = s.size();
    auto ip_char = [](char c) { return is_hex(c) || c == ':' || c == '.'; };
    std::size_t scanned = 0;
    for (std::size_t c = s.find(':'); c != std::string_view::npos; c = s.find(':', c + 1)) {
        if (c < scanned)
            continue;
        std::size_t b = c, e = c;
        while (b > 0 && ip_char(s[b - 1]))
            --b;
        while (e < n && ip_char(s[e]))
            ++e;
        scanned = e;
        // Sentence punctuation around an address is not part of it.
        while (b < e && s[b] == '.')
            ++b;
        while (e > b && (s[e - 1] == '.' || (s[e - 1] == ':' && e >= b + 2 && s[e - 2] != ':')))
            --e;
        const std::string_view cand = s.substr(b, e - b);
        if (cand.size() < 3 || cand.size() > 45 || word_char_before(s, b) || word_char_at(s, e))
            continue;
        if (std::count(cand.begin(), cand.end(), ':') < 2 ||
            std::none_of(cand.begin(), cand.end(), is_digit))
            continue;
        char buf[46];
        cand.copy(buf, cand.size());
        buf[cand.size()] = '\0';
        unsigned char addr[16];
        if (inet_pton(AF_INET6, buf, addr) == 1 && (any_address || ipv6_is_public(addr)))
            out.push_back({b, e, kIp});
    }
}

// --- numbers with checksums -------------------------------------------------------------------

// Presidio's leading digits (4, 51-55, 6, 1 but not 13 digits, 3) plus Mastercard's 2221-2720.
bool card_prefix_ok(std::string_view d) {
    const int four = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    return d[0] == '4' || d[0] == '6' || d[0] == '3' || (d[0] == '1' && d.size() != 13) ||
           (four >= 5100 && four < 5600) || (four >= 2221 && four <= 2720);
}

// A card number starting at digit-run start p.
bool parse_card(std::string_view s, std::size_t p, std::size_t& end) {
    const std::size_t n = s.size();
    char digits[20];
    std::size_t count = 0, ends[5] = {}, totals[5] = {};
    int groups = 0;
    char sep = 0;
    for (std::size_t i = p; groups < 5;) {
        const std::size_t start = i;
        while (i < n && is_digit(s[i]) && count < 20)
            digits[count++] = s[i++];
        const std::size_t len = i - start;
        if (i < n && is_digit(s[i]))
            break; // more than 19 digits: only the blocks before this one can be a card
        const bool ok = groups == 0 ? len == 4 || (len >= 13 && len <= 19) : len >= 3 && len <= 6;
        if (!ok)
            break;
        ends[groups] = i;
        totals[groups++] = count;
        if (groups == 1 && len != 4)
            break; // a contiguous 13-19 digit number has no blocks after it
        if (i + 1 >= n || (s[i] != ' ' && s[i] != '-') || !is_digit(s[i + 1]) ||
            (sep != 0 && s[i] != sep))
            break;
        sep = s[i++];
    }
    for (int g = groups; g >= 1; --g) {
        const std::string_view d(digits, totals[g - 1]);
        if (d.size() >= 13 && d.size() <= 19 && !word_char_at(s, ends[g - 1]) &&
            card_prefix_ok(d) && luhn_valid(d)) {
            end = ends[g - 1];
            return true;
        }
    }
    return false;
}

// A delimited or (with context) bare SSN starting at digit-run start p.
bool parse_ssn(std::string_view s, std::size_t p, std::size_t& end) {
    const std::size_t n = s.size();
    auto digits_at = [&](std::size_t i, std::size_t k) {
        if (i + k > n)
            return false;
        for (std::size_t j = 0; j < k; ++j)
            if (!is_digit(s[i + j]))
                return false;
        return true;
    };
    // Glued to a longer number on the left ("1-536-22-8761")?
    if (p >= 2 && (s[p - 1] == '-' || s[p - 1] == '.') && is_digit(s[p - 2]))
        return false;
    std::size_t e = 0;
    if (digits_at(p, 3) && p + 3 < n && (s[p + 3] == '-' || s[p + 3] == ' ' || s[p + 3] == '.')) {
        const char d = s[p + 3];
        if (digits_at(p + 4, 2) && p + 6 < n && s[p + 6] == d && digits_at(p + 7, 4))
            e = p + 11;
        if (e != 0 && e < n &&
            (is_digit(s[e]) ||
             (e + 1 < n && (s[e] == d || s[e] == '-' || s[e] == '.') && is_digit(s[e + 1]))))
            return false;
    } else if (digits_at(p, 9) && !(p + 9 < n && is_digit(s[p + 9]))) {
        const std::size_t from = back_code_points(s, p, 50);
        const std::string_view before = s.substr(from, p - from);
        if (contains_ci(before, "ssn", true) || contains_ci(before, "social security"))
            e = p + 9;
    }
    if (e == 0 || word_char_at(s, e) || !us_ssn_valid(s.substr(p, e - p)))
        return false;
    end = e;
    return true;
}

// IBAN lengths from the SWIFT IBAN registry (SEPA and the other registry countries).
constexpr std::string_view kIbanLengths =
    "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28EE20EG29"
    "ES24FI18FK18FO18FR27GB22GE22GI23GL18GR27GT28HN28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20"
    "LB28LC32LI21LT20LU20LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28PS29"
    "PT25QA29RO24RS22RU33SA24SC31SD18SE24SI19SK24SM27SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20";

int iban_length(char c0, char c1) {
    for (std::size_t i = 0; i < kIbanLengths.size(); i += 4)
        if (kIbanLengths[i] == c0 && kIbanLengths[i + 1] == c1)
            return (kIbanLengths[i + 2] - '0') * 10 + (kIbanLengths[i + 3] - '0');
    return 0;
}

// An IBAN starting at b (two upper-case letters, then the digit run at b + 2).
bool parse_iban(std::string_view s, std::size_t b, std::size_t& end) {
    const std::size_t n = s.size();
    if (word_char_before(s, b) || b + 4 > n || !is_digit(s[b + 3]))
        return false;
    const int want = iban_length(s[b], s[b + 1]);
    if (want == 0)
        return false;
    // Blocks of 4 after the first 4 characters may each follow one space or hyphen.
    char compact[34];
    std::size_t after[34]; // byte just past each character of `compact`
    int count = 0;
    for (std::size_t i = b; i < n && count < want;) {
        if (count >= 4 && count % 4 == 0 && (s[i] == ' ' || s[i] == '-') && i + 1 < n)
            ++i;
        if (!is_upper(s[i]) && !is_digit(s[i]))
            break;
        compact[count] = s[i];
        after[count++] = ++i;
    }
    if (count != want || word_char_at(s, after[want - 1]) ||
        !iban_valid(std::string_view(compact, static_cast<std::size_t>(want))))
        return false;
    end = after[want - 1];
    return true;
}

// --- dates of birth ---------------------------------------------------------------------------

constexpr const char* kDobCuePattern =
    "(?i)\\b(?:(?:born|date\\s+of\\s+birth|birth\\s?date|birthday|dob)\\b|d\\.o\\.b\\b\\.?)";
constexpr const char* kMonth = "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|"
                               "july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|"
                               "dec(?:ember)?)\\.?";

std::string dob_date_pattern() {
    const std::string m = kMonth;
    return "(?i)\\b(?:\\d{4}([-/.])\\d{1,2}\\1\\d{1,2}"
           "|\\d{1,2}([-/.])\\d{1,2}\\2(?:\\d{4}|\\d{2})"
           "|\\d{1,2}(?:st|nd|rd|th)?\\s+(?:of\\s+)?" +
           m + ",?\\s+\\d{4}|" + m + "\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4})\\b";
}

// Range check of a date the pattern matched: its numbers in order are y m d, a b y (numeric)
// or d y (month name).
bool plausible_date(std::string_view date) {
    int values[3] = {}, lengths[3] = {}, count = 0;
    for (std::size_t i = 0; i < date.size(); ++i) {
        if (!is_digit(date[i]))
            continue;
        if (count == 3)
            return false;
        for (; i < date.size() && is_digit(date[i]); ++i, ++lengths[count])
            values[count] = values[count] * 10 + (date[i] - '0');
        ++count;
    }
    auto year_ok = [&](int k) {
        return lengths[k] == 2 || (values[k] >= 1800 && values[k] < 2100);
    };
    auto day_ok = [](int v) { return v >= 1 && v <= 31; };
    auto month_ok = [](int v) { return v >= 1 && v <= 12; };
    if (count == 2)
        return day_ok(values[0]) && year_ok(1);
    if (count != 3)
        return false;
    if (lengths[0] == 4)
        return year_ok(0) && month_ok(values[1]) && day_ok(values[2]);
    return year_ok(2) && ((day_ok(values[0]) && month_ok(values[1])) ||
                          (month_ok(values[0]) && day_ok(values[1])));
}

} // namespace

// --- validators -------------------------------------------------------------------------------

bool luhn_valid(std::string_view digits_only) {
    if (digits_only.empty())
        return false;
    int sum = 0;
    bool twice = false;
    for (std::size_t i = digits_only.size(); i-- > 0;) {
        if (!is_digit(digits_only[i]))
            return false;
        int d = digits_only[i] - '0';
        if (twice)
            d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

bool iban_valid(std::string_view iban) {
    char c[34];
    std::size_t n = 0;
    for (char ch : iban) {
        if (ch == ' ' || ch == '-')
            continue;
        if (n == sizeof c || !is_alnum(ch))
            return false;
        c[n++] = is_alpha(ch) ? static_cast<char>(ch & ~0x20) : ch; // upper-case
    }
    if (n < 5 || !is_upper(c[0]) || !is_upper(c[1]) || !is_digit(c[2]) || !is_digit(c[3]) ||
        static_cast<int>(n) != iban_length(c[0], c[1]))
        return false;
    // ISO 7064 mod 97-10 over BBAN + country + check digits, letters as 10..35.
    unsigned remainder = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const char ch = c[(k + 4) % n];
        if (is_digit(ch))
            remainder = (remainder * 10 + static_cast<unsigned>(ch - '0')) % 97;
        else
            remainder = (remainder * 100 + static_cast<unsigned>(ch - 'A' + 10)) % 97;
    }
    return remainder == 1;
}

bool us_ssn_valid(std::string_view ssn) {
    char d[9];
    if (ssn.size() == 11) {
        const char delim = ssn[3];
        if ((delim != '-' && delim != ' ' && delim != '.') || ssn[6] != delim)
            return false;
        std::size_t k = 0;
        for (std::size_t i = 0; i < 11; ++i)
            if (i != 3 && i != 6)
                d[k++] = ssn[i];
    } else if (ssn.size() == 9) {
        ssn.copy(d, 9);
    } else {
        return false;
    }
    if (!std::all_of(d, d + 9, is_digit) ||
        std::all_of(d, d + 9, [&](char c) { return c == d[0]; }))
        return false;
    const std::string_view v(d, 9);
    if (v.substr(3, 2) == "00" || v.substr(5) == "0000" || v.starts_with("000") ||
        v.starts_with("666") || v[0] == '9' || v == "123456789" || v == "078051120")
        return false; // 98765432x starts with 9
    return true;
}

bool ipv4_is_public(std::uint32_t a) {
    auto in = [a](std::uint32_t net, int bits) {
        return (a >> (32 - bits)) == (net >> (32 - bits));
    };
    if (in(0xC0000000u, 24)) // 192.0.0.0/24: IETF assignments, two of them global anycast
        return a == 0xC0000009u || a == 0xC000000Au;
    return !(in(0x00000000u, 8) || in(0x0A000000u, 8) || in(0x64400000u, 10) ||
             in(0x7F000000u, 8) || in(0xA9FE0000u, 16) || in(0xAC100000u, 12) ||
             in(0xC0000200u, 24) || in(0xC0A80000u, 16) || in(0xC6120000u, 15) ||
             in(0xC6336400u, 24) || in(0xCB007100u, 24) || in(0xE0000000u, 4) ||
             in(0xF0000000u, 4));
}

std::string redact(std::string_view text, std::span<const PiiSpan> spans) {
    std::string out;
    out.reserve(text.size());
    std::size_t last = 0;
    for (const PiiSpan& sp : spans) {
        if (sp.begin < last || sp.end <= sp.begin || sp.end > text.size())
            throw Error("curate.pii redact: span [" + std::to_string(sp.begin) + ", " +
                        std::to_string(sp.end) + ") of type " + name_text(sp.type) +
                        " is empty, unsorted, overlapping or outside the text of " +
                        std::to_string(text.size()) + " bytes");
        out.append(text.substr(last, sp.begin - last));
        out += '<';
        out += sp.type;
        out += '>';
        last = sp.end;
    }
    out.append(text.substr(last));
    return out;
}

// --- detector ---------------------------------------------------------------------------------

struct PiiDetector::Impl {
    bool enabled = true, any_ip = false;
    bool want[kExtraBase] = {};
    std::vector<std::string> regions;
    std::vector<std::string> type_names; // by kind
    std::vector<Regex> extras;           // kind kExtraBase + i
    std::unique_ptr<Regex> dob_cue, dob_date;
    const pn::PhoneNumberUtil* phone_util = nullptr;

    void find_numbers(std::string_view s, std::vector<Candidate>& out) const;
    void find_dates_of_birth(std::string_view s, std::vector<Candidate>& out) const;
    void find_phones(std::string_view s, std::vector<Candidate>& out) const;
};

PiiDetector::PiiDetector(const PiiConfig& config) : impl_(std::make_unique<Impl>()) {
    Impl& im = *impl_;
    im.enabled = config.enabled;
    im.any_ip = config.redact_private_ips;
    im.type_names.assign(std::begin(kKindNames), std::end(kKindNames));
    static constexpr std::pair<const char*, Kind> kConfigNames[] = {
        {"email", kEmail}, {"phone", kPhone}, {"ip_address", kIp},    {"credit_card", kCard},
        {"us_ssn", kSsn},  {"iban", kIban},   {"date_of_birth", kDob}};
    for (const std::string& t : config.types) {
        const auto* it = std::find_if(std::begin(kConfigNames), std::end(kConfigNames),
                                      [&](const auto& e) { return t == e.first; });
        if (it == std::end(kConfigNames))
            throw ConfigError("curate.pii.types: unknown type " + name_text(t) +
                              "; expected email, phone, ip_address, credit_card, us_ssn, iban "
                              "or date_of_birth");
        im.want[it->second] = true;
    }
    if (im.want[kPhone]) {
        im.phone_util = pn::PhoneNumberUtil::GetInstance();
        std::set<std::string> supported;
        im.phone_util->GetSupportedRegions(&supported);
        for (const std::string& r : config.phone_regions) {
            if (!supported.count(r))
                throw ConfigError("curate.pii.phone_regions: unknown region " + name_text(r) +
                                  "; expected a libphonenumber region code such as US or GB");
            if (std::find(im.regions.begin(), im.regions.end(), r) == im.regions.end())
                im.regions.push_back(r);
        }
        if (im.regions.empty())
            throw ConfigError("curate.pii.phone_regions: empty while type 'phone' is enabled; "
                              "expected region codes such as US or GB");
        // libphonenumber builds its metadata and matcher regexes lazily; do it here, once,
        // rather than in the first parallel find() calls.
        pn::PhoneNumberMatcher warm_up(*im.phone_util, "+1 650-253-0000", im.regions[0],
                                       pn::PhoneNumberMatcher::VALID, 65535);
        pn::PhoneNumberMatch match;
        while (warm_up.HasNext() && warm_up.Next(&match)) {
        }
    }
    if (im.want[kDob]) {
        im.dob_cue = std::make_unique<Regex>(kDobCuePattern, "curate.pii date_of_birth cue");
        im.dob_date = std::make_unique<Regex>(dob_date_pattern(), "curate.pii date_of_birth");
    }
    for (const PiiPattern& p : config.extra) {
        const std::string where = "curate.pii.extra " + name_text(p.name);
        if (p.name.empty() || !std::all_of(p.name.begin(), p.name.end(),
                                           [](char c) { return is_alnum(c) || c == '_'; }))
            throw ConfigError(where + ": name must be letters, digits and '_'");
        if (p.regex.empty())
            throw ConfigError(where + ": empty regex");
        try {
            im.extras.emplace_back(p.regex, where);
        } catch (const FormatError& e) {
            throw ConfigError(e.what());
        }
        std::string type = p.name;
        std::transform(type.begin(), type.end(), type.begin(),
                       [](char c) { return is_alpha(c) ? static_cast<char>(c & ~0x20) : c; });
        im.type_names.push_back(std::move(type));
    }
}

PiiDetector::~PiiDetector() = default;
PiiDetector::PiiDetector(PiiDetector&&) noexcept = default;
PiiDetector& PiiDetector::operator=(PiiDetector&&) noexcept = default;

void PiiDetector::Impl::find_numbers(std::string_view s, std::vector<Candidate>& out) const {
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        if (!is_digit(s[i])) {
            ++i;
            continue;
        }
        const std::size_t p = i;
        std::size_t end = 0;
        if (want[kIban] && p >= 2 && is_upper(s[p - 2]) && is_upper(s[p - 1]) &&
            parse_iban(s, p - 2, end))
            out.push_back({p - 2, end, kIban});
        if (!word_char_before(s, p)) {
            std::uint32_t addr = 0;
            if (want[kIp] && parse_ipv4(s, p, end, addr) && (any_ip || ipv4_is_public(addr))) {
                // BigCode: a single-digit x.x.x.x is a version number unless DNS talk is near.
                const std::size_t from = back_code_points(s, p, 100);
                const std::string_view near =
                    s.substr(from, forward_code_points(s, end, 100) - from);
                if (end - p != 7 || contains_ci(near, "dns") || contains_ci(near, "server"))
                    out.push_back({p, end, kIp});
            }
            if (want[kCard] && parse_card(s, p, end))
                out.push_back({p, end, kCard});
            if (want[kSsn] && parse_ssn(s, p, end))
                out.push_back({p, end, kSsn});
        }
        while (i < n && is_digit(s[i]))
            ++i;
    }
}

void PiiDetector::Impl::find_dates_of_birth(std::string_view s, std::vector<Candidate>& out) const {
    std::size_t pos = 0, cue_begin = 0, cue_end = 0;
    while (pos < s.size() && dob_cue->find(s, pos, cue_begin, cue_end)) {
        pos = cue_end;
        // The date must start within 30 characters; 40 more leave room for "September 30th,
        // 1985". A date cut by that limit is not taken (its trailing \b would be wrong).
        const std::size_t start_limit = forward_code_points(s, cue_end, 30);
        const std::size_t subject_end = forward_code_points(s, start_limit, 40);
        const std::string_view subject = s.substr(0, subject_end);
        std::size_t from = cue_end, b = 0, e = 0;
        while (from < subject_end && dob_date->find(subject, from, b, e) && b <= start_limit) {
            if ((e < subject_end || subject_end == s.size()) &&
                plausible_date(s.substr(b, e - b))) {
                out.push_back({b, e, kDob});
                break;
            }
            from = b + 1; // matches start at an ASCII digit or letter
        }
    }
}

// Whether a digit run is a numeric date (yyyy-mm-dd, dd.mm.yyyy, m/d/yyyy; one repeated
// separator). PhoneNumberMatcher never takes those, and they are common enough in web text that
// skipping them saves much of the phone stage's time.
bool date_shaped(std::string_view run) {
    std::size_t len[3] = {}, group = 0;
    for (char c : run) {
        if (is_digit(c))
            ++len[group];
        else if (group == 2 || len[group] == 0 || (c != '-' && c != '/' && c != '.') ||
                 (group == 1 && c != run[len[0]]))
            return false;
        else
            ++group;
    }
    return group == 2 && ((len[0] == 4 && len[1] <= 2 && len[2] <= 2) ||
                          (len[0] <= 2 && len[1] <= 2 && len[2] == 4));
}

void PiiDetector::Impl::find_phones(std::string_view s, std::vector<Candidate>& out) const {
    const std::size_t n = s.size();
    auto is_sep = [](char c) {
        return std::string_view(" -.()/").find(c) != std::string_view::npos;
    };
    // Runs of >= 7 digits joined by up to three separators; "bare" runs are one digit string
    // with no '+' or '(' before it.
    struct Run {
        std::size_t begin, end;
        bool bare;
    };
    std::vector<Run> runs;
    for (std::size_t i = 0; i < n;) {
        if (!is_digit(s[i])) {
            ++i;
            continue;
        }
        const std::size_t b = i;
        std::size_t e = i, digits = 0;
        bool joined = false;
        while (i < n) {
            if (is_digit(s[i])) {
                ++digits;
                e = ++i;
                continue;
            }
            std::size_t g = i;
            while (g < n && g - i < 3 && is_sep(s[g]))
                ++g;
            if (g == i || g >= n || !is_digit(s[g]))
                break;
            i = g;
            joined = true;
        }
        if (digits >= 7 && !date_shaped(s.substr(b, e - b)))
            runs.push_back({b, e, !joined && !(b > 0 && (s[b - 1] == '+' || s[b - 1] == '('))});
    }
    // A matcher call costs tens of microseconds, so a document gets 16 calls plus one per 128
    // bytes: formatted runs first, then bare digit strings (IDs, timestamps, table cells).
    std::size_t budget = 16 + n / 128;
    for (const bool bare : {false, true}) {
        for (const Run& r : runs) {
            if (budget == 0)
                return;
            // Digits already claimed (by a card, IBAN, SSN, IP, date, e-mail or a phone found
            // in an earlier window) need no phone check.
            if (r.bare != bare || std::any_of(out.begin(), out.end(), [&](const Candidate& c) {
                    return c.begin <= r.begin && r.end <= c.end;
                }))
                continue;
            std::size_t wb = r.begin > 8 ? r.begin - 8 : 0, we = std::min(n, r.end + 24);
            while (wb > 0 && is_continuation(s[wb]))
                --wb;
            while (we < n && is_continuation(s[we]))
                ++we;
            const std::string window(s.substr(wb, we - wb));
            // After "+" the region does not matter; else regions in order, until one finds a
            // number covering the whole run.
            const bool international = s.substr(wb, r.begin - wb).find('+') != std::string::npos;
            for (const std::string& region : regions) {
                if (budget-- == 0)
                    return;
                pn::PhoneNumberMatcher matcher(*phone_util, window, region,
                                               pn::PhoneNumberMatcher::VALID, 65535);
                pn::PhoneNumberMatch match;
                bool covered = false;
                while (matcher.HasNext() && matcher.Next(&match)) {
                    const std::size_t mb = wb + static_cast<std::size_t>(match.start());
                    const std::size_t me = mb + static_cast<std::size_t>(match.length());
                    out.push_back({mb, me, kPhone});
                    covered = covered || (mb <= r.begin && r.end <= me);
                }
                if (covered || international)
                    break;
            }
        }
    }
}

std::vector<PiiSpan> PiiDetector::find(std::string_view text) const {
    const Impl& im = *impl_;
    if (!im.enabled)
        return {};
    std::vector<Candidate> cands;
    if (im.want[kEmail])
        find_emails(text, cands);
    if (im.want[kIp])
        find_ipv6(text, im.any_ip, cands);
    if (im.want[kIp] || im.want[kCard] || im.want[kSsn] || im.want[kIban])
        im.find_numbers(text, cands);
    if (im.want[kDob])
        im.find_dates_of_birth(text, cands);
    for (std::size_t k = 0; k < im.extras.size(); ++k)
        im.extras[k].for_each_match(text, [&](std::size_t b, std::size_t e) {
            cands.push_back({b, e, kExtraBase + static_cast<int>(k)});
        });
    if (im.want[kPhone])
        im.find_phones(text, cands); // last: it skips runs the others already claimed

    // Longest first, then earliest, then kind order; keep what does not overlap a kept span.
    std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
        if (a.end - a.begin != b.end - b.begin)
            return a.end - a.begin > b.end - b.begin;
        return a.begin != b.begin ? a.begin < b.begin : a.kind < b.kind;
    });
    std::map<std::size_t, Candidate> kept; // by begin
    for (const Candidate& c : cands) {
        const auto it = kept.lower_bound(c.begin);
        if ((it != kept.end() && it->second.begin < c.end) ||
            (it != kept.begin() && std::prev(it)->second.end > c.begin))
            continue;
        kept.emplace_hint(it, c.begin, c);
    }
    std::vector<PiiSpan> spans;
    spans.reserve(kept.size());
    for (const auto& [begin, c] : kept)
        spans.push_back({begin, c.end, im.type_names[static_cast<std::size_t>(c.kind)]});
    return spans;
}

} // namespace slimtune::data::curate
