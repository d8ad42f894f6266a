// Config <-> JSON, for the master -> proxy ProxyConfig message and for `save`/`resurrect`,
// which store the whole running configuration. Round-trips every field.
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

nlohmann::json to_json(const Config& c);
Result<Config> from_json(const nlohmann::json& j);

}  // namespace ne::config
