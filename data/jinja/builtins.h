// The names of the filters and tests builtins.cpp implements: a template that uses another is
// refused when it is parsed, as Jinja2 refuses it when it compiles.
#pragma once

#include <string>

namespace slimtune::data::jinja {

bool is_filter(const std::string& name);
bool is_test(const std::string& name);

} // namespace slimtune::data::jinja
