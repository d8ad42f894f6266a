// Reads a [[servers.locations]] table: the path with nginx's modifiers (a regex is compiled
// here, so a bad one is reported at its line), the handlers, try_files, the templates that may
// use the regex's captures, and the settings a location may take over from its server.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/toml_reader.h"

namespace ne::config {

Location read_location(const toml::table& t, Diagnostics& diag, const std::filesystem::path& base);

// A gzip table (the server's, or a location's); `name` is how messages show it.
Gzip read_gzip(const toml::table& t, std::string name, Diagnostics& diag);

// A path key resolved against the folder holding ecosystem.toml (SPEC: a file means the same
// thing whoever runs `nodeedge`). Trailing separators are dropped so equal folders compare equal.
void read_path(TableReader& r, std::string_view key, const std::filesystem::path& base, std::string& out);

}  // namespace ne::config
