// ecosystem.toml written as text, for `nodeedge import`: values quoted the TOML way, and
// tables whose keys each carry comment lines saying where they came from (an nginx line, a
// PM2 key). The loader (config/load.cpp) reads what this writes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"

namespace ne::config::toml_text {

std::string quote(std::string_view text);                  // "a \"b\"" (a TOML basic string)
std::string key(std::string_view name);                    // bare when it may be, else quoted
std::string array(const std::vector<std::string>& items);  // ["a", "b"]
// { a = 1, "B-c" = "x" }: keys as written, values already TOML text.
std::string inline_table(const std::vector<std::pair<std::string, std::string>>& entries);
std::string duration(Duration d);                          // "1d", "90s", "250ms"
std::string size(uint64_t bytes);                          // "1G", "10M", "512K", "100"

struct Entry {
    std::string key;
    std::string value;                  // TOML text
    std::vector<std::string> comments;  // one "# ..." line each, above the key
};

struct Table {
    std::string header;                 // "[proxy]", "[[servers]]", "" for top-level keys
    std::vector<std::string> comments;  // above the header
    std::vector<Entry> entries;
    std::vector<std::string> trailing;  // comments after the entries (what was built in or left out)

    // Sets `key` (replacing an earlier value of it) and adds `comment` to its lines.
    Entry& set(const std::string& key, std::string value, std::string comment = {});
    const Entry* find(const std::string& key) const;
};

std::string render(const std::vector<Table>& tables);

}  // namespace ne::config::toml_text
