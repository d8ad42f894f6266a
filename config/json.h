// Config <-> JSON, for the master -> proxy ProxyConfig message and for `save`/`resurrect`,
// which store the whole running configuration. Round-trips every field (Where included):
// keys are the field names (Location::return_ is "return"), durations integer milliseconds,
// sizes integer bytes, cache.valid an object keyed by status code. from_json gives missing
// keys their defaults and ignores unknown ones (a save from another version still loads);
// a present key of the wrong type is an Error naming its path ("apps[0].port").
#pragma once

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

nlohmann::json to_json(const Config& c);
Result<Config> from_json(const nlohmann::json& j);

}  // namespace ne::config
