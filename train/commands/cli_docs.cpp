// `slimtune help`: a command's --help, the man page and the bash completion, all made from the
// command table (commands.cpp), each command's own option declarations (describe_command) and
// the recipe key table (recipe_key_docs), so none of them can drift from --help.
#include "train/commands/cli_util.h"
#include "train/commands/commands.h"
#include "train/recipe.h"

#include <iostream>
#include <set>
#include <sstream>

namespace slimtune::train {

namespace po = boost::program_options;

namespace {

constexpr const char* kHelpUsage =
    "usage: slimtune help [COMMAND] [--man | --bash-completion]\n"
    "\n"
    "Prints a command's help (as 'slimtune COMMAND --help'), the slimtune(1) man page in roff,\n"
    "or the bash completion script; 'cmake --install' installs the last two.\n";

// Text as roff shows it literally: backslashes and hyphens escaped, no line starting a request.
std::string roff(const std::string& text) {
    std::string out;
    bool line_start = true;
    for (const char c : text) {
        if (line_start && (c == '.' || c == '\''))
            out += "\\&";
        if (c == '\\')
            out += "\\e";
        else if (c == '-')
            out += "\\-";
        else
            out += c;
        line_start = c == '\n';
    }
    return out;
}

// The recipe keys a command takes on its command line.
std::vector<RecipeKeyDoc> keys_of(const CommandSyntax& s) {
    std::vector<RecipeKeyDoc> out;
    if (s.takes_recipe_keys)
        for (const RecipeKeyDoc& k : recipe_key_docs())
            if (k.name.starts_with(s.recipe_prefix))
                out.push_back(k);
    return out;
}

void man_command(std::ostream& os, const Command& c) {
    const CommandSyntax s = describe_command(c.run);
    os << ".SS " << c.name << "\n"
       << roff(c.summary) << ".\n.PP\n.nf\n"
       << roff(s.caption) << "\n.fi\n";
    for (const OptionDoc& o : s.options) {
        os << ".TP\n.B \\-\\-" << roff(o.name);
        if (!o.parameter.empty())
            os << " \" " << roff(o.parameter) << "\"";
        os << "\n" << roff(o.description) << "\n";
    }
    if (s.takes_recipe_keys)
        os << ".TP\n.BI \\-\\-"
           << roff(s.recipe_prefix.empty() ? "SECTION.KEY" : s.recipe_prefix + "KEY")
           << " \" VALUE\"\nany recipe key (see RECIPE KEYS), overriding the recipe file.\n";
}

void man_recipe_keys(std::ostream& os) {
    os << ".SH RECIPE KEYS\nA recipe is an INI file (recipes/ has examples); every key can also be "
          "given on the command line as \\fB\\-\\-section.key\\fR \\fIVALUE\\fR.\n";
    std::string section;
    for (const RecipeKeyDoc& k : recipe_key_docs()) {
        if (k.section != section) {
            section = k.section;
            for (const RecipeSection& sec : recipe_sections())
                if (sec.name == section)
                    os << ".SS [" << roff(sec.name) << "]\n" << roff(sec.what) << ".\n";
        }
        os << ".TP\n.B " << roff(k.name) << "\n";
        os << roff(k.help) << " (" << roff(k.expected)
           << (k.default_value.empty() ? "" : "; default " + roff(k.default_value)) << ")\n";
    }
}

void man_page(std::ostream& os) {
    os << ".TH SLIMTUNE 1 \"\" \"slimtune " << SLIMTUNE_VERSION_STRING << "\" \"User Commands\"\n"
       << ".SH NAME\nslimtune \\- curate domain data, fine-tune small language models on CPUs, "
          "export them for llama.cpp and ollama\n"
       << ".SH SYNOPSIS\n.B slimtune\n.I command\n[\\fIoptions\\fR]\n"
       << ".SH DESCRIPTION\nslimtune curates a domain dataset (quality, deduplication, PII, "
          "toxicity, bias), fine-tunes a Hugging Face model on it (LoRA or full) from an INI "
          "recipe, and exports what deployments run (GGUF, merged safetensors, PEFT), with the "
          "provenance of the data carried through. Progress and messages go to standard error, "
          "results to standard output.\n"
       << ".SH COMMANDS\n";
    for (const Command& c : commands())
        man_command(os, c);
    os << ".SS version\nprint the version.\n";
    man_recipe_keys(os);
    os << ".SH EXIT STATUS\n"
          ".TP\n.B 0\nsuccess.\n"
          ".TP\n.B 1\nan error in an input file, the data or the run; the message names the "
          "file.\n"
          ".TP\n.B 2\na usage error: an unknown command, option or recipe key, a bad value, "
          "settings that contradict each other.\n"
          ".TP\n.B 130\ntraining interrupted by Ctrl\\-C (SIGINT) after writing a checkpoint.\n"
          ".TP\n.B 143\ntraining terminated by SIGTERM after writing a checkpoint.\n"
          ".SH ENVIRONMENT\n.TP\n.B OMP_NUM_THREADS\nthreads when \\-\\-threads is 0.\n"
          ".SH SEE ALSO\nThe README and docs/ of the slimtune sources.\n";
}

// The words of a bash `case` branch: the command's options and recipe keys as --name.
std::string completion_words(const CommandSyntax& s) {
    std::string words;
    for (const OptionDoc& o : s.options)
        words += (words.empty() ? "--" : " --") + o.name;
    for (const RecipeKeyDoc& k : keys_of(s))
        words += " --" + k.name;
    return words;
}

void bash_completion(std::ostream& os) {
    os << "# bash completion for slimtune, generated by 'slimtune help --bash-completion'\n"
          "_slimtune() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W \"";
    for (const Command& c : commands())
        os << c.name << " ";
    os << "version --help\" -- \"$cur\"))\n"
          "        return\n"
          "    fi\n"
          "    local opts=\"\"\n"
          "    case \"${COMP_WORDS[1]}\" in\n";
    for (const Command& c : commands())
        os << "        " << c.name << ") opts=\"" << completion_words(describe_command(c.run))
           << "\" ;;\n";
    os << "    esac\n"
          "    case \"$prev\" in\n"; // the values of keys that take one of a few words
    std::set<std::string> seen;
    for (const RecipeKeyDoc& k : recipe_key_docs()) {
        const std::string one_of = "one of ";
        if (k.expected.starts_with(one_of) && seen.insert(k.name).second)
            os << "        --" << k.name << ") COMPREPLY=($(compgen -W \""
               << k.expected.substr(one_of.size()) << "\" -- \"$cur\")); return ;;\n";
    }
    os << "    esac\n"
          "    if [[ $cur == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    else\n"
          "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
          "    fi\n"
          "}\n"
          "complete -o filenames -F _slimtune slimtune\n";
}

} // namespace

int run_help(const std::vector<std::string>& args) {
    std::string command;
    bool man = false, completion = false;
    po::options_description opts(std::string(kHelpUsage) + "\noptions");
    opts.add_options()("command", po::value(&command), "the command whose help to print")(
        "man", po::bool_switch(&man), "print the man page (roff)")(
        "bash-completion", po::bool_switch(&completion), "print the bash completion script");
    po::positional_options_description positional;
    positional.add("command", 1);
    po::variables_map vm;
    if (!parse_options(args, opts, vm, &positional))
        return 0;
    if (man + completion + !command.empty() > 1)
        throw UsageError("give one of COMMAND, --man, --bash-completion");
    if (man) {
        man_page(std::cout);
    } else if (completion) {
        bash_completion(std::cout);
    } else if (!command.empty()) {
        const Command* c = find_command(command);
        if (!c)
            throw UsageError("unknown command '" + command + "' (run 'slimtune --help')");
        return c->run({"--help"});
    } else {
        std::cout << usage_text();
    }
    return 0;
}

} // namespace slimtune::train
