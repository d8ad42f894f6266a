// Typed, position-aware reading of one TOML table, private to load.cpp. Every getter either
// fills its output (key present and valid), leaves it untouched (key absent, so the default
// from config.h stands), or records "file:line:column: message" at the offending key or value.
// This keeps load.cpp a plain list of keys per table and every message in one style.
#pragma once

#include <toml++/toml.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

// The first problem in a document by position, not by discovery order: toml++ iterates keys
// alphabetically and load.cpp reads them in its own order, but users fix files top to bottom.
class Diagnostics {
public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    void report(const toml::source_region& at, std::string message);
    bool failed() const { return first_.has_value(); }
    // "file:line:column: message" of the earliest report; only meaningful when failed().
    Error error() const;
    Where where(const toml::source_region& at) const;

private:
    struct Report {
        Where where;
        std::string message;
    };
    std::string file_;
    std::optional<Report> first_;
};

class TableReader {
public:
    // `name` is how messages show the table: "[[apps]]", "[proxy]", "apps.health_check", or ""
    // for the document itself. Keys outside `allowed` are reported at once, at the key.
    TableReader(const toml::table& table, std::string name, std::vector<std::string_view> allowed,
                Diagnostics& diag);
    // For tables whose keys are data, not names (cache.valid's status codes): none is unknown.
    TableReader(const toml::table& table, std::string name, Diagnostics& diag);

    Where where() const;
    const toml::table& table() const { return table_; }
    bool has(std::string_view key) const { return table_.contains(key); }
    const toml::node* get(std::string_view key) const { return table_.get(key); }

    // Reports "missing required key" at the table when `key` is absent, unless an unknown key
    // already reported is a typo of it: "did you mean 'script'?" is the useful message.
    void require(std::string_view key);

    // Each returns true when the key was present and valid.
    bool read(std::string_view key, std::string& out);
    bool read(std::string_view key, bool& out);
    bool read(std::string_view key, int& out, int lo, int hi);
    bool read(std::string_view key, std::vector<std::string>& out);
    // A string, or an integer kept as its decimal text ("instances = 4" or "max").
    bool read_text(std::string_view key, std::string& out, std::string_view expected);
    // Values may be strings, integers or booleans, kept as text: env vars and headers are
    // text, but `WORKERS = 4` is what people write.
    bool read(std::string_view key, std::map<std::string, std::string>& out);
    bool read_duration(std::string_view key, Duration& out);
    bool read_size(std::string_view key, uint64_t& out);  // integer bytes or "50M"
    bool read_rate(std::string_view key, double& out);
    // A string that must be one of `choices`.
    bool read_choice(std::string_view key, std::string& out,
                     const std::vector<std::string_view>& choices);
    // An array of strings, each one of `choices`.
    bool read_choices(std::string_view key, std::vector<std::string>& out,
                      const std::vector<std::string_view>& choices);

    // A sub-table (inline or not); nullptr when absent or not a table (reported).
    const toml::table* table(std::string_view key);
    // Elements of an array of tables ([[x]] or [{...}, {...}]); other elements are reported.
    std::vector<const toml::table*> tables(std::string_view key);

    // "apps.port": how messages name a key of this table.
    std::string label(std::string_view key) const;
    // Records a message verbatim at a position; for checks load.cpp makes itself.
    void fail(const toml::source_region& at, std::string message);
    // "<label>: expected <expected>, got <actual type>".
    void type_error(std::string_view label, const toml::node& n, std::string_view expected);

private:
    template <typename T>
    const toml::value<T>* scalar(std::string_view key, std::string_view expected);
    bool is_choice(std::string_view label, const toml::value<std::string>& v,
                   const std::vector<std::string_view>& choices);
    void check_keys(const std::vector<std::string_view>& allowed);

    const toml::table& table_;
    std::string name_;
    Diagnostics& diag_;
    std::vector<std::string_view> unknown_keys_;
};

}  // namespace ne::config
