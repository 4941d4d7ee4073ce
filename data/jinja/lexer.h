// The Jinja lexer: template source to tokens, with Jinja2's whitespace rules as transformers
// configures them (trim_blocks, lstrip_blocks, {%- -%} {{- -}} {#- -#} and the + forms, one
// trailing newline dropped, \r\n and \r read as \n).
#pragma once

#include "common/error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace slimtune::data::jinja {

struct Token {
    enum class Type {
        data,
        block_begin,
        block_end,
        var_begin,
        var_end,
        name,
        string,
        integer,
        real,
        op,
        end
    };
    Type type;
    std::string value; // data text, name, decoded string, number text or operator
    int line = 1, column = 1;
};

// A template that cannot be parsed or rendered: "NAME:LINE:COLUMN: what" (NAME says where the
// template came from, say "Qwen3's tokenizer_config.json chat_template").
struct TemplateError : ConfigError {
    using ConfigError::ConfigError;
};
[[noreturn]] void fail_at(const std::string& name, int line, int column, const std::string& what);

// Throws TemplateError (template.h) naming name:line:column for a malformed tag or string.
std::vector<Token> tokenize(const std::string& source, const std::string& name);

} // namespace slimtune::data::jinja
