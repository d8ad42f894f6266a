#include "supervisor/metrics_text.h"

#include <spdlog/fmt/fmt.h>

#include <map>

#include "supervisor/lifecycle.h"

namespace ne::supervisor {

namespace {

constexpr State kStates[] = {State::Launching, State::Online,  State::Unhealthy, State::Draining,
                             State::Stopping,  State::Stopped, State::Errored};

using Out = fmt::memory_buffer;

void family(Out& o, const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(o), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// `labels` is already rendered: `app="api",id="0"` (may be empty).
template <class V>
void sample(Out& o, std::string_view name, std::string_view labels, V value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(o), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(o), "{}{{{}}} {}\n", name, labels, value);
}

std::string location_labels(const ipc::RequestSeries& s) {
    return fmt::format("server=\"{}\",location=\"{}\"", escape_label(s.server), escape_label(s.name));
}

std::string upstream_labels(const ipc::RequestSeries& s) { return fmt::format("upstream=\"{}\"", escape_label(s.name)); }

void by_class(Out& o, const char* name, const ipc::RequestSeries& s, const std::string& labels) {
    for (size_t i = 0; i < s.by_class.size(); ++i)
        sample(o, name, fmt::format("{},code=\"{}xx\"", labels, i + 1), s.by_class[i]);
}

void histogram(Out& o, const std::string& name, const ipc::RequestSeries& s, const std::string& labels) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.latency.size(); ++i) {
        cumulative += s.latency[i];
        std::string le = i < ipc::kLatencyBuckets.size() ? fmt::format("{}", ipc::kLatencyBuckets[i]) : "+Inf";
        sample(o, name + "_bucket", fmt::format("{},le=\"{}\"", labels, le), cumulative);
    }
    sample(o, name + "_sum", labels, s.latency_sum);
    sample(o, name + "_count", labels, cumulative);
}

bool any_nonzero(const auto& c) {
    for (uint64_t v : c)
        if (v) return true;
    return false;
}

}  // namespace

std::string escape_label(const std::string& v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string render_prometheus(const MetricsInput& in) {
    Out o;

    family(o, "nodeedge_proxy_workers", "gauge", "Proxy worker processes running.");
    sample(o, "nodeedge_proxy_workers", "", in.proxy_workers);
    family(o, "nodeedge_connections_active", "gauge", "Open client connections, all proxy workers.");
    sample(o, "nodeedge_connections_active", "", in.connections);

    struct AppSum {
        int restarts = 0;
        uint64_t memory = 0;
        double cpu = 0;
        std::map<std::string, int> states;
    };
    std::map<std::string, AppSum> apps;
    for (const auto& a : in.apps) apps[a];
    for (const auto& w : in.workers) {
        auto& a = apps[w.app];
        a.restarts += w.restarts;
        a.memory += w.memory_bytes;
        a.cpu += w.cpu_percent;
        ++a.states[w.state];
    }
    family(o, "nodeedge_app_workers", "gauge", "Workers of an app by state.");
    for (const auto& [name, a] : apps)
        for (State st : kStates) {
            auto it = a.states.find(to_string(st));
            sample(o, "nodeedge_app_workers", fmt::format("app=\"{}\",state=\"{}\"", escape_label(name), to_string(st)),
                   it == a.states.end() ? 0 : it->second);
        }
    family(o, "nodeedge_app_restarts", "gauge", "Restarts of an app's current workers.");
    for (const auto& [name, a] : apps) sample(o, "nodeedge_app_restarts", fmt::format("app=\"{}\"", escape_label(name)), a.restarts);
    family(o, "nodeedge_app_memory_bytes", "gauge", "RSS of an app's workers and their children.");
    for (const auto& [name, a] : apps) sample(o, "nodeedge_app_memory_bytes", fmt::format("app=\"{}\"", escape_label(name)), a.memory);
    family(o, "nodeedge_app_cpu_percent", "gauge", "CPU use of an app's workers (100 = one core).");
    for (const auto& [name, a] : apps) sample(o, "nodeedge_app_cpu_percent", fmt::format("app=\"{}\"", escape_label(name)), a.cpu);

    std::vector<std::string> wl;
    for (const auto& w : in.workers)
        wl.push_back(fmt::format("app=\"{}\",id=\"{}\",pid=\"{}\"", escape_label(w.app), w.id, w.pid));
    family(o, "nodeedge_worker_state", "gauge", "1 for the state a worker is in, 0 for the others.");
    for (size_t i = 0; i < in.workers.size(); ++i)
        for (State st : kStates)
            sample(o, "nodeedge_worker_state", fmt::format("{},state=\"{}\"", wl[i], to_string(st)),
                   in.workers[i].state == to_string(st) ? 1 : 0);
    family(o, "nodeedge_worker_restarts", "gauge", "Restarts of the worker's instance, crashes and requested (restart, reload, memory limit, health check).");
    for (size_t i = 0; i < in.workers.size(); ++i) sample(o, "nodeedge_worker_restarts", wl[i], in.workers[i].restarts);
    family(o, "nodeedge_worker_memory_bytes", "gauge", "RSS of the worker and its children.");
    for (size_t i = 0; i < in.workers.size(); ++i) sample(o, "nodeedge_worker_memory_bytes", wl[i], in.workers[i].memory_bytes);
    family(o, "nodeedge_worker_cpu_percent", "gauge", "CPU use of the worker (100 = one core).");
    for (size_t i = 0; i < in.workers.size(); ++i) sample(o, "nodeedge_worker_cpu_percent", wl[i], in.workers[i].cpu_percent);
    family(o, "nodeedge_worker_uptime_seconds", "gauge", "Time since the worker's process started.");
    for (size_t i = 0; i < in.workers.size(); ++i)
        sample(o, "nodeedge_worker_uptime_seconds", wl[i], static_cast<double>(in.workers[i].uptime_ms) / 1000.0);

    using Kind = ipc::RequestSeries::Kind;
    family(o, "nodeedge_http_requests_total", "counter", "Requests answered, by location and status class.");
    for (const auto& s : in.series)
        if (s.kind == Kind::location) by_class(o, "nodeedge_http_requests_total", s, location_labels(s));
    family(o, "nodeedge_http_request_duration_seconds", "histogram", "Time from the request's first byte to the response's last.");
    for (const auto& s : in.series)
        if (s.kind == Kind::location) histogram(o, "nodeedge_http_request_duration_seconds", s, location_labels(s));
    family(o, "nodeedge_upstream_requests_total", "counter", "Responses from an upstream (app or [[upstreams]]), by status class.");
    for (const auto& s : in.series)
        if (s.kind == Kind::upstream) by_class(o, "nodeedge_upstream_requests_total", s, upstream_labels(s));
    family(o, "nodeedge_upstream_response_duration_seconds", "histogram", "Upstream response time.");
    for (const auto& s : in.series)
        if (s.kind == Kind::upstream) histogram(o, "nodeedge_upstream_response_duration_seconds", s, upstream_labels(s));
    family(o, "nodeedge_cache_requests_total", "counter", "Response cache outcomes (X-Cache-Status) by location.");
    for (const auto& s : in.series)
        if (s.kind == Kind::location && any_nonzero(s.cache))
            for (size_t i = 0; i < s.cache.size(); ++i)
                sample(o, "nodeedge_cache_requests_total",
                       fmt::format("{},status=\"{}\"", location_labels(s), ipc::kCacheStatusNames[i]), s.cache[i]);
    family(o, "nodeedge_rate_limit_requests_total", "counter", "Rate limiter outcomes by location.");
    for (const auto& s : in.series)
        if (s.kind == Kind::location && any_nonzero(s.rate_limit))
            for (size_t i = 0; i < s.rate_limit.size(); ++i)
                sample(o, "nodeedge_rate_limit_requests_total",
                       fmt::format("{},result=\"{}\"", location_labels(s), ipc::kRateLimitResultNames[i]), s.rate_limit[i]);
    return fmt::to_string(o);
}

}  // namespace ne::supervisor
