#include "train/recipe.h"

#include "common/error.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

namespace slimtune::train {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

// Thrown by a key's setter; load_recipe adds where, the key, the expected type and the value.
struct BadValue {
    std::string what;
};

// One recipe key: its name, the accepted values ("an integer > 0"), a one-line help, and how
// it is read into / printed from the Recipe.
struct Key {
    std::string name, expected, help;
    std::function<void(Recipe&, const std::string&)> set;
    std::function<std::string(const Recipe&)> get;
};

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos)
        return "";
    return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Comma-separated items, trimmed; empty items are dropped ("" is the empty list).
std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!trim(item).empty())
            out.push_back(trim(item));
    return out;
}

// Items joined with ',' (each printed by `fmt`).
template <class C, class F> std::string join(const C& items, F fmt) {
    std::string s;
    for (const auto& x : items)
        s += (s.empty() ? "" : ",") + fmt(x);
    return s;
}

template <class T> T parse_integer(const std::string& text) {
    const std::string s = trim(text);
    T x{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (ec == std::errc::result_out_of_range)
        throw BadValue{"out of range"};
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        throw BadValue{"not an integer"};
    return x;
}

double parse_number(const std::string& text) {
    const std::string s = trim(text);
    double x = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(x))
        throw BadValue{"not a number"};
    return x;
}

// Shortest text that reads back to the same double, exponents without padding ("2e-4").
std::string format_number(double x) {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, x);
    std::string s(buf, res.ptr);
    if (const auto e = s.find('e'); e != std::string::npos) {
        std::string exp = s.substr(e + 1);
        const std::string sign = exp[0] == '-' ? "-" : "";
        exp = exp.substr(exp[0] == '-' || exp[0] == '+' ? 1 : 0);
        s = s.substr(0, e + 1) + sign +
            exp.substr(std::min(exp.find_first_not_of('0'), exp.size() - 1));
    }
    return s;
}

// An interval of doubles: [lo, hi], with either end open.
struct Range {
    double lo, hi;
    bool lo_open, hi_open;
    bool contains(double x) const {
        return (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
    }
    std::string text() const {
        if (std::isinf(hi))
            return (lo_open ? "> " : ">= ") + format_number(lo);
        return "in " + std::string(lo_open ? "(" : "[") + format_number(lo) + ", " +
               format_number(hi) + (hi_open ? ")" : "]");
    }
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Range kPositive{0, kInf, true, true}, kNonNegative{0, kInf, false, true};
constexpr Range kFraction{0, 1, false, true}, kUnit{0, 1, false, false};

// KEY(kind, section, key, args...): kind("section.key", accessor of r.section.key, args...).
#define KEY(kind, sec, key, ...)                                                                   \
    kind(                                                                                          \
        #sec "." #key, [](auto& r) -> auto& { return r.sec.key; }, __VA_ARGS__)

template <class F>
using FieldType = std::remove_cvref_t<decltype(std::declval<F>()(std::declval<Recipe&>()))>;

template <class F> Key integer(const char* name, F field, int64_t lo, const char* help) {
    using T = FieldType<F>;
    return {name, lo == 0 ? "an integer >= 0" : "an integer > " + std::to_string(lo - 1), help,
            [=](Recipe& r, const std::string& v) {
                const T x = parse_integer<T>(v); // beyond T: "out of range"
                if (std::cmp_less(x, lo))
                    throw BadValue{"out of range"};
                field(r) = x;
            },
            [=](const Recipe& r) { return std::to_string(field(r)); }};
}

template <class F> Key number(const char* name, F field, Range range, const char* help) {
    return {name, "a number " + range.text(), help,
            [=](Recipe& r, const std::string& v) {
                const double x = parse_number(v);
                if (!range.contains(x))
                    throw BadValue{"out of range"};
                field(r) = x;
            },
            [=](const Recipe& r) { return format_number(field(r)); }};
}

template <class F> Key boolean(const char* name, F field, const char* help) {
    return {name, "true or false", help,
            [=](Recipe& r, const std::string& v) {
                const std::string s = trim(v);
                if (s == "true" || s == "yes" || s == "on" || s == "1")
                    field(r) = true;
                else if (s == "false" || s == "no" || s == "off" || s == "0")
                    field(r) = false;
                else
                    throw BadValue{"not a boolean"};
            },
            [=](const Recipe& r) { return std::string(field(r) ? "true" : "false"); }};
}

template <class F> Key text(const char* name, F field, const char* expected, const char* help) {
    return {name, expected, help, [=](Recipe& r, const std::string& v) { field(r) = trim(v); },
            [=](const Recipe& r) { return field(r); }};
}

template <class F>
Key choice(const char* name, F field, std::vector<std::string> options, const char* help) {
    std::string expected = "one of";
    for (const auto& o : options)
        expected += " " + o;
    return {name, expected, help,
            [=](Recipe& r, const std::string& v) {
                if (std::find(options.begin(), options.end(), trim(v)) == options.end())
                    throw BadValue{"unknown value"};
                field(r) = trim(v);
            },
            [=](const Recipe& r) { return field(r); }};
}

template <class F> Key names(const char* name, F field, const char* expected, const char* help) {
    return {
        name, expected, help, [=](Recipe& r, const std::string& v) { field(r) = split_list(v); },
        [=](const Recipe& r) { return join(field(r), [](const std::string& x) { return x; }); }};
}

template <class F> Key indices(const char* name, F field, const char* help) {
    return {name, "a comma list of integers >= 0", help,
            [=](Recipe& r, const std::string& v) {
                std::vector<int64_t> out;
                for (const auto& item : split_list(v)) {
                    out.push_back(parse_integer<int64_t>(item));
                    if (out.back() < 0)
                        throw BadValue{"out of range"};
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](int64_t x) { return std::to_string(x); });
            }};
}

// "name=value,name=value" with positive values (integers or numbers, as the map holds).
template <class F> Key pattern(const char* name, F field, const char* help) {
    using V = typename FieldType<F>::mapped_type;
    constexpr bool whole = std::is_integral_v<V>;
    return {name, whole ? "name=integer,... with integers > 0" : "name=number,... with numbers > 0",
            help,
            [=](Recipe& r, const std::string& v) {
                FieldType<F> out;
                for (const auto& item : split_list(v)) {
                    const auto eq = item.find('=');
                    if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
                        throw BadValue{"not name=value"};
                    V x{};
                    if constexpr (whole)
                        x = parse_integer<V>(item.substr(eq + 1));
                    else
                        x = parse_number(item.substr(eq + 1));
                    if (!(x > 0))
                        throw BadValue{"out of range"};
                    out[trim(item.substr(0, eq))] = x;
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](const auto& kv) {
                    if constexpr (whole)
                        return kv.first + "=" + std::to_string(kv.second);
                    else
                        return kv.first + "=" + format_number(kv.second);
                });
            }};
}

// "name=value,name=value" with text values (a map from strings to strings).
template <class F> Key string_map(const char* name, F field, const char* help) {
    return {name, "name=value,...", help,
            [=](Recipe& r, const std::string& v) {
                std::map<std::string, std::string> out;
                for (const auto& item : split_list(v)) {
                    const auto eq = item.find('=');
                    if (eq == std::string::npos || trim(item.substr(0, eq)).empty() ||
                        trim(item.substr(eq + 1)).empty())
                        throw BadValue{"not name=value"};
                    out[trim(item.substr(0, eq))] = trim(item.substr(eq + 1));
                }
                field(r) = out;
            },
            [=](const Recipe& r) {
                return join(field(r), [](const auto& kv) { return kv.first + "=" + kv.second; });
            }};
}

Key betas() {
    return {"optim.betas", "two numbers in [0, 1) as b1,b2",
            "AdamW's decay rates of the first and second moment estimates",
            [](Recipe& r, const std::string& v) {
                const auto items = split_list(v);
                if (items.size() != 2)
                    throw BadValue{"not two numbers"};
                for (size_t i = 0; i < 2; ++i) {
                    r.optim.betas[i] = parse_number(items[i]);
                    if (!kFraction.contains(r.optim.betas[i]))
                        throw BadValue{"out of range"};
                }
            },
            [](const Recipe& r) {
                return format_number(r.optim.betas[0]) + "," + format_number(r.optim.betas[1]);
            }};
}

// Every key, in section order (the order of to_ini and recipe_keys).
const std::vector<Key>& keys() {
    static const std::vector<Key> table = {
        KEY(text, model, path, "a directory", "the Hugging Face model directory"),
        KEY(text, data, train, "a file", "JSONL training examples"),
        KEY(text, data, validation, "a file or empty", "JSONL validation examples (empty: none)"),
        KEY(number, data, validation_split, kFraction, "fraction of data.train held out"),
        KEY(boolean, data, shuffle, "shuffle the examples every epoch (seeded)"),
        KEY(text, data, text_field, "a JSON field name", "JSONL field of plain-text examples"),
        KEY(text, data, chat_template, "a name or empty", "template of messages examples"),
        KEY(choice, data, format,
            {"auto", "text", "prompt_completion", "alpaca", "messages", "sharegpt", "tokens"},
            "record format; auto: detected per line from its keys"),
        KEY(string_map, data, role_map, "ShareGPT 'from' values mapped to roles (human=user)"),
        KEY(choice, data, train_on, {"completion", "all"},
            "learn only completions and assistant turns, or every token"),
        KEY(choice, data, on_bad_line, {"error", "skip"}, "a malformed line fails, or is counted"),
        KEY(choice, data, overlong, {"truncate", "drop"}, "examples over train.seq_len tokens"),
        KEY(text, data, manifest, "a file or empty",
            "curation manifest of data.train; empty: manifest.json beside it"),
        KEY(integer, lora, rank, 1, "rank r of each adapter (A: r x in, B: out x r)"),
        KEY(number, lora, alpha, kPositive, "scaling numerator: the update is (alpha / r) B A"),
        KEY(number, lora, dropout, kFraction, "dropout on the adapter input during training"),
        KEY(names, lora, targets, "module names or all-linear", "modules that get adapters"),
        KEY(text, lora, target_regex, "a regex or empty", "instead of targets: a full match"),
        KEY(indices, lora, layers, "blocks with adapters (layers_to_transform); empty: all"),
        KEY(pattern, lora, rank_pattern, "per-module ranks (PEFT rank_pattern)"),
        KEY(pattern, lora, alpha_pattern, "per-module alphas (PEFT alpha_pattern)"),
        KEY(boolean, lora, rslora, "rank-stabilized scaling alpha / sqrt(r)"),
        KEY(text, lora, init, "a PEFT adapter directory or empty", "start from this adapter"),
        KEY(choice, train, mode, {"lora", "full"}, "adapters only, or all the weights"),
        KEY(names, train, trainable, "name substrings", "full mode: what trains; empty: all"),
        KEY(integer, train, max_steps, 0, "optimizer steps; 0: from train.epochs"),
        KEY(number, train, epochs, kPositive, "passes over the training data"),
        KEY(integer, train, batch_size, 1, "sequences per micro-batch"),
        KEY(integer, train, seq_len, 2, "tokens per sequence"),
        KEY(integer, train, grad_accum, 1, "micro-batches per optimizer step"),
        KEY(integer, train, seed, 0, "seed of init, dropout, shuffle and split"),
        KEY(integer, train, threads, 0, "CPU threads; 0: all cores"),
        KEY(text, train, output_dir, "a directory", "where metrics, checkpoints and the result go"),
        KEY(boolean, train, packing, "pack examples into each sequence"),
        KEY(choice, optim, name, {"adamw", "sgd"}, "the optimizer"),
        KEY(number, optim, lr, kPositive, "peak learning rate"),
        betas(),
        KEY(number, optim, eps, kPositive, "AdamW's denominator epsilon"),
        KEY(number, optim, weight_decay, kNonNegative, "decoupled (AdamW) or L2 (SGD)"),
        KEY(number, optim, momentum, kFraction, "SGD momentum"),
        KEY(number, optim, max_grad_norm, kNonNegative, "gradient-norm clip; 0: off"),
        KEY(choice, sched, name, {"constant", "linear", "cosine"}, "decay after warmup"),
        KEY(integer, sched, warmup_steps, 0, "steps of linear warmup from 0 to optim.lr"),
        KEY(number, sched, warmup_ratio, kFraction, "warmup as a fraction of the steps"),
        KEY(number, sched, min_lr_ratio, kUnit, "the decay ends at this fraction of optim.lr"),
        KEY(integer, eval, every, 0, "evaluate every N steps; 0: only at the end"),
        KEY(integer, eval, max_batches, 0, "validation batches per evaluation; 0: all"),
        KEY(integer, checkpoint, every, 0, "save a checkpoint every N steps; 0: only at the end"),
        KEY(integer, checkpoint, keep, 1, "newest checkpoints kept on disk"),
        KEY(integer, log, every, 1, "write a metrics line every N steps"),
    };
    return table;
}

#undef KEY

const Key* find_key(const std::string& name) {
    for (const auto& k : keys())
        if (k.name == name)
            return &k;
    return nullptr;
}

size_t levenshtein(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

std::string after_dot(const std::string& s) {
    const auto dot = s.rfind('.');
    return dot == std::string::npos ? s : s.substr(dot + 1);
}

[[noreturn]] void unknown_key(const std::string& name, const std::string& where) {
    std::string best;
    size_t best_d = std::numeric_limits<size_t>::max();
    for (const auto& k : keys()) {
        // A misspelling, or the right key name in the wrong section ("train.lr": optim.lr).
        const size_t d = std::min(levenshtein(name, k.name),
                                  levenshtein(after_dot(name), after_dot(k.name)) + 1);
        if (d < best_d) {
            best_d = d;
            best = k.name;
        }
    }
    std::string msg = "unknown key '" + name + "' " + where;
    if (best_d <= std::max<size_t>(2, name.size() / 3))
        throw ConfigError(msg + "; did you mean '" + best + "'?");
    throw ConfigError(msg + "; valid sections are model, data, lora, train, optim, sched, eval, "
                            "checkpoint, log (see recipes/README.md)");
}

// The 1-based line of the n-th (0-based) "key = value" line for `name` in an INI text, as
// parse_config_file reads it ('#' starts a comment, "[section]" sets a prefix); 0 if none.
int find_line(const std::vector<std::string>& lines, const std::string& name, int n) {
    std::string prefix;
    for (size_t i = 0; i < lines.size(); ++i) {
        const std::string s = trim(lines[i].substr(0, lines[i].find('#')));
        if (s.size() >= 2 && s.front() == '[' && s.back() == ']') {
            prefix = trim(s.substr(1, s.size() - 2)) + ".";
        } else if (const auto eq = s.find('='); eq != std::string::npos) {
            if (prefix + trim(s.substr(0, eq)) == name && n-- == 0)
                return static_cast<int>(i + 1);
        }
    }
    return 0;
}

void apply(Recipe& r, const std::string& name, const std::string& value, const std::string& at) {
    const Key* k = find_key(name);
    if (!k)
        unknown_key(name, (at == "command line" ? "on the " : "in ") + at);
    try {
        k->set(r, value);
    } catch (const BadValue& e) {
        throw ConfigError(at + ": " + name + ": " + e.what + "; expected " + k->expected +
                          ", got '" + value + "'");
    }
}

// `path` must be a directory (dir) or a regular file.
void require(const std::string& key, const std::string& path, bool dir) {
    std::error_code ec;
    if (dir ? !fs::is_directory(path, ec) : !fs::is_regular_file(path, ec))
        throw ConfigError(key + ": no such " + (dir ? "directory: " : "file: ") + path);
}

// Cross-key rules and the existence of the paths, once the file and the overrides are in.
void resolve(Recipe& r, const std::set<std::string>& given) {
    const auto fail = [&](const std::string& msg) {
        throw ConfigError(msg + " (recipe " + r.source + ")");
    };
    const auto exclusive = [&](const std::string& a, const std::string& b) {
        fail(a + ": set together with " + b + "; expected one of them");
    };
    if (r.model.path.empty())
        fail("model.path: required; set it in [model] or pass --model.path DIR");
    require("model.path", r.model.path, true);
    if (r.data.train.empty())
        fail("data.train: required; set it in [data] or pass --data.train FILE");
    require("data.train", r.data.train, false);
    if (!r.data.validation.empty()) {
        require("data.validation", r.data.validation, false);
        if (r.data.validation_split > 0)
            exclusive("data.validation_split", "data.validation");
    }
    if (!r.lora.target_regex.empty()) {
        if (given.count("lora.targets") && !r.lora.targets.empty())
            exclusive("lora.target_regex", "lora.targets");
        r.lora.targets.clear(); // the regex replaces the default targets
    }
    const auto& t = r.lora.targets;
    if (r.train.mode == "lora") {
        if (t.empty() && r.lora.target_regex.empty())
            fail("lora.targets: empty; expected module names, all-linear or a lora.target_regex");
        if (t.size() > 1 && std::find(t.begin(), t.end(), "all-linear") != t.end())
            fail("lora.targets: all-linear combined with module names; expected one or the other");
        if (!r.train.trainable.empty())
            fail("train.trainable: only for train.mode = full; got train.mode = lora");
    }
    if (!r.lora.init.empty()) {
        require("lora.init", r.lora.init, true);
        require("lora.init", (fs::path(r.lora.init) / "adapter_config.json").string(), false);
    }
    if (r.optim.name != "sgd" && r.optim.momentum > 0)
        fail("optim.momentum: only for optim.name = sgd; got optim.name = " + r.optim.name);
    if (r.sched.warmup_ratio > 0 && r.sched.warmup_steps > 0)
        exclusive("sched.warmup_ratio", "sched.warmup_steps");
    if (r.train.output_dir.empty())
        r.train.output_dir = "runs/" + fs::path(r.source).stem().string();
}

} // namespace

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
    std::ifstream in(path);
    std::error_code ec;
    if (!in || fs::is_directory(path, ec))
        throw ConfigError("no such recipe file: " + path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    in.clear();
    in.seekg(0);

    po::options_description desc;
    for (const auto& k : keys())
        desc.add_options()(k.name.c_str(), po::value<std::string>());
    const po::parsed_options parsed = [&] {
        try {
            return po::parse_config_file(in, desc, /*allow_unregistered=*/true);
        } catch (const po::error& e) {
            throw ConfigError(path + ": " + e.what());
        }
    }();

    Recipe r;
    r.source = path;
    std::set<std::string> given;
    std::map<std::string, int> seen; // key -> occurrences so far in the file
    for (const auto& opt : parsed.options) {
        const std::string& name = opt.string_key;
        const int n = seen[name]++;
        const int line = find_line(lines, name, n);
        const std::string at = path + (line > 0 ? ":" + std::to_string(line) : "");
        if (n > 0)
            throw ConfigError(at + ": " + name + " given twice (first at line " +
                              std::to_string(find_line(lines, name, 0)) + ")");
        apply(r, name, opt.value.empty() ? "" : opt.value.front(), at);
        given.insert(name);
    }

    for (size_t i = 0; i < overrides.size(); ++i) {
        const std::string& tok = overrides[i];
        if (tok.size() <= 2 || tok.compare(0, 2, "--") != 0)
            throw ConfigError("command line: expected --section.key value, got '" + tok + "'");
        std::string name = tok.substr(2), value;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (i + 1 < overrides.size()) {
            value = overrides[++i];
        } else {
            throw ConfigError("command line: --" + name + " needs a value");
        }
        apply(r, name, value, "command line");
        given.insert(name);
    }
    resolve(r, given);
    return r;
}

std::string Recipe::to_ini() const {
    std::string out = "# slimtune recipe, resolved from " + source + "\n";
    std::string section;
    for (const auto& k : keys()) {
        const auto dot = k.name.find('.');
        if (k.name.substr(0, dot) != section) {
            section = k.name.substr(0, dot);
            out += "\n[" + section + "]\n";
        }
        const std::string v = k.get(*this);
        out += k.name.substr(dot + 1) + " =" + (v.empty() ? "" : " " + v) + "\n";
    }
    return out;
}

std::vector<std::string> recipe_keys() {
    const Recipe defaults;
    std::vector<std::string> out;
    for (const auto& k : keys()) {
        std::string v = k.get(defaults);
        if (k.name == "model.path" || k.name == "data.train")
            v = "(required)";
        else if (k.name == "train.output_dir")
            v = "runs/<recipe file stem>";
        out.push_back(k.name + " =" + (v.empty() ? "" : " " + v) + "  # " + k.expected + ": " +
                      k.help);
    }
    return out;
}

std::string describe_outputs(const Recipe& r) {
    const fs::path d(r.train.output_dir);
    const std::string every = r.checkpoint.every > 0
                                  ? "every " + std::to_string(r.checkpoint.every) + " steps"
                                  : "at the end";
    std::string s = (d / "recipe.ini").string() + "  the resolved recipe\n";
    s += (d / "metrics.jsonl").string() + "  one JSON line per logged step and evaluation\n";
    s += (d / "checkpoints" / "step-N.h5").string() + "  " + every + ", the newest " +
         std::to_string(r.checkpoint.keep) + " kept (resume continues from the newest)\n";
    if (r.train.mode == "lora") {
        s += (d / "adapter" / "adapter_config.json").string() + "  the PEFT adapter config\n";
        s += (d / "adapter" / "adapter_model.safetensors").string() + "  the adapter weights\n";
    } else {
        s += (d / "model").string() + "/  the fine-tuned model (config.json, model.safetensors)\n";
    }
    return s;
}

} // namespace slimtune::train
