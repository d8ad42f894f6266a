// The Prometheus text exposition (format 0.0.4) of the daemon: apps and their workers (state,
// restarts, memory, cpu) from the supervisor, and request counters, latency histograms,
// connections, cache and rate-limit outcomes summed over the proxy workers. Pure: the
// master gathers a MetricsInput and serves what this returns.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipc/messages.h"

namespace ne::supervisor {

struct WorkerSample {
    std::string app;
    int id = 0;                  // the slot `status` shows
    pid_t pid = 0;
    std::string state;           // launching, online, ...
    int restarts = 0;
    double cpu_percent = 0;
    uint64_t memory_bytes = 0;
    int64_t uptime_ms = 0;
};

struct MetricsInput {
    std::vector<std::string> apps;          // every app, also those without workers
    std::vector<WorkerSample> workers;
    std::vector<ipc::RequestSeries> series; // ProxyTotals::series()
    uint64_t connections = 0;
    size_t proxy_workers = 0;
};

std::string render_prometheus(const MetricsInput& in);

// A label value escaped for the text format (backslash, double quote, newline).
std::string escape_label(const std::string& v);

}  // namespace ne::supervisor
