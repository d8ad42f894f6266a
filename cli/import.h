// `nodeedge import`: PM2 apps and nginx servers -> ecosystem.toml text, entirely in the CLI
// (no daemon). Each key carries a comment naming the line it came from; what nginx does that
// nodeedge cannot is listed on stderr as `file:line: directive: what to do instead`.
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"
#include "config/nginx/mapper.h"
#include "ipc/result.h"

namespace ne::cli {

struct Imported {
    std::string toml;
    std::vector<config::nginx::Finding> left_out;
};

// `base`: the folder the file will be written to (relative paths hang from it).
Result<Imported> import_text(const ImportCmd& c, const std::string& base);

// Writes the file (or stdout), lists what was left out on stderr, and fails with
// "N directives were not imported" when anything was (the file is written all the same).
Status run(const ImportCmd& c);

}  // namespace ne::cli
