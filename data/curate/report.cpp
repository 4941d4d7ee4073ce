#include "data/curate/report.h"

#include "common/text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace slimtune::data::curate {

using nlohmann::json;

namespace {

// The recipe keys each stage reads.
const std::map<std::string, std::vector<std::string>>& stage_keys() {
    static const std::map<std::string, std::vector<std::string>> keys{
        {"read", {"profile", "format", "text_field", "role_map", "on_bad_line"}},
        {"normalize", {"normalize."}},
        {"length", {"length."}},
        {"quality", {"quality."}},
        {"repetition", {"repetition."}},
        {"fineweb", {"fineweb."}},
        {"exact_dedup", {"dedup.exact"}},
        {"near_dedup",
         {"dedup.near", "dedup.ngram", "dedup.bands", "dedup.rows", "dedup.seed",
          "dedup.threshold"}},
        {"pii", {"pii."}},
        {"toxicity", {"toxicity."}},
        {"bias", {"bias."}},
    };
    return keys;
}

json settings_of(const std::string& stage, const json& settings) {
    json out = json::object();
    const auto it = stage_keys().find(stage);
    if (it == stage_keys().end() || !settings.is_object())
        return out;
    for (const auto& [key, value] : settings.items())
        for (const std::string& want : it->second)
            if (want.back() == '.' ? key.rfind(want, 0) == 0 : key == want)
                out[key] = value;
    return out;
}

std::string num(double x, int digits = 3) {
    return fixed_digits(x, digits);
}

std::string cell(const json& v) {
    if (v.is_null())
        return "-";
    if (v.is_number_float())
        return num(v.get<double>());
    if (v.is_string())
        return v.get<std::string>();
    return v.dump();
}

} // namespace

json report_json(const CurateSummary& s, const json& settings) {
    json stages = json::array();
    for (const StageCounts& st : s.stages) {
        const double mb = static_cast<double>(st.bytes) / 1e6;
        stages.push_back({{"name", st.name},
                          {"enabled", st.enabled},
                          {"in", st.in},
                          {"kept", st.kept},
                          {"modified", st.modified},
                          {"dropped", st.dropped},
                          {"added", st.added},
                          {"drop_reasons", st.drop_reasons},
                          {"changes", st.changes},
                          {"thread_seconds", st.seconds},
                          {"mb_per_thread_second", st.seconds > 0 ? json(mb / st.seconds) : json()},
                          {"settings", settings_of(st.name, settings)}});
    }
    const ToxicitySummary& t = s.toxicity;
    std::vector<std::pair<std::string, int64_t>> terms(t.dropped_terms.begin(),
                                                       t.dropped_terms.end());
    std::stable_sort(terms.begin(), terms.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    if (terms.size() > 25)
        terms.resize(25);
    json top = json::array();
    for (const auto& [term, n] : terms)
        top.push_back({{"term", term}, {"documents", n}});
    const auto rate = [](int64_t part, int64_t whole) {
        return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
    };
    const int64_t tox_kept = t.screened - t.dropped;
    return {
        {"inputs", s.inputs},
        {"totals",
         {{"lines", s.lines},
          {"documents_in", s.documents_in},
          {"documents_out", s.documents_out},
          {"bad_lines", s.bad_lines},
          {"bytes_in", s.bytes_in},
          {"bytes_out", s.bytes_out},
          {"seconds", s.seconds},
          {"threads", s.threads},
          {"mb_per_second", s.seconds > 0 ? static_cast<double>(s.bytes_in) / 1e6 / s.seconds : 0},
          {"documents_per_second",
           s.seconds > 0 ? static_cast<double>(s.documents_in) / s.seconds : 0}}},
        {"stages", stages},
        {"dedup",
         {{"too_short_for_near_dedup", s.dedup_too_short},
          {"candidates_below_threshold", s.dedup_rejected_candidates},
          {"index_bytes", s.dedup_index_bytes}}},
        {"pii", {{"documents", s.pii_documents}, {"spans_by_type", s.pii_by_type}}},
        {"toxicity",
         {{"screened", t.screened},
          {"dropped", t.dropped},
          {"flagged_kept", t.flagged},
          {"hits_kept", t.hits_kept},
          {"hits_dropped", t.hits_dropped},
          {"identity_docs_kept", t.identity_docs_kept},
          {"identity_docs_dropped", t.identity_docs_dropped},
          {"identity_rate_kept", rate(t.identity_docs_kept, tox_kept)},
          {"identity_rate_dropped", rate(t.identity_docs_dropped, t.dropped)},
          {"top_dropped_terms", top}}},
        {"bias", {{"before", s.bias_before}, {"after", s.bias_after}, {"balance", s.balance}}},
    };
}

std::string report_markdown(const json& r) {
    std::ostringstream md;
    const json& tot = r.at("totals");
    md << "# Curation report\n\n";
    md << "Inputs: ";
    for (const auto& in : r.at("inputs"))
        md << "`" << in.get<std::string>() << "` ";
    md << "\n\n"
       << tot.at("documents_in") << " documents in, " << tot.at("documents_out") << " out ("
       << tot.at("bad_lines") << " malformed lines), "
       << num(tot.at("bytes_in").get<double>() / 1e6, 1) << " MB in "
       << num(tot.at("seconds").get<double>(), 1) << " s on " << tot.at("threads") << " threads ("
       << num(tot.at("mb_per_second").get<double>(), 1) << " MB/s, "
       << num(tot.at("documents_per_second").get<double>(), 0) << " documents/s).\n\n";

    md << "## Stages\n\n| stage | in | kept | modified | dropped | added | reasons | MB/s per "
          "thread |\n|---|---|---|---|---|---|---|---|\n";
    for (const json& st : r.at("stages")) {
        if (!st.at("enabled").get<bool>()) {
            md << "| " << st.at("name").get<std::string>() << " | off | | | | | | |\n";
            continue;
        }
        std::string reasons;
        for (const auto& [k, v] : st.at("drop_reasons").items())
            reasons += (reasons.empty() ? "" : ", ") + k + " " + v.dump();
        for (const auto& [k, v] : st.at("changes").items())
            reasons += (reasons.empty() ? "" : ", ") + k + " " + v.dump() + " modified";
        md << "| " << st.at("name").get<std::string>() << " | " << st.at("in") << " | "
           << st.at("kept") << " | " << st.at("modified") << " | " << st.at("dropped") << " | "
           << st.at("added") << " | " << reasons << " | "
           << (st.at("mb_per_thread_second").is_null()
                   ? std::string("-")
                   : num(st.at("mb_per_thread_second").get<double>(), 1))
           << " |\n";
    }

    md << "\n## Settings\n\n| key | value |\n|---|---|\n";
    for (const json& st : r.at("stages"))
        for (const auto& [k, v] : st.at("settings").items())
            md << "| `" << k << "` | " << cell(v) << " |\n";

    md << "\n## PII\n\n" << r.at("pii").at("documents") << " documents had PII.\n\n";
    md << "| type | spans |\n|---|---|\n";
    for (const auto& [k, v] : r.at("pii").at("spans_by_type").items())
        md << "| " << k << " | " << v << " |\n";

    const json& t = r.at("toxicity");
    md << "\n## Toxicity\n\n"
       << t.at("screened") << " screened, " << t.at("dropped") << " dropped, "
       << t.at("flagged_kept") << " kept with some hits.\n\n"
       << "Documents mentioning identity terms: "
       << num(100 * t.at("identity_rate_kept").get<double>(), 1) << " % of kept, "
       << num(100 * t.at("identity_rate_dropped").get<double>(), 1)
       << " % of dropped (a much higher rate among dropped documents means the screen removes "
          "text about those groups; identity terms alone never cause removal).\n\n"
       << "| category | hits in kept | hits in dropped |\n|---|---|---|\n";
    for (const auto& [k, v] : t.at("hits_kept").items())
        md << "| " << k << " | " << v << " | " << t.at("hits_dropped").value(k, json(0)) << " |\n";
    if (!t.at("top_dropped_terms").empty()) {
        md << "\nMost frequent terms in dropped documents: ";
        for (const json& e : t.at("top_dropped_terms"))
            md << e.at("term").get<std::string>() << " (" << e.at("documents") << ") ";
        md << "\n";
    }

    const json& b = r.at("bias");
    if (b.at("before").is_object() && b.at("before").contains("groups")) {
        md << "\n## Representation\n\n| axis | group | count before | count after | documents "
              "before | documents after |\n|---|---|---|---|---|---|\n";
        const json& gb = b.at("before").at("groups");
        const json& ga = b.at("after").at("groups");
        for (std::size_t i = 0; i < gb.size(); ++i) {
            if (gb[i].at("count").get<int64_t>() == 0 &&
                (i >= ga.size() || ga[i].at("count").get<int64_t>() == 0))
                continue;
            md << "| " << cell(gb[i].at("axis")) << " | " << cell(gb[i].at("group")) << " | "
               << gb[i].at("count") << " | " << (i < ga.size() ? cell(ga[i].at("count")) : "-")
               << " | " << gb[i].at("documents") << " | "
               << (i < ga.size() ? cell(ga[i].at("documents")) : "-") << " |\n";
        }
        md << "\n| pair | ratio before | ratio after | log2 skew before | log2 skew after | "
              "% a before | % a after |\n|---|---|---|---|---|---|---|\n";
        const json& sb = b.at("before").at("skews");
        const json& sa = b.at("after").at("skews");
        for (std::size_t i = 0; i < sb.size() && i < sa.size(); ++i)
            md << "| " << cell(sb[i].at("group_a")) << " / " << cell(sb[i].at("group_b")) << " | "
               << cell(sb[i].at("ratio")) << " | " << cell(sa[i].at("ratio")) << " | "
               << cell(sb[i].at("log2_skew")) << " | " << cell(sa[i].at("log2_skew")) << " | "
               << cell(sb[i].at("percent_a")) << " | " << cell(sa[i].at("percent_a")) << " |\n";
        md << "\nBalancing: " << cell(b.at("balance").at("mode")) << " (cap "
           << cell(b.at("balance").at("max_skew")) << ")\n\n";
        for (const json& p : b.at("balance").at("pairs"))
            md << "- " << cell(p.at("group_a")) << " over " << cell(p.at("group_b")) << ": "
               << p.at("counterfactual_copies") << " counterfactual copies (fraction "
               << cell(p.at("counterfactual_fraction")) << "), " << p.at("downsampled")
               << " documents downsampled (keep rate " << cell(p.at("keep_rate")) << ")\n";
        md << "\nAssociations flagged (|log odds ratio| > 1, 95 % CI excluding 0, every cell "
              ">= 5), after balancing:\n\n| pair | category | attribute | log OR | 95 % CI "
              "|\n|---|---|---|---|---|\n";
        for (const json& a : b.at("after").at("associations"))
            if (a.value("flagged", false))
                md << "| " << cell(a.at("group_a")) << " / " << cell(a.at("group_b")) << " | "
                   << cell(a.at("category")) << " | " << cell(a.at("attribute")) << " | "
                   << cell(a.at("log_odds_ratio")) << " | [" << cell(a.at("ci_low")) << ", "
                   << cell(a.at("ci_high")) << "] |\n";
    }
    return md.str();
}

} // namespace slimtune::data::curate
