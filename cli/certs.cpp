#include "cli/certs.h"

#include <ctime>

namespace ne::cli {

using nlohmann::json;

std::string format_time(int64_t t) {
    if (t == 0) return "-";
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

namespace {

Cell state_cell(const json& r) {
    const std::string state = r.value("state", "");
    return {state, state == "valid" ? Color::Green : state == "failing" ? Color::Red : Color::Yellow};
}

std::string next_renewal(const json& r) {
    return format_time(r.value("next_renewal", int64_t{0})) + (r.value("renewal_info", false) ? " (ARI)" : "");
}

}  // namespace

std::string render_certs(const json& rows, const Style& style) {
    if (rows.empty()) return "no certificates: no server has tls = \"auto\"\n";
    Table t({"name", "state", "issuer", "expires", "next renewal", "last error"});
    for (const auto& r : rows)
        t.add_row({{r.value("name", "")}, state_cell(r), {r.value("issuer", "")},
                   {format_time(r.value("not_after", int64_t{0}))}, {next_renewal(r)},
                   {r.value("last_error", ""), Color::Red}});
    return t.render(style);
}

std::string render_certificate(const json& reply, const Style& style) {
    const json c = reply.value("certificate", json::object());
    std::string names;
    for (const auto& n : c.value("names", json::array())) names += (names.empty() ? "" : ", ") + n.get<std::string>();
    Table t;
    t.add_row({{"certificate"}, {c.value("name", "")}});
    t.add_row({{"names"}, {names}});
    t.add_row({{"state"}, state_cell(c)});
    t.add_row({{"issuer"}, {c.value("issuer", "")}});
    t.add_row({{"valid from"}, {format_time(c.value("not_before", int64_t{0}))}});
    t.add_row({{"expires"}, {format_time(c.value("not_after", int64_t{0}))}});
    t.add_row({{"next renewal"}, {next_renewal(c)}});
    t.add_row({{"next check"}, {format_time(c.value("next_check", int64_t{0}))}});
    t.add_row({{"challenge"}, {c.value("challenge", "")}});
    t.add_row({{"directory"}, {c.value("directory", "")}});
    t.add_row({{"file"}, {c.value("cert", "")}});
    t.add_row({{"last error"}, {c.value("last_error", "") + (c.value("failures", 0) > 1 ? " (" + std::to_string(c.value("failures", 0)) + " failures in a row)" : ""), Color::Red}});
    std::string out = t.render(style);
    const json events = reply.value("events", json::array());
    if (!events.empty()) {
        Table e({"time", "event", "detail"});
        for (const auto& ev : events)
            e.add_row({{format_time(ev.value("ts_ms", int64_t{0}) / 1000)}, {ev.value("kind", "")}, {ev.value("detail", "")}});
        out += "\nevents\n" + e.render(style);
    }
    return out;
}

}  // namespace ne::cli
