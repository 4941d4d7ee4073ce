// PII detection and redaction (data/curate/pii.h): the validators on their own, then exact spans
// (byte offsets counted by hand in the comments) for each type, the near misses each rule must
// reject, overlap resolution, redaction and the configuration errors.
#include "common/error.h"
#include "data/curate/pii.h"

#include <catch2/catch.hpp>
#include <ostream>
#include <thread>

namespace slimtune::data::curate {
// How Catch prints a span when a comparison fails.
std::ostream& operator<<(std::ostream& os, const PiiSpan& s) {
    return os << "{" << s.begin << ", " << s.end << ", " << s.type << "}";
}
} // namespace slimtune::data::curate

using namespace slimtune;
using namespace slimtune::data::curate;
using Spans = std::vector<PiiSpan>;

namespace {

const PiiDetector& default_detector() {
    static const PiiDetector detector{PiiConfig{}};
    return detector;
}

Spans find(std::string_view text) {
    return default_detector().find(text);
}

// The message of the ConfigError that constructing a detector from `config` throws.
std::string config_error(const PiiConfig& config) {
    try {
        PiiDetector detector(config);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(no ConfigError)";
}

} // namespace

TEST_CASE("pii: luhn_valid", "[curate]") {
    CHECK(luhn_valid("4111111111111111"));
    CHECK_FALSE(luhn_valid("4111111111111112"));
    // 79927398713: digits from the right 3,1,7,8,9,3,7,2,9,9,7; doubled every second one:
    // 3 + 2 + 7 + 7(16) + 9 + 6 + 7 + 4 + 9 + 9(18) + 7 = 70.
    CHECK(luhn_valid("79927398713"));
    CHECK_FALSE(luhn_valid("79927398710"));
    CHECK_FALSE(luhn_valid(""));
    CHECK_FALSE(luhn_valid("4111-1111-1111-1111"));
}

TEST_CASE("pii: iban_valid checks mod 97 and the country's length", "[curate]") {
    CHECK(iban_valid("DE89 3704 0044 0532 0130 00"));
    CHECK(iban_valid("GB82 WEST 1234 5698 7654 32"));
    CHECK(iban_valid("DE89370400440532013000"));
    CHECK(iban_valid("gb82-west-1234-5698-7654-32"));
    CHECK(iban_valid("NO93 8601 1117 947"));                // shortest in the table: 15
    CHECK_FALSE(iban_valid("DE89 3704 0044 0532 0130 01")); // last digit changed
    CHECK_FALSE(iban_valid("DE88 3704 0044 0532 0130 00")); // check digit changed
    // Mod 97 == 1 (check digits 41 computed for this BBAN) but 19 characters; DE needs 22.
    CHECK_FALSE(iban_valid("DE41370400440532013"));
    CHECK_FALSE(iban_valid("XX46370400440532013000")); // mod 97 == 1, no such country
    CHECK_FALSE(iban_valid("DE89 3704 0044 0532 0130 0"));
    CHECK_FALSE(iban_valid("DE89_3704_0044_0532_0130_00"));
    CHECK_FALSE(iban_valid(""));
}

TEST_CASE("pii: us_ssn_valid follows Presidio's rules plus the 9xx area", "[curate]") {
    CHECK(us_ssn_valid("536-22-8761"));
    CHECK(us_ssn_valid("536 22 8761"));
    CHECK(us_ssn_valid("536.22.8761"));
    CHECK(us_ssn_valid("536228761"));
    CHECK_FALSE(us_ssn_valid("536-22 8761")); // mixed delimiters
    CHECK_FALSE(us_ssn_valid("536_22_8761"));
    CHECK_FALSE(us_ssn_valid("53-622-8761"));
    CHECK_FALSE(us_ssn_valid("000-22-8761"));
    CHECK_FALSE(us_ssn_valid("666-22-8761"));
    CHECK_FALSE(us_ssn_valid("900-22-8761"));
    CHECK_FALSE(us_ssn_valid("999-22-8761"));
    CHECK(us_ssn_valid("899-22-8761"));
    CHECK_FALSE(us_ssn_valid("536-00-8761"));
    CHECK_FALSE(us_ssn_valid("536-22-0000"));
    CHECK_FALSE(us_ssn_valid("111-11-1111"));
    CHECK_FALSE(us_ssn_valid("123-45-6789"));
    CHECK_FALSE(us_ssn_valid("078-05-1120"));
    CHECK_FALSE(us_ssn_valid("53622876"));
}

TEST_CASE("pii: ipv4_is_public at the edges of the reserved ranges", "[curate]") {
    auto ip = [](unsigned a, unsigned b, unsigned c, unsigned d) {
        return static_cast<std::uint32_t>((a << 24) | (b << 16) | (c << 8) | d);
    };
    CHECK(ipv4_is_public(ip(8, 8, 8, 8)));
    CHECK(ipv4_is_public(ip(1, 1, 1, 1)));
    CHECK_FALSE(ipv4_is_public(ip(0, 1, 2, 3)));
    CHECK_FALSE(ipv4_is_public(ip(10, 0, 0, 1)));
    CHECK(ipv4_is_public(ip(100, 63, 255, 255)));
    CHECK_FALSE(ipv4_is_public(ip(100, 64, 0, 0)));
    CHECK_FALSE(ipv4_is_public(ip(100, 127, 255, 255)));
    CHECK(ipv4_is_public(ip(100, 128, 0, 0)));
    CHECK_FALSE(ipv4_is_public(ip(127, 0, 0, 1)));
    CHECK_FALSE(ipv4_is_public(ip(169, 254, 1, 1)));
    CHECK(ipv4_is_public(ip(172, 15, 255, 255)));
    CHECK_FALSE(ipv4_is_public(ip(172, 16, 0, 0)));
    CHECK_FALSE(ipv4_is_public(ip(172, 31, 255, 255)));
    CHECK(ipv4_is_public(ip(172, 32, 0, 0)));
    CHECK_FALSE(ipv4_is_public(ip(192, 0, 0, 8)));
    CHECK(ipv4_is_public(ip(192, 0, 0, 9)));
    CHECK_FALSE(ipv4_is_public(ip(192, 0, 2, 1)));
    CHECK_FALSE(ipv4_is_public(ip(192, 168, 1, 1)));
    CHECK_FALSE(ipv4_is_public(ip(198, 18, 0, 1)));
    CHECK_FALSE(ipv4_is_public(ip(198, 19, 255, 255)));
    CHECK(ipv4_is_public(ip(198, 20, 0, 1)));
    CHECK_FALSE(ipv4_is_public(ip(198, 51, 100, 1)));
    CHECK_FALSE(ipv4_is_public(ip(203, 0, 113, 5)));
    CHECK_FALSE(ipv4_is_public(ip(224, 0, 0, 1)));
    CHECK_FALSE(ipv4_is_public(ip(255, 255, 255, 255)));
    CHECK(ipv4_is_public(ip(223, 255, 255, 255)));
}

TEST_CASE("pii: credit cards need the shape and a valid Luhn sum", "[curate]") {
    // "Card " is 5 bytes; 16 digits and 3 spaces end at 24.
    CHECK(find("Card 4111 1111 1111 1111 ok") == Spans{{5, 24, "CREDIT_CARD"}});
    CHECK(find("Card 4111 1111 1111 1112 ok").empty());
    CHECK(find("Card 4111-1111-1111-1111.") == Spans{{5, 24, "CREDIT_CARD"}});
    // Amex 15 digits [5, 20); ", MC " to 25; 2-series Mastercard 16 digits to 41.
    CHECK(find("Amex 378282246310005, MC 2223003122003222.") ==
          Spans{{5, 20, "CREDIT_CARD"}, {25, 41, "CREDIT_CARD"}});
    CHECK(find("3782 822463 10005") == Spans{{0, 17, "CREDIT_CARD"}}); // Amex 4-6-5 blocks
    CHECK(find("4111 1111-1111 1111").empty());                        // mixed separators
    CHECK(find("ID4111111111111111").empty());                         // glued to a word
    CHECK(find("7111111111111111111").empty());  // Luhn-valid but no issuer prefix 7
    CHECK(find("41111111111111111111").empty()); // 20 digits
}

TEST_CASE("pii: IBANs need the shape, the checksum and the country's length", "[curate]") {
    // "IBAN: " is 6 bytes; 22 characters and 5 spaces end at 33.
    CHECK(find("IBAN: DE89 3704 0044 0532 0130 00.") == Spans{{6, 33, "IBAN"}});
    CHECK(find("GB82 WEST 1234 5698 7654 32") == Spans{{0, 27, "IBAN"}});
    CHECK(find("pay DE89370400440532013000 now") == Spans{{4, 26, "IBAN"}});
    CHECK(find("IBAN: DE89 3704 0044 0532 0130 01.").empty());
    CHECK(find("IBAN: DE41370400440532013.").empty()); // checksum fine, 19 of 22 characters
    CHECK(find("DE89370400440532013000X").empty());    // runs on into a word
    CHECK(find("XDE89370400440532013000").empty());
    // ES is 24 characters: the upper-case word after it is not taken in.
    CHECK(find("ES91 2100 0418 4502 0005 1332 ABCD") == Spans{{0, 29, "IBAN"}});
}

TEST_CASE("pii: US SSNs by shape, validity and context", "[curate]") {
    CHECK(find("SSN 536-22-8761.") == Spans{{4, 15, "US_SSN"}});
    CHECK(find("536 22 8761") == Spans{{0, 11, "US_SSN"}});
    CHECK(find("536.22.8761") == Spans{{0, 11, "US_SSN"}});
    for (const char* invalid : {"000-22-8761", "666-22-8761", "912-22-8761", "536-00-8761",
                                "536-22-0000", "536-22.8761", "536 22-8761", "111-11-1111"})
        CHECK(find(invalid).empty());
    PiiConfig ssn_only;
    ssn_only.types = {"us_ssn"};
    const PiiDetector ssn(ssn_only);
    CHECK(ssn.find("1-536-22-8761").empty()); // part of a longer number (a valid phone number)
    CHECK(ssn.find("536-22-8761-44").empty());
    // Bare 9 digits only after "ssn" / "social security" within 50 characters.
    CHECK(find("My SSN is 536228761.") == Spans{{10, 19, "US_SSN"}});
    CHECK(find("social security no. 536228761") == Spans{{20, 29, "US_SSN"}});
    CHECK(find("Order 536228761 shipped").empty());
    CHECK(find("classname 536228761").empty()); // "ssn" inside a word is no cue
}

TEST_CASE("pii: e-mail addresses", "[curate]") {
    // "Write to " is 9 bytes; "john.doe+news" 13, "@" 1, "mail.example.co.uk" 18: end 41.
    CHECK(find("Write to john.doe+news@mail.example.co.uk today") == Spans{{9, 41, "EMAIL"}});
    CHECK(find("<first.last@example.org>") == Spans{{1, 23, "EMAIL"}});
    CHECK(find("a..b@x.io") == Spans{{3, 9, "EMAIL"}}); // no double dot in the local part
    CHECK(find("end: bob@example.com.") == Spans{{5, 20, "EMAIL"}}); // final dot stays
    CHECK(find("x@example.com.5") == Spans{{0, 13, "EMAIL"}});
    CHECK(find("idn bob@xn--80ak6aa92e.com") == Spans{{4, 26, "EMAIL"}});
    CHECK(find("a@b").empty());
    CHECK(find("a@b.c").empty());
    CHECK(find("x@example.c0m").empty());
    CHECK(find("x@-example.com").empty());
    CHECK(find("\xC3\xBC"
               "ber@example.com")
              .empty()); // a letter in another script glued to the local part
}

TEST_CASE("pii: public IP addresses only, no version numbers", "[curate]") {
    // "Host " 5; "93.184.216.34" 13 -> 18; " and " -> 23; "192.168.1.1" 11 -> 34; " and " -> 39;
    // "10.0.0.1" 8 -> 47.
    const std::string_view hosts = "Host 93.184.216.34 and 192.168.1.1 and 10.0.0.1.";
    CHECK(find(hosts) == Spans{{5, 18, "IP_ADDRESS"}});
    PiiConfig all_ips;
    all_ips.types = {"ip_address"};
    all_ips.redact_private_ips = true;
    CHECK(PiiDetector(all_ips).find(hosts) ==
          Spans{{5, 18, "IP_ADDRESS"}, {23, 34, "IP_ADDRESS"}, {39, 47, "IP_ADDRESS"}});
    CHECK(find("DNS server 8.8.8.8 answers") == Spans{{11, 18, "IP_ADDRESS"}});
    // BigCode's version rule: x.x.x.x with no "dns"/"server" near is not an address.
    CHECK(find("Upgrade to version 1.2.3.4 now").empty());
    CHECK(find("ping 8.8.8.8 now").empty());
    CHECK(find("the server runs 1.2.3.4") == Spans{{16, 23, "IP_ADDRESS"}});
    for (const char* not_ip : {"010.1.1.1", "1.2.3.4.5", "256.1.1.1", "v93.184.216.34",
                               "93.184.216", "on 2023.01.15.22"})
        CHECK(PiiDetector(all_ips).find(not_ip).empty());
    // IPv6: "via " 4, "2606:4700:4700::1111" 20 -> 24 (the final dot stays).
    CHECK(find("via 2606:4700:4700::1111.") == Spans{{4, 24, "IP_ADDRESS"}});
    CHECK(find("2a00:1450:4001:0829:0000:0000:0000:200e") == Spans{{0, 39, "IP_ADDRESS"}});
    for (const char* not_public : {"2001:db8::1", "fe80::1", "::1", "std::vector", "12:30:45"})
        CHECK(find(not_public).empty());
}

TEST_CASE("pii: phone numbers validated by libphonenumber", "[curate]") {
    CHECK(find("Call +1 650-253-0000 now") == Spans{{5, 20, "PHONE"}});
    CHECK(find("Call (650) 253-0000 now") == Spans{{5, 19, "PHONE"}});
    CHECK(find("Call +44 20 7946 0958 now") == Spans{{5, 21, "PHONE"}});
    CHECK(find("Call 6502530000 today") == Spans{{5, 15, "PHONE"}});
    CHECK(find("Code 12345678 here").empty());
    CHECK(find("Order #123456789 shipped").empty());
    CHECK(find("Released 2023-01-15 and 15.01.2023").empty());
    PiiConfig us_only;
    us_only.phone_regions = {"US"};
    // The UK number in national format needs region GB.
    CHECK(PiiDetector(us_only).find("Ring 020 7946 0958").empty());
    CHECK(find("Ring 020 7946 0958") == Spans{{5, 18, "PHONE"}});
}

TEST_CASE("pii: phone checks are budgeted per document, formatted numbers first", "[curate]") {
    // "call +1 650-253-0000.\n" (22 bytes), 200 lines "id " + 10 digits + "\n" (14 bytes each,
    // to 2822), "or 6502530000." (14): 2836 bytes, a budget of 16 + 2836 / 128 = 38 matcher
    // calls. The formatted number costs one (region US, [5, 20)); the 37 left go to the first
    // bare IDs (8 regions each, none valid), so the bare 6502530000 at 2825 is never checked.
    std::string text = "call +1 650-253-0000.\n";
    for (int i = 0; i < 200; ++i)
        text += "id " + std::to_string(1000000000 + i * 7919) + "\n";
    text += "or 6502530000.";
    REQUIRE(text.size() == 2836);
    CHECK(find(text) == Spans{{5, 20, "PHONE"}});
    // Alone, the same bare number is found.
    CHECK(find("or 6502530000.") == Spans{{3, 13, "PHONE"}});
}

TEST_CASE("pii: dates of birth need a cue within 30 characters", "[curate]") {
    CHECK(find("Date of birth: 12/03/1985.") == Spans{{15, 25, "DATE_OF_BIRTH"}});
    // "She was born on " is 16 bytes; "12 March 1985" 13.
    CHECK(find("She was born on 12 March 1985 in Leeds.") == Spans{{16, 29, "DATE_OF_BIRTH"}});
    CHECK(find("DOB March 12th, 1985") == Spans{{4, 20, "DATE_OF_BIRTH"}});
    CHECK(find("D.O.B. 1985-03-12") == Spans{{7, 17, "DATE_OF_BIRTH"}});
    CHECK(find("birthday: 7 Jan. 2001") == Spans{{10, 21, "DATE_OF_BIRTH"}});
    CHECK(find("The meeting was on 12/03/1985.").empty());
    CHECK(find("born 31/13/1985").empty()); // no month 13 either way round
    CHECK(find("born in 1985").empty());
    CHECK(find("stubborn 12/03/1985").empty());
    // 31 characters between the cue and the date.
    CHECK(find("born, according to the parish book, 12/03/1985").empty());
}

TEST_CASE("pii: extra patterns are types of their own", "[curate]") {
    PiiConfig config;
    config.extra = {{"EMPLOYEE_id", R"(EMP-\d{6})"}};
    const PiiDetector detector(config);
    // "Badge " 6, "EMP-004217" 10.
    CHECK(detector.find("Badge EMP-004217 issued") == Spans{{6, 16, "EMPLOYEE_ID"}});
    CHECK(redact("Badge EMP-004217 issued", detector.find("Badge EMP-004217 issued")) ==
          "Badge <EMPLOYEE_ID> issued");
    CHECK(detector.find("Badge EMP-0042 issued").empty());
}

TEST_CASE("pii: overlapping candidates keep the longest, then the earliest", "[curate]") {
    PiiConfig config;
    config.types = {"email", "credit_card"};
    config.extra = {{"CONTACT", R"(contact=\S+)"},
                    {"DOMAIN", R"(example\.com)"},
                    {"MAIL_COPY", R"(bob@example\.com)"},
                    {"ABC", "abc"},
                    {"BCD", "bcd"},
                    {"BLOCK", R"(\d{4} \d{4})"}};
    const PiiDetector detector(config);
    // "=" is no local-part character (URL queries): the e-mail is [8, 23), CONTACT [0, 23).
    CHECK(detector.find("contact=bob@example.com") == Spans{{0, 23, "CONTACT"}});
    CHECK(detector.find("contact:bob@example.com") == Spans{{8, 23, "EMAIL"}});
    // The e-mail beats the shorter DOMAIN inside it and ties MAIL_COPY (built-ins first).
    CHECK(detector.find("to bob@example.com") == Spans{{3, 18, "EMAIL"}});
    CHECK(detector.find("abcd") == Spans{{0, 3, "ABC"}});
    CHECK(detector.find("4111 1111 1111 1111") == Spans{{0, 19, "CREDIT_CARD"}});
    // A card number is not also a phone number.
    CHECK(find("Card 4111 1111 1111 1111") == Spans{{5, 24, "CREDIT_CARD"}});
}

TEST_CASE("pii: redact replaces each span by its tag", "[curate]") {
    const std::string_view text = "Mail bob@example.com or call +1 650-253-0000.";
    CHECK(find(text) == Spans{{5, 20, "EMAIL"}, {29, 44, "PHONE"}});
    CHECK(redact(text, find(text)) == "Mail <EMAIL> or call <PHONE>.");
    CHECK(redact(text, {}) == text);
    CHECK(redact("", {}).empty());
    const Spans overlapping{{0, 4, "A"}, {3, 6, "B"}};
    CHECK_THROWS_AS(redact(text, overlapping), Error);
    const Spans unsorted{{5, 6, "A"}, {0, 1, "B"}};
    CHECK_THROWS_AS(redact(text, unsorted), Error);
    const Spans outside{{40, 46, "A"}};
    CHECK_THROWS_WITH(redact(text, outside),
                      Catch::Contains("[40, 46)") && Catch::Contains("45 bytes"));
    const Spans empty{{3, 3, "A"}};
    CHECK_THROWS_AS(redact(text, empty), Error);
}

TEST_CASE("pii: configuration selects types and can disable the stage", "[curate]") {
    const std::string_view text = "bob@example.com 4111 1111 1111 1111";
    PiiConfig off;
    off.enabled = false;
    CHECK(PiiDetector(off).find(text).empty());
    PiiConfig email_only;
    email_only.types = {"email"};
    CHECK(PiiDetector(email_only).find(text) == Spans{{0, 15, "EMAIL"}});
    PiiConfig none;
    none.types.clear();
    CHECK(PiiDetector(none).find(text).empty());
    CHECK(find("").empty());
    CHECK(find("No personal data here, just 42 words and 3.14.").empty());
}

TEST_CASE("pii: bad configuration throws ConfigError naming the key", "[curate]") {
    PiiConfig bad_regex;
    bad_regex.extra = {{"EMPLOYEE_ID", R"(EMP-(\d{6})"}};
    const std::string message = config_error(bad_regex);
    CHECK_THAT(message, Catch::StartsWith("curate.pii.extra 'EMPLOYEE_ID': bad regex"));
    PiiConfig bad_name;
    bad_name.extra = {{"two words", "x"}};
    CHECK_THAT(config_error(bad_name), Catch::StartsWith("curate.pii.extra 'two words': name"));
    PiiConfig empty_regex;
    empty_regex.extra = {{"X", ""}};
    CHECK_THAT(config_error(empty_regex), Catch::Contains("empty regex"));
    PiiConfig bad_type;
    bad_type.types = {"email", "passport"};
    CHECK_THAT(config_error(bad_type),
               Catch::StartsWith("curate.pii.types: unknown type 'passport'"));
    PiiConfig bad_region;
    bad_region.phone_regions = {"US", "UK"};
    CHECK_THAT(config_error(bad_region),
               Catch::StartsWith("curate.pii.phone_regions: unknown region 'UK'"));
    PiiConfig no_region;
    no_region.phone_regions.clear();
    CHECK_THAT(config_error(no_region), Catch::Contains("empty while type 'phone'"));
    no_region.types = {"email"}; // no phones, no regions needed
    CHECK(config_error(no_region) == "(no ConfigError)");
}

TEST_CASE("pii: find is thread-safe and gives the same spans in parallel", "[curate]") {
    std::vector<std::string> docs;
    for (int i = 0; i < 40; ++i)
        docs.push_back("Doc " + std::to_string(i) + ": call +1 650-253-0000, mail a" +
                       std::to_string(i) + "@example.com, card 4111 1111 1111 1111, born " +
                       std::to_string(1 + i % 28) + "/03/1985.");
    std::vector<Spans> serial;
    for (const std::string& d : docs)
        serial.push_back(find(d));
    REQUIRE(serial[7].size() == 4);
    std::vector<std::vector<Spans>> parallel(4, std::vector<Spans>(docs.size()));
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < parallel.size(); ++t)
        threads.emplace_back([&, t] {
            for (std::size_t i = 0; i < docs.size(); ++i)
                parallel[t][i] = find(docs[i]);
        });
    for (std::thread& th : threads)
        th.join();
    for (const auto& results : parallel)
        CHECK(results == serial);
}
