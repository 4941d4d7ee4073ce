#include "data/curate/pii.h"

#include "common/error.h"
#include "common/text.h"
#include "data/curate/pii_internal.h"
#include "data/tokenizer/regex.h"

#include <algorithm>
#include <map>
#include <phonenumbers/phonenumbermatch.h>
#include <phonenumbers/phonenumbermatcher.h>
#include <phonenumbers/phonenumberutil.h>
#include <set>

namespace slimtune::data::curate {

using namespace pii_detail;

namespace {

namespace pn = i18n::phonenumbers;

constexpr const char* kKindNames[] = {"EMAIL",      "CREDIT_CARD",   "IBAN", "US_SSN",
                                      "IP_ADDRESS", "DATE_OF_BIRTH", "PHONE"};

// Byte offset `count` code points after byte i (clamped to the text).
std::size_t forward_code_points(std::string_view s, std::size_t i, std::size_t count) {
    while (i < s.size() && count > 0) {
        ++i;
        while (i < s.size() && is_continuation(s[i]))
            ++i;
        --count;
    }
    return i;
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
