#include "data/dataset_format.h"

#include "common/error.h"
#include "common/json_depth.h"
#include "common/labels.h"
#include "common/text.h"

#include <array>
#include <fstream>

namespace slimtune::data {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<DatasetFormat, const char*>, 7> kNames{{
    {DatasetFormat::automatic, "auto"},
    {DatasetFormat::text, "text"},
    {DatasetFormat::prompt_completion, "prompt_completion"},
    {DatasetFormat::alpaca, "alpaca"},
    {DatasetFormat::messages, "messages"},
    {DatasetFormat::sharegpt, "sharegpt"},
    {DatasetFormat::tokens, "tokens"},
}};

const std::map<std::string, std::string>& default_roles() {
    static const std::map<std::string, std::string> roles{{"human", "user"},
                                                          {"user", "user"},
                                                          {"gpt", "assistant"},
                                                          {"assistant", "assistant"},
                                                          {"chatgpt", "assistant"},
                                                          {"bard", "assistant"},
                                                          {"bing", "assistant"},
                                                          {"model", "assistant"},
                                                          {"system", "system"},
                                                          {"tool", "tool"},
                                                          {"function", "tool"},
                                                          {"observation", "tool"},
                                                          {"function_response", "tool"}};
    return roles;
}

DatasetFormat detect(const json& j, const std::string& text_field) {
    if (j.contains("input_ids"))
        return DatasetFormat::tokens;
    if (j.contains("messages"))
        return DatasetFormat::messages;
    if (j.contains("conversations"))
        return DatasetFormat::sharegpt;
    if (j.contains("instruction"))
        return DatasetFormat::alpaca;
    if (j.contains("prompt") || j.contains("completion"))
        return DatasetFormat::prompt_completion;
    if (j.contains(text_field))
        return DatasetFormat::text;
    throw RecordError{"", "no 'input_ids', 'messages', 'conversations', 'instruction', "
                          "'prompt'/'completion' or '" +
                              text_field + "' field"};
}

void need_string(const json& j, const std::string& field, const std::string& shown) {
    if (!j.contains(field) || !j[field].is_string())
        throw RecordError{shown, "must be a string"};
}

void need_id_list(const json& j, const char* field, bool allow_ignore) {
    const json& a = j[field];
    if (!a.is_array())
        throw RecordError{field, "must be a list of integers"};
    for (const json& x : a) {
        const bool ok =
            x.is_number_integer() &&
            (x.get<std::int64_t>() >= 0 || (allow_ignore && x.get<std::int64_t>() == kIgnoreLabel));
        if (!ok)
            throw RecordError{field, "holds " + x.dump() + ", not a token id"};
    }
}

// Checks a list of turns: each an object with string `role_key` and `content_key`.
void need_turns(const json& j,
                const char* list,
                const char* role_key,
                const char* content_key,
                const RecordOptions& o) {
    if (!j.contains(list))
        throw RecordError{list, "is missing"};
    const json& a = j[list];
    if (!a.is_array() || a.empty())
        throw RecordError{list, "must be a non-empty list"};
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string at = std::string(list) + "[" + std::to_string(i) + "]";
        if (!a[i].is_object())
            throw RecordError{at, "must be an object"};
        need_string(a[i], role_key, at + "." + role_key);
        need_string(a[i], content_key, at + "." + content_key);
        const auto role = a[i][role_key].get<std::string>();
        if (list == std::string_view("conversations")) {
            const auto mapped = o.role_map.find(role);
            if (mapped == o.role_map.end() && !default_roles().count(role))
                throw RecordError{at + ".from", "unknown role '" + printable(role) +
                                                    "' (map it with data.role_map, e.g. " +
                                                    printable(role) + "=assistant)"};
            if (mapped != o.role_map.end() && !is_chat_role(mapped->second))
                throw RecordError{at + ".from", "data.role_map maps '" + printable(role) +
                                                    "' to '" + printable(mapped->second) +
                                                    "'; expected " + kChatRolesText};
        } else if (!is_chat_role(role)) {
            throw RecordError{at + "." + role_key,
                              "unknown role '" + printable(role) + "'; expected " + kChatRolesText};
        }
    }
}

template <class J, class Out>
void collect_slots(J& v, DatasetFormat f, const std::string& tf, Out& out) {
    switch (f) {
    case DatasetFormat::text:
        out.push_back(&v[tf]);
        break;
    case DatasetFormat::prompt_completion:
        if (v["prompt"].is_array()) {
            for (auto& m : v["prompt"])
                out.push_back(&m["content"]);
            for (auto& m : v["completion"])
                out.push_back(&m["content"]);
        } else {
            out.push_back(&v["prompt"]);
            out.push_back(&v["completion"]);
        }
        break;
    case DatasetFormat::alpaca:
        out.push_back(&v["instruction"]);
        if (v.contains("input"))
            out.push_back(&v["input"]);
        out.push_back(&v["output"]);
        break;
    case DatasetFormat::messages:
        for (auto& m : v["messages"])
            out.push_back(&m["content"]);
        break;
    case DatasetFormat::sharegpt:
        for (auto& m : v["conversations"])
            out.push_back(&m["value"]);
        break;
    case DatasetFormat::tokens:
    case DatasetFormat::automatic:
        break;
    }
}

} // namespace

std::vector<std::string> dataset_format_names() {
    std::vector<std::string> names;
    for (const auto& [f, n] : kNames)
        names.emplace_back(n);
    return names;
}

std::string format_name(DatasetFormat f) {
    for (const auto& [g, n] : kNames)
        if (g == f)
            return n;
    return "?";
}

DatasetFormat parse_dataset_format(std::string_view name) {
    std::string known;
    for (const auto& [f, n] : kNames) {
        if (name == n)
            return f;
        known += (known.empty() ? "" : ", ") + std::string(n);
    }
    throw ConfigError("unknown data format '" + std::string(name) + "' (known: " + known + ")");
}

Record parse_record(std::string_view line, const RecordOptions& o) {
    Record r;
    try {
        check_json_depth(line, "");
    } catch (const FormatError&) {
        throw RecordError{"",
                          "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
    }
    try {
        r.value = json::parse(line);
    } catch (const json::parse_error& e) {
        // nlohmann's message ends with "; last read: '<text>'", a piece of the line: left out,
        // so that no error (and no rejected.jsonl entry) repeats a record's content.
        std::string what = e.what();
        what = what.substr(0, what.find("; last read"));
        throw RecordError{"", "not valid JSON (" + what + ")"};
    }
    if (!r.value.is_object())
        throw RecordError{"", "expected a JSON object"};
    const json& j = r.value;
    r.format = o.format == DatasetFormat::automatic ? detect(j, o.text_field) : o.format;
    switch (r.format) {
    case DatasetFormat::text:
        need_string(j, o.text_field, o.text_field);
        break;
    case DatasetFormat::prompt_completion:
        if (j.contains("prompt") && j["prompt"].is_array()) { // TRL's conversational form
            need_turns(j, "prompt", "role", "content", o);
            if (!j.contains("completion") || !j["completion"].is_array())
                throw RecordError{"completion", "must be a list of turns, as the prompt is"};
            need_turns(j, "completion", "role", "content", o);
        } else {
            need_string(j, "prompt", "prompt");
            need_string(j, "completion", "completion");
        }
        break;
    case DatasetFormat::alpaca:
        need_string(j, "instruction", "instruction");
        need_string(j, "output", "output");
        if (j.contains("input") && !j["input"].is_null())
            need_string(j, "input", "input");
        if (j.contains("input") && j["input"].is_null())
            r.value.erase("input");
        break;
    case DatasetFormat::messages:
        need_turns(j, "messages", "role", "content", o);
        break;
    case DatasetFormat::sharegpt:
        need_turns(j, "conversations", "from", "value", o);
        break;
    case DatasetFormat::tokens:
        if (!j.contains("input_ids"))
            throw RecordError{"input_ids", "is missing"};
        need_id_list(j, "input_ids", false);
        if (j.contains("labels")) {
            need_id_list(j, "labels", true);
            if (j["labels"].size() != j["input_ids"].size())
                throw RecordError{"labels",
                                  "has " + std::to_string(j["labels"].size()) + " entries for " +
                                      std::to_string(j["input_ids"].size()) + " input_ids"};
        }
        break;
    case DatasetFormat::automatic:
        break;
    }
    return r;
}

std::vector<json*> text_slots(Record& r, const RecordOptions& o) {
    std::vector<json*> out;
    collect_slots(r.value, r.format, o.text_field, out);
    return out;
}

std::vector<const json*> text_slots(const Record& r, const RecordOptions& o) {
    std::vector<const json*> out;
    collect_slots(r.value, r.format, o.text_field, out);
    return out;
}

std::string record_text(const Record& r, const RecordOptions& o) {
    std::string text;
    for (const json* s : text_slots(r, o)) {
        const auto& piece = s->get_ref<const std::string&>();
        if (piece.empty())
            continue;
        if (!text.empty())
            text += "\n\n";
        text += piece;
    }
    return text;
}

std::vector<ChatMessage> record_messages(const Record& r, const RecordOptions& o) {
    const json& j = r.value;
    std::vector<ChatMessage> out;
    if (r.format == DatasetFormat::alpaca) {
        std::string user = j["instruction"].get<std::string>();
        if (j.contains("input") && !j["input"].get_ref<const std::string&>().empty())
            user += "\n\n" + j["input"].get<std::string>();
        out.push_back({"user", user});
        out.push_back({"assistant", j["output"].get<std::string>()});
    } else if (r.format == DatasetFormat::messages) {
        for (const json& m : j["messages"])
            out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    } else if (is_conversational_prompt_completion(r)) {
        for (const char* part : {"prompt", "completion"})
            for (const json& m : j[part])
                out.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    } else if (r.format == DatasetFormat::sharegpt) {
        for (const json& m : j["conversations"]) {
            const auto from = m["from"].get<std::string>();
            const auto mapped = o.role_map.find(from);
            const std::string role =
                mapped != o.role_map.end() ? mapped->second : default_roles().at(from);
            out.push_back({role, m["value"].get<std::string>()});
        }
    } else {
        throw RecordError{"", "a " + format_name(r.format) + " record is not a conversation"};
    }
    return out;
}

bool is_conversational_prompt_completion(const Record& r) {
    return r.format == DatasetFormat::prompt_completion && r.value["prompt"].is_array();
}

bool is_conversation(const Record& r) {
    return r.format == DatasetFormat::alpaca || r.format == DatasetFormat::messages ||
           r.format == DatasetFormat::sharegpt || is_conversational_prompt_completion(r);
}

void for_each_record(const std::string& path,
                     const RecordOptions& o,
                     bool skip_bad_lines,
                     const std::function<void(const Record&, std::int64_t)>& sink,
                     RecordReadStats* stats) {
    std::ifstream in = open_regular_file(path, "file");
    RecordReadStats st;
    std::string line;
    while (read_line(in, line, path, st.lines + 1)) {
        ++st.lines;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string at = path + ":" + std::to_string(st.lines) + ": ";
        try {
            sink(parse_record(line, o), st.lines);
        } catch (const RecordError& bad) {
            const std::string msg =
                at + (bad.field.empty() ? "" : "field '" + bad.field + "' ") + bad.what;
            if (!skip_bad_lines)
                throw FormatError(msg);
            if (st.bad_lines++ == 0)
                st.first_bad = msg;
            st.bad_line_numbers.push_back(st.lines);
            continue;
        } catch (const ConfigError& err) {
            throw ConfigError(at + err.what());
        }
        ++st.records;
    }
    if (in.bad())
        throw Error(path + ": read error");
    if (stats)
        *stats = st;
}

} // namespace slimtune::data
