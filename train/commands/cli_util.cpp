#include "train/commands/cli_util.h"

#include "train/recipe.h"

#include <iostream>
#include <omp.h>
#include <sstream>

namespace slimtune::train {

namespace po = boost::program_options;

namespace {

// Set by describe_command: parse_options fills it and throws DescribeDone.
CommandSyntax* g_describe = nullptr;
struct DescribeDone {};

void record_syntax(const po::options_description& opts,
                   const po::positional_options_description* positional,
                   bool recipe_keys,
                   const std::string& prefix) {
    CommandSyntax& s = *g_describe;
    std::ostringstream caption;
    caption << opts;
    // The caption is all that comes before the first option line.
    const std::string text = caption.str();
    s.caption = text.substr(0, text.find("\n  -"));
    for (const auto& o : opts.options()) {
        const bool is_switch = o->semantic()->max_tokens() == 0;
        s.options.push_back(
            {o->long_name(), is_switch ? std::string() : o->format_parameter(), o->description()});
    }
    if (positional && positional->max_total_count() > 0)
        s.positional = positional->name_for_position(0);
    s.takes_recipe_keys = recipe_keys;
    s.recipe_prefix = prefix;
}

// "curate.quality.min_words" -> "curate.quality"; "lora.rank" -> "lora".
std::string key_group(const std::string& name) {
    return name.substr(0, name.rfind('.'));
}

} // namespace

bool parse_options(const std::vector<std::string>& args,
                   po::options_description& opts,
                   po::variables_map& vm,
                   const po::positional_options_description* positional,
                   std::vector<std::string>* recipe_overrides,
                   const std::string& override_prefix) {
    opts.add_options()("help,h", "show this help");
    if (recipe_overrides)
        opts.add_options()("help-all", "show this help with every recipe key explained");
    if (g_describe) {
        record_syntax(opts, positional, recipe_overrides != nullptr, override_prefix);
        throw DescribeDone{};
    }
    auto parser = po::command_line_parser(args).options(opts);
    if (positional)
        parser.positional(*positional);
    if (recipe_overrides) {
        // A style parser that consumes the tokens it takes and returns no option: Boost then
        // moves on to the next token.
        parser.extra_style_parser([&](std::vector<std::string>& tokens) {
            const std::string& t = tokens.front();
            const std::string key =
                t.size() > 2 && t.starts_with("--") ? t.substr(2, t.find('=') - 2) : std::string();
            const bool is_override =
                !key.empty() && key.starts_with(override_prefix) && !opts.find_nothrow(key, false);
            if (is_override) {
                const bool inline_value = t.find('=') != std::string::npos;
                recipe_overrides->push_back(t);
                size_t used = 1;
                if (!inline_value && tokens.size() > 1) {
                    recipe_overrides->push_back(tokens[1]);
                    used = 2;
                }
                tokens.erase(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(used));
            }
            return std::vector<po::option>{};
        });
    }
    try {
        po::store(parser.run(), vm);
    } catch (const po::unknown_option& e) {
        if (!recipe_overrides)
            throw;
        throw UsageError("unknown option '" + e.get_option_name() + "' (settings are --" +
                         override_prefix + "KEY VALUE; see --help)");
    }
    const bool all = vm.count("help-all") > 0;
    if (vm.count("help") || all) {
        std::cout << opts;
        if (recipe_overrides) {
            std::cout << "\nrecipe keys (--"
                      << (override_prefix.empty() ? "section.key" : override_prefix + "KEY")
                      << " VALUE on the command line)" << (all ? "" : "; --help-all explains each")
                      << ":\n"
                      << recipe_keys_help(override_prefix, all);
        }
        return false;
    }
    po::notify(vm);
    return true;
}

void set_threads(int threads) {
    // Each OpenMP thread takes a stack (8 MiB by default) and the kernels size per-thread
    // buffers by the count: a count far past any machine's cores exhausts memory or the
    // process's thread limit and crashes in the runtime, so it is refused here.
    if (threads < 0 || threads > kMaxThreads)
        throw UsageError("--threads: " + std::to_string(threads) +
                         " is out of range; expected 0 (" + "OMP_NUM_THREADS or all cores) to " +
                         std::to_string(kMaxThreads));
    if (threads > 0)
        omp_set_num_threads(threads);
}

CommandSyntax describe_command(int (*command)(const std::vector<std::string>&)) {
    CommandSyntax s;
    g_describe = &s;
    try {
        command({});
    } catch (const DescribeDone&) {
    }
    g_describe = nullptr;
    return s;
}

std::string recipe_keys_help(const std::string& prefix, bool all) {
    constexpr size_t kWidth = 80;
    std::ostringstream out;
    std::string group, line;
    const auto flush = [&] {
        if (!line.empty())
            out << line << "\n";
        line.clear();
    };
    for (const RecipeKeyDoc& k : recipe_key_docs()) {
        if (!k.name.starts_with(prefix) || (prefix.empty() && k.section == "curate"))
            continue;
        if (key_group(k.name) != group) {
            flush();
            group = key_group(k.name);
            std::string what;
            for (const RecipeSection& sec : recipe_sections())
                if (sec.name == group)
                    what = ": " + sec.what;
            out << (all ? "\n" : "") << "  [" << group << "]" << what << "\n";
        }
        const std::string leaf = k.name.substr(group.size() + 1);
        if (all) {
            out << "    " << k.name << " = " << k.default_value << "\n        " << k.expected
                << ": " << k.help << "\n";
        } else {
            if (!line.empty() && line.size() + 1 + leaf.size() > kWidth)
                flush();
            line += (line.empty() ? "      " : " ") + leaf;
        }
    }
    flush();
    if (prefix.empty())
        out << "  [curate] keys: see slimtune curate --help\n";
    return out.str();
}

} // namespace slimtune::train
