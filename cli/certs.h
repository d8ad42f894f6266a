// Rendering of `nodeedge certs` (one row per tls = "auto" certificate) and of `describe NAME`
// for a certificate. Pure: the daemon's reply in, text out.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/table.h"

namespace ne::cli {

// "2026-03-08 14:00 UTC"; "-" for 0.
std::string format_time(int64_t unix_seconds);
std::string render_certs(const nlohmann::json& rows, const Style& style);
std::string render_certificate(const nlohmann::json& reply, const Style& style);

}  // namespace ne::cli
