#include "cli/render.h"

#include <fmt/format.h>

#include <ctime>

namespace ne::cli {
namespace {

using nlohmann::json;

WorkerRow worker_from_json(const json& j) {
    WorkerRow w;
    w.id = j.value("id", 0);
    w.name = j.value("name", "");
    w.namespace_ = j.value("namespace", "default");
    w.instance = j.value("instance", 0);
    w.mode = j.value("mode", "");
    w.pid = j.value("pid", 0);
    w.port = j.value("port", 0);
    w.status = j.value("status", "");
    w.restarts = j.value("restarts", 0);
    w.uptime_ms = j.value("uptime_ms", int64_t{0});
    w.cpu_percent = j.value("cpu_percent", 0.0);
    w.memory_bytes = j.value("memory_bytes", uint64_t{0});
    return w;
}

Event event_from_json(const json& j) {
    return Event{j.value("ts_ms", int64_t{0}), j.value("worker", ""), j.value("kind", ""), j.value("detail", "")};
}

// Each element of reply[key] through `convert`; an element that does not fit names its index.
template <typename T, typename F>
Result<std::vector<T>> parse_array(const json& reply, const char* key, F convert) {
    std::vector<T> out;
    if (!reply.contains(key)) return out;
    const json& arr = reply[key];
    if (!arr.is_array()) return Error{fmt::format("daemon reply: {} is not an array", key)};
    for (size_t i = 0; i < arr.size(); ++i) {
        try {
            if (!arr[i].is_object()) throw std::runtime_error("not an object");
            out.push_back(convert(arr[i]));
        } catch (const std::exception& e) {
            return Error{fmt::format("daemon reply: {}[{}]: {}", key, i, e.what())};
        }
    }
    return out;
}

Result<std::optional<ProxySummary>> parse_proxy(const json& reply) {
    if (!reply.contains("proxy") || reply["proxy"].is_null()) return std::optional<ProxySummary>{};
    try {
        const json& p = reply.at("proxy");
        ProxySummary s;
        s.listen = p.value("listen", std::vector<std::string>{});
        s.connections = p.value("connections", int64_t{0});
        s.requests_per_sec = p.value("requests_per_sec", 0.0);
        s.workers = p.contains("workers") ? p["workers"].size() : 0;
        return std::optional<ProxySummary>{std::move(s)};
    } catch (const std::exception& e) {
        return Error{fmt::format("daemon reply: proxy: {}", e.what())};
    }
}

AppTraffic traffic_from_json(const json& j) {
    AppTraffic a;
    a.name = j.value("name", "");
    a.requests_per_sec = j.value("requests_per_sec", 0.0);
    if (j.contains("p99_ms") && j["p99_ms"].is_number()) a.p99_ms = j["p99_ms"].get<double>();
    return a;
}

Color status_color(const std::string& status) {
    if (status == "online") return Color::Green;
    if (status == "errored") return Color::Red;
    if (status == "stopped") return Color::Grey;
    return Color::Yellow;  // launching, draining, stopping: on their way somewhere
}

std::string plural(int64_t n, const char* word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}

std::string workers_table(const std::vector<WorkerRow>& workers, const Style& style) {
    Table t({"id", "name", "mode", "pid", "port", "status", "restarts", "uptime", "cpu", "mem"});
    for (const auto& w : workers) {
        // A worker without a process has no pid, uptime, cpu or memory worth a number.
        bool running = w.pid > 0;
        auto if_running = [&](std::string text) { return Cell{running ? std::move(text) : "-"}; };
        t.add_row({Cell{std::to_string(w.id)}, Cell{w.name, Color::Cyan}, Cell{w.mode},
                   if_running(std::to_string(w.pid)), Cell{w.port > 0 ? std::to_string(w.port) : "-"},
                   Cell{w.status, status_color(w.status)}, Cell{std::to_string(w.restarts)},
                   if_running(format_uptime(w.uptime_ms)), if_running(format_cpu(w.cpu_percent)),
                   if_running(format_memory(w.memory_bytes))});
    }
    return t.render(style);
}

std::string proxy_line(const ProxySummary& p, const Style& style) {
    if (p.listen.empty()) return "proxy: not listening (no [[servers]])\n";
    const std::string sep = style.unicode ? " · " : " - ";
    return fmt::format("proxy: listening on {}{}{}{}{}{}{:.1f} req/s\n", join(p.listen, ", "), sep,
                       plural(static_cast<int64_t>(p.workers), "worker"), sep, plural(p.connections, "connection"),
                       sep, p.requests_per_sec);
}

std::string local_time(int64_t ts_ms) {
    std::time_t t = static_cast<std::time_t>(ts_ms / 1000);
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string config_value(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Result<StatusView> parse_status(const json& reply) {
    auto workers = parse_array<WorkerRow>(reply, "workers", worker_from_json);
    if (!workers) return workers.error();
    auto proxy = parse_proxy(reply);
    if (!proxy) return proxy.error();
    auto apps = parse_array<AppTraffic>(reply, "apps", traffic_from_json);
    if (!apps) return apps.error();
    return StatusView{std::move(*workers), std::move(*proxy), std::move(*apps)};
}

Result<DescribeView> parse_describe(const json& reply) {
    if (!reply.contains("app") || !reply["app"].is_object()) return Error{"daemon reply: app is missing"};
    auto workers = parse_array<WorkerRow>(reply, "workers", worker_from_json);
    if (!workers) return workers.error();
    auto events = parse_array<Event>(reply, "events", event_from_json);
    if (!events) return events.error();
    return DescribeView{reply["app"], std::move(*workers), std::move(*events)};
}

std::string render_status(const StatusView& view, const Style& style) {
    std::string out = workers_table(view.workers, style);
    if (view.proxy) out += proxy_line(*view.proxy, style);
    if (view.proxy && !view.proxy->listen.empty()) out += render_traffic(view.apps, style);
    return out;
}

std::string render_traffic(const std::vector<AppTraffic>& apps, const Style& style) {
    if (apps.empty()) return "";
    Table t({"app", "req/s", "p99"});
    for (const auto& a : apps)
        t.add_row({Cell{a.name, Color::Cyan}, Cell{fmt::format("{:.1f}", a.requests_per_sec)},
                   Cell{a.p99_ms ? fmt::format("{:.1f}ms", *a.p99_ms) : "-"}});
    return t.render(style);
}

std::string render_workers_json(const std::vector<WorkerRow>& workers) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& w : workers) {
        arr.push_back({{"id", w.id},
                       {"name", w.name},
                       {"instance", w.instance},
                       {"mode", w.mode},
                       {"pid", w.pid},
                       {"port", w.port},
                       {"status", w.status},
                       {"restarts", w.restarts},
                       {"uptime_ms", w.uptime_ms},
                       {"cpu_percent", w.cpu_percent},
                       {"memory_bytes", w.memory_bytes},
                       {"namespace", w.namespace_}});
    }
    return arr.dump() + "\n";
}

std::string render_describe(const DescribeView& view, const Style& style) {
    Table config;
    for (const auto& [key, value] : view.app.items()) {
        // "where" is the loader's file:line bookkeeping, not a setting.
        if (!value.is_null() && key != "where") config.add_row({Cell{key, Color::Cyan}, Cell{config_value(value)}});
    }
    std::string out = fmt::format("app {}\n", view.app.value("name", ""));
    out += config.render(style);
    out += "\nworkers\n" + workers_table(view.workers, style);
    out += "\nrecent events\n";
    if (view.events.empty()) return out + "(none)\n";
    Table events({"time", "worker", "kind", "detail"});
    for (const auto& e : view.events) {
        Color c = e.kind == "exit" || e.kind == "memory" ? Color::Red : Color::None;
        events.add_row({Cell{local_time(e.ts_ms)}, Cell{e.worker}, Cell{e.kind, c}, Cell{e.detail}});
    }
    return out + events.render(style);
}

}  // namespace ne::cli
