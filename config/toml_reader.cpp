#include "config/toml_reader.h"

#include <algorithm>
#include <tuple>

#include "config/units.h"

namespace ne::config {
namespace {

std::string_view type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::string: return "string";
        case toml::node_type::integer: return "integer";
        case toml::node_type::floating_point: return "float";
        case toml::node_type::boolean: return "boolean";
        case toml::node_type::table: return "table";
        case toml::node_type::array: return "array";
        case toml::node_type::date: return "date";
        case toml::node_type::time: return "time";
        case toml::node_type::date_time: return "date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

// Optimal string alignment distance: like Levenshtein, but a swap of two neighbours ("scirpt")
// costs one edit, the commonest typo in key names.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
    for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[a.size()][b.size()];
}

std::optional<std::string_view> closest(std::string_view key,
                                        const std::vector<std::string_view>& allowed) {
    // Beyond a third of the word, a "did you mean" guess misleads more than it helps.
    const size_t limit = std::max<size_t>(1, key.size() / 3);
    std::optional<std::string_view> best;
    size_t best_distance = limit + 1;
    for (auto candidate : allowed) {
        const size_t distance = edit_distance(key, candidate);
        if (distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

std::string join(const std::vector<std::string_view>& words) {
    std::string out;
    for (auto w : words) {
        if (!out.empty()) out += ", ";
        out += w;
    }
    return out;
}

std::string single_quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

}  // namespace

void Diagnostics::report(const toml::source_region& at, std::string message) {
    Where w = where(at);
    const auto key = [](const Where& p) { return std::tie(p.line, p.column); };
    if (first_ && key(first_->where) <= key(w)) return;
    first_ = Report{std::move(w), std::move(message)};
}

Error Diagnostics::error() const { return Error{first_->where.str() + ": " + first_->message}; }

Where Diagnostics::where(const toml::source_region& at) const {
    return Where{file_, static_cast<int>(at.begin.line), static_cast<int>(at.begin.column)};
}

TableReader::TableReader(const toml::table& table, std::string name,
                         std::vector<std::string_view> allowed, Diagnostics& diag)
    : table_(table), name_(std::move(name)), diag_(diag) {
    check_keys(allowed);
}

TableReader::TableReader(const toml::table& table, std::string name, Diagnostics& diag)
    : table_(table), name_(std::move(name)), diag_(diag) {}

void TableReader::check_keys(const std::vector<std::string_view>& allowed) {
    const std::string in = name_.empty() ? "at the top level" : "in " + name_;
    for (auto&& [key, value] : table_) {
        if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
        unknown_keys_.push_back(key.str());
        std::string message = "unknown key " + single_quoted(key.str()) + " " + in;
        if (auto guess = closest(key.str(), allowed))
            message += "; did you mean " + single_quoted(*guess) + "?";
        else
            message += " (allowed: " + join(allowed) + ")";
        fail(key.source(), std::move(message));
    }
}

Where TableReader::where() const { return diag_.where(table_.source()); }

std::string TableReader::label(std::string_view key) const {
    std::string prefix;
    for (char c : name_) {
        if (c != '[' && c != ']') prefix += c;
    }
    return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

void TableReader::fail(const toml::source_region& at, std::string message) {
    diag_.report(at, std::move(message));
}

void TableReader::type_error(std::string_view label, const toml::node& n,
                             std::string_view expected) {
    fail(n.source(), std::string(label) + ": expected " + std::string(expected) + ", got " +
                         std::string(type_name(n)));
}

void TableReader::require(std::string_view key) {
    if (has(key)) return;
    for (auto unknown : unknown_keys_) {
        if (closest(unknown, {key})) return;
    }
    fail(table_.source(), "missing required key " + single_quoted(key) + " in " +
                              (name_.empty() ? std::string("the file") : name_));
}

template <typename T>
const toml::value<T>* TableReader::scalar(std::string_view key, std::string_view expected) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (const auto* v = n->as<T>()) return v;
    type_error(label(key), *n, expected);
    return nullptr;
}

bool TableReader::read(std::string_view key, std::string& out) {
    const auto* v = scalar<std::string>(key, "a string");
    if (!v) return false;
    out = v->get();
    return true;
}

bool TableReader::read(std::string_view key, bool& out) {
    const auto* v = scalar<bool>(key, "a boolean (true or false)");
    if (!v) return false;
    out = v->get();
    return true;
}

bool TableReader::read(std::string_view key, int& out, int lo, int hi) {
    const auto* v = scalar<int64_t>(key, "an integer");
    if (!v) return false;
    if (v->get() < lo || v->get() > hi) {
        fail(v->source(), label(key) + ": must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi) + ", got " + std::to_string(v->get()));
        return false;
    }
    out = static_cast<int>(v->get());
    return true;
}

bool TableReader::read(std::string_view key, std::vector<std::string>& out) {
    const toml::node* n = get(key);
    if (!n) return false;
    const auto* array = n->as_array();
    if (!array) {
        type_error(label(key), *n, "an array of strings");
        return false;
    }
    std::vector<std::string> values;
    bool ok = true;
    for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        if (const auto* s = element.as_string()) {
            values.push_back(s->get());
        } else {
            type_error(label(key) + "[" + std::to_string(i) + "]", element, "a string");
            ok = false;
        }
    }
    if (ok) out = std::move(values);
    return ok;
}

bool TableReader::read_text(std::string_view key, std::string& out, std::string_view expected) {
    const toml::node* n = get(key);
    if (!n) return false;
    if (const auto* i = n->as_integer()) {
        out = std::to_string(i->get());
    } else if (const auto* s = n->as_string()) {
        out = s->get();
    } else {
        type_error(label(key), *n, expected);
        return false;
    }
    return true;
}

bool TableReader::read(std::string_view key, std::map<std::string, std::string>& out) {
    const toml::table* t = table(key);
    if (!t) return false;
    std::map<std::string, std::string> values;
    bool ok = true;
    for (auto&& [k, v] : *t) {
        const std::string name(k.str());
        if (const auto* s = v.as_string()) {
            values[name] = s->get();
        } else if (const auto* i = v.as_integer()) {
            values[name] = std::to_string(i->get());
        } else if (const auto* b = v.as_boolean()) {
            values[name] = b->get() ? "true" : "false";
        } else {
            type_error(label(key) + "." + name, v, "a string");
            ok = false;
        }
    }
    if (ok) out = std::move(values);
    return ok;
}

bool TableReader::read_duration(std::string_view key, Duration& out) {
    const auto* v =
        scalar<std::string>(key, "a duration string such as \"5s\" (units ms, s, m, h, d)");
    if (!v) return false;
    auto d = parse_duration(v->get());
    if (!d) {
        fail(v->source(), label(key) + ": " + d.error().message);
        return false;
    }
    out = *d;
    return true;
}

bool TableReader::read_size(std::string_view key, uint64_t& out) {
    const toml::node* n = get(key);
    if (!n) return false;
    if (const auto* i = n->as_integer()) {
        if (i->get() < 0) {
            fail(i->source(), label(key) + ": a size cannot be negative");
            return false;
        }
        out = static_cast<uint64_t>(i->get());
        return true;
    }
    const auto* s = n->as_string();
    if (!s) {
        type_error(label(key), *n, "a size such as \"50M\" (units K, M, G) or a byte count");
        return false;
    }
    auto size = parse_size(s->get());
    if (!size) {
        fail(s->source(), label(key) + ": " + size.error().message);
        return false;
    }
    out = *size;
    return true;
}

bool TableReader::read_rate(std::string_view key, double& out) {
    const auto* v = scalar<std::string>(key, "a rate string such as \"30r/s\" or \"5r/m\"");
    if (!v) return false;
    auto rate = parse_rate(v->get());
    if (!rate) {
        fail(v->source(), label(key) + ": " + rate.error().message);
        return false;
    }
    out = *rate;
    return true;
}

bool TableReader::is_choice(std::string_view label, const toml::value<std::string>& v,
                            const std::vector<std::string_view>& choices) {
    if (std::find(choices.begin(), choices.end(), v.get()) != choices.end()) return true;
    fail(v.source(),
         std::string(label) + ": " + single_quoted(v.get()) + " is not one of " + join(choices));
    return false;
}

bool TableReader::read_choice(std::string_view key, std::string& out,
                              const std::vector<std::string_view>& choices) {
    const auto* v = scalar<std::string>(key, "a string");
    if (!v || !is_choice(label(key), *v, choices)) return false;
    out = v->get();
    return true;
}

bool TableReader::read_choices(std::string_view key, std::vector<std::string>& out,
                               const std::vector<std::string_view>& choices) {
    std::vector<std::string> values;
    if (!read(key, values)) return false;
    const auto& array = *get(key)->as_array();
    bool ok = true;
    for (size_t i = 0; i < array.size(); ++i) {
        const std::string element_label = label(key) + "[" + std::to_string(i) + "]";
        ok = is_choice(element_label, *array.get(i)->as_string(), choices) && ok;
    }
    if (ok) out = std::move(values);
    return ok;
}

const toml::table* TableReader::table(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (const auto* t = n->as_table()) return t;
    type_error(label(key), *n, "a table");
    return nullptr;
}

std::vector<const toml::table*> TableReader::tables(std::string_view key) {
    std::vector<const toml::table*> out;
    const toml::node* n = get(key);
    if (!n) return out;
    const auto* array = n->as_array();
    if (!array) {
        type_error(label(key), *n, "an array of tables ([[" + label(key) + "]])");
        return out;
    }
    for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        if (const auto* t = element.as_table())
            out.push_back(t);
        else
            type_error(label(key) + "[" + std::to_string(i) + "]", element, "a table");
    }
    return out;
}

}  // namespace ne::config
