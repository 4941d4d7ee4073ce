// PII number parsers and validators: IPv4/IPv6, credit cards (Luhn), US SSNs, IBANs (mod 97).
#include "data/curate/pii.h"
#include "data/curate/pii_internal.h"

#include <algorithm>
#include <arpa/inet.h>

namespace slimtune::data::curate {

using namespace pii_detail;

namespace {

bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
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

// Presidio's leading digits (4, 51-55, 6, 1 but not 13 digits, 3) plus Mastercard's 2221-2720.
bool card_prefix_ok(std::string_view d) {
    const int four = (d[0] - '0') * 1000 + (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
    return d[0] == '4' || d[0] == '6' || d[0] == '3' || (d[0] == '1' && d.size() != 13) ||
           (four >= 5100 && four < 5600) || (four >= 2221 && four <= 2720);
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

} // namespace

namespace pii_detail {

// --- IP addresses -----------------------------------------------------------------------------

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

} // namespace pii_detail

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

} // namespace slimtune::data::curate
