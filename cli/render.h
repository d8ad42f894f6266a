// The daemon's replies (ipc/control.h) -> what the user reads: the status table and proxy
// line, `status --json`, and `describe`. Parsing checks the reply's shape once, so rendering
// works on plain structs and is pure.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/table.h"
#include "ipc/result.h"

namespace ne::cli {

// One worker, with SPEC.md's `status --json` fields.
struct WorkerRow {
    int id = 0;
    std::string name;
    std::string namespace_ = "default";  // PM2's namespace
    int instance = 0;
    std::string mode;
    int pid = 0;
    int port = 0;
    std::string status;
    int restarts = 0;
    int64_t uptime_ms = 0;
    double cpu_percent = 0;
    uint64_t memory_bytes = 0;
};

struct ProxySummary {
    std::vector<std::string> listen;
    int64_t connections = 0;
    double requests_per_sec = 0;
    size_t workers = 0;
};

// An app's traffic through the proxy over the last ten seconds.
struct AppTraffic {
    std::string name;
    double requests_per_sec = 0;
    std::optional<double> p99_ms;       // absent: no request in the window
};

struct StatusView {
    std::vector<WorkerRow> workers;
    std::optional<ProxySummary> proxy;  // absent when the reply has none
    std::vector<AppTraffic> apps;
};

struct Event {
    int64_t ts_ms = 0;
    std::string worker;
    std::string kind;
    std::string detail;
};

struct DescribeView {
    nlohmann::json app;  // the app's config as the daemon sent it (keys vary with the config)
    std::vector<WorkerRow> workers;
    std::vector<Event> events;
};

// Errors name the part of the reply that did not fit ("daemon reply: workers[1].pid: ...").
Result<StatusView> parse_status(const nlohmann::json& reply);
Result<DescribeView> parse_describe(const nlohmann::json& reply);

std::string render_status(const StatusView& view, const Style& style);
// The per-app traffic table (app | req/s | p99); "" when no app is proxied.
std::string render_traffic(const std::vector<AppTraffic>& apps, const Style& style);
// One JSON array, the SPEC's keys in the SPEC's order, then PM2's namespace, and a newline.
std::string render_workers_json(const std::vector<WorkerRow>& workers);
std::string render_describe(const DescribeView& view, const Style& style);

}  // namespace ne::cli
