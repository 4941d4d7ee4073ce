// report.json and report.md of a curation run: per stage what came in, what was kept, modified
// and dropped and why, with the stage's settings and speed; PII counts per type; what the
// toxicity screen removed and how often identity terms appear among removed and kept
// documents; group representation before and after balancing.
#pragma once

#include "data/curate/pipeline.h"

#include <nlohmann/json.hpp>
#include <string>

namespace slimtune::data::curate {

// `settings` maps each curate key as the recipe's [curate] section names it
// ("quality.min_words") to its value as text; each stage lists the keys of its section.
nlohmann::json report_json(const CurateSummary& summary, const nlohmann::json& settings);

// The same as Markdown tables, for people.
std::string report_markdown(const nlohmann::json& report);

} // namespace slimtune::data::curate
