// Fuzz harness: A chat template (tokenizer_config.json's chat_template): recognised or refused,
// then rendered.
#include "data/chat_template.h"
#include "fuzz/fuzz_util.h"

using namespace slimtune;
using namespace slimtune::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return guarded([&] {
        data::TokenizerConfig config;
        config.chat_template = std::string(as_text(data, size));
        config.bos_token = "<s>";
        config.eos_token = "</s>";
        const data::ChatTemplate t = data::detect_chat_template(config, "tokenizer_config.json");
        const data::ChatMessage m[] = {{"user", "hi"}, {"assistant", "hello"}};
        data::render_chat_segments(t, m, {});
    });
}
