// Chat-template rendering throughput of slimtune's Jinja engine (data/chat_engine.h): renders
// every conversation of a JSONL file ({"messages": [...]} per line) with a template, once as
// text and once with the assistant-only masks, on one thread; prints one JSON line per mode.
//   bench_chat_template TEMPLATE.jinja CONVERSATIONS.jsonl [EOS_TOKEN [BOS_TOKEN]]
#include "common/text.h"
#include "data/chat_engine.h"

#include <chrono>
#include <cstdio>
#include <iostream>

using namespace slimtune;
using namespace slimtune::data;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: bench_chat_template TEMPLATE.jinja CONVERSATIONS.jsonl [EOS [BOS]]\n";
        return 2;
    }
    try {
        TokenizerConfig config;
        config.chat_template = read_file(argv[1]);
        if (argc > 3)
            config.eos_token = argv[3];
        if (argc > 4)
            config.bos_token = argv[4];
        const ChatEngine engine(config.chat_template, argv[1], config, {});
        std::vector<nlohmann::ordered_json> conversations;
        for (const std::string& line : split_list(read_file(argv[2]), '\n'))
            if (!line.empty())
                conversations.push_back(nlohmann::ordered_json::parse(line)["messages"]);
        for (const bool masks : {false, true}) {
            std::size_t bytes = 0, segments = 0;
            const auto start = std::chrono::steady_clock::now();
            for (const auto& messages : conversations) {
                if (masks) {
                    for (const ChatSegment& s : engine.segments(messages)) {
                        bytes += s.text.size();
                        segments += s.trainable;
                    }
                } else {
                    bytes += engine.render(messages).size();
                }
            }
            const double s =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::printf("{\"engine\": \"slimtune\", \"mode\": \"%s\", \"conversations\": %zu, "
                        "\"bytes\": %zu, \"seconds\": %.3f, \"conversations_per_s\": %.0f}\n",
                        masks ? "masks" : "text", conversations.size(), bytes, s,
                        static_cast<double>(conversations.size()) / s);
            (void)segments;
        }
    } catch (const std::exception& e) {
        std::cerr << "bench_chat_template: " << e.what() << "\n";
        return 1;
    }
}
