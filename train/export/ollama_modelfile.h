// An ollama Modelfile for an exported GGUF: FROM, the chat template rewritten in ollama's Go
// template language (over .Messages with .Role and .Content, as ollama passes a conversation),
// the default system prompt, and `stop` parameters at the template's end-of-turn markers and
// the tokenizer's EOS, so that ollama stops where the model was trained to stop.
#pragma once

#include "data/chat_template.h"

#include <string>
#include <vector>

namespace slimtune::train {

// The Go template of one of slimtune's chat formats (chat_template_names()).
std::string ollama_template(const data::ChatTemplate& tmpl);

// Strings ollama stops generating at: the format's end-of-turn and turn-start markers and the
// EOS token, distinct, in that order.
std::vector<std::string> ollama_stops(const data::ChatTemplate& tmpl);

// The whole Modelfile. `gguf_file` is written as given (relative to the Modelfile's directory).
std::string ollama_modelfile(const std::string& gguf_file, const data::ChatTemplate& tmpl);

} // namespace slimtune::train
