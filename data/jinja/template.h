// A Jinja template as transformers renders chat templates: Python's Jinja2 in an immutable
// sandbox with trim_blocks, lstrip_blocks, loop controls, its tojson, raise_exception and
// strftime_now. The output is provenance-tagged text (value.h Text): what came from the
// template, what from each message. Errors are TemplateError "NAME:LINE:COLUMN: what".
#pragma once

#include "data/jinja/interpreter.h"
#include "data/jinja/value.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace slimtune::data::jinja {

class Template {
public:
    // Parses `source`; `name` says where it came from in every message.
    Template(const std::string& source, std::string name, Limits limits = {});
    // Renders with `variables` (messages, add_generation_prompt, bos_token, ...). `now` fixes
    // what strftime_now sees (tests); none: the clock.
    Text render(const Dict& variables, std::optional<std::time_t> now = std::nullopt) const;
    const std::string& name() const { return name_; }

private:
    std::string name_;
    Limits limits_;
    Body body_;
};

// A JSON value as a template value, every string tagged `tag` (objects keep their key order).
Value from_json(const nlohmann::ordered_json& j, std::int32_t tag = 0);

} // namespace slimtune::data::jinja
