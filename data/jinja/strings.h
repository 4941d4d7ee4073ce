// Python's str operations on provenance-tagged text (value.h Text): what is kept of the input
// keeps its tags. Indices are in code points, as Python counts them.
#pragma once

#include "data/jinja/value.h"

#include <optional>
#include <string>
#include <vector>

namespace slimtune::data::jinja {

// str.strip/lstrip/rstrip: `chars` none strips white space (str.isspace).
Text strip(const Text& s, const std::optional<std::string>& chars, bool left, bool right);
// str.split/rsplit: `sep` none splits on runs of white space and drops empty pieces.
std::vector<Text> split(const Text& s,
                        const std::optional<std::string>& sep,
                        std::int64_t max_split,
                        bool from_right);
std::vector<Text> split_lines(const Text& s);
// str.replace (count < 0: all).
Text replace(const Text& s, const std::string& old, const Text& with, std::int64_t count);
// upper, lower, capitalize, swapcase, title (str.title) or title_words (Jinja2's title filter).
Text change_case(const Text& s, const std::string& how);
std::int64_t count(const std::string& s, const std::string& sub);
// str.find / str.rfind in code points; -1 when absent.
std::int64_t find(const std::string& s, const std::string& sub, bool from_right);
// isdigit, isalpha, isalnum, isspace, islower, isupper.
bool char_class(const std::string& s, const std::string& name);
std::int64_t code_point_count(const std::string& s);

} // namespace slimtune::data::jinja
