// "5s", "1G", "30r/s" -> typed values. Pure; errors say what was expected.
#pragma once

#include <string_view>

#include "config/config.h"
#include "ipc/result.h"

namespace ne::config {

// ms s m h d, e.g. "250ms", "5s", "1m", "1h", "30d", or a sum of those as nginx writes it
// ("1h30m"). A bare integer is an error (ambiguous); so is anything past Duration's range.
Result<Duration> parse_duration(std::string_view text);
// Binary: K M G (or k m g), optional trailing B; "1K" = 1024, "80M" = 80 MiB; bare digits = bytes.
Result<uint64_t> parse_size(std::string_view text);
// "30r/s", "5r/m" -> requests per second.
Result<double> parse_rate(std::string_view text);

}  // namespace ne::config
