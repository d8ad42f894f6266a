// The daemon's log lines (master and proxy workers alike): text, or JSON for log collectors
// (a container's stdout): one object per line {"time","level","pid","msg"}. Chosen by
// `daemon --log-format json` or NODEEDGE_LOG_FORMAT=json, which proxy workers inherit.
#pragma once

#include <string>
#include <string_view>

namespace ne {

inline constexpr const char* kLogFormatEnv = "NODEEDGE_LOG_FORMAT";

// Sets the default logger's format: JSON when `format` is "json" (or, when it is empty, when
// NODEEDGE_LOG_FORMAT says so), else `text_pattern` (an spdlog pattern).
void set_log_format(std::string_view format, const std::string& text_pattern);

// `s` as the inside of a JSON string (quotes, backslashes and control bytes escaped).
std::string json_escape(std::string_view s);

}  // namespace ne
