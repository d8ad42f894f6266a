// [[apps]] tables for `nodeedge import`: every App field that differs from its default, each
// with a comment naming the PM2 key it came from, so the written file reads like the
// ecosystem.config.js it replaces.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/toml_text.h"

namespace ne::config {

// `base`: the folder the TOML file is written to; paths under it are written relative to it,
// and `cwd` is left out when it is that folder (the loader's default). `port_notes`: app name
// -> what its `port` comment says instead of "pm2: env.PORT" (cluster mode moves the port).
std::vector<toml_text::Table> apps_tables(const std::vector<App>& apps, const std::string& base,
                                          const std::map<std::string, std::string>& port_notes = {});

}  // namespace ne::config
