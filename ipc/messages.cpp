#include "ipc/messages.h"

namespace ne::ipc {

using nlohmann::json;

namespace {

template <class... Ts>
struct overloaded : Ts... { using Ts::operator()...; };
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

json header(const char* type) { return json{{"v", kVersion}, {"type", type}}; }

}  // namespace

std::string encode(const Message& m) {
    json j = std::visit(overloaded{
        [](const ProxyConfig& c) { auto j = header("proxy_config"); j["config"] = c.config; return j; },
        [](const BackendAdd& a) {
            auto j = header("backend_add");
            j["id"] = a.id; j["app"] = a.app; j["instance"] = a.instance;
            j["host"] = a.host; j["port"] = a.port;
            return j;
        },
        [](const BackendDrain& d) { auto j = header("backend_drain"); j["id"] = d.id; return j; },
        [](const BackendRemove& r) { auto j = header("backend_remove"); j["id"] = r.id; return j; },
        [](const DrainDone& d) { auto j = header("drain_done"); j["id"] = d.id; return j; },
        [](const Stats& s) {
            auto j = header("stats");
            j["pid"] = s.pid; j["connections"] = s.connections; j["requests"] = s.requests;
            return j;
        },
        [](const Quit&) { return header("quit"); },
    }, m);
    return j.dump();
}

Result<Message> decode(std::string_view payload) {
    json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Error{"ipc: message is not a JSON object"};
    if (!j.contains("v") || !j["v"].is_number_integer() || j["v"].get<int>() != kVersion)
        return Error{"ipc: unsupported message version " + (j.contains("v") ? j["v"].dump() : "(none)") +
                     ", this build speaks " + std::to_string(kVersion)};
    if (!j.contains("type") || !j["type"].is_string()) return Error{"ipc: message without a type"};
    const std::string type = j["type"];
    try {
        if (type == "proxy_config") return Message{ProxyConfig{j.at("config")}};
        if (type == "backend_add")
            return Message{BackendAdd{j.at("id").get<uint64_t>(), j.at("app").get<std::string>(),
                                      j.at("instance").get<int>(), j.at("host").get<std::string>(),
                                      j.at("port").get<int>()}};
        if (type == "backend_drain") return Message{BackendDrain{j.at("id").get<uint64_t>()}};
        if (type == "backend_remove") return Message{BackendRemove{j.at("id").get<uint64_t>()}};
        if (type == "drain_done") return Message{DrainDone{j.at("id").get<uint64_t>()}};
        if (type == "stats")
            return Message{Stats{j.at("pid").get<int>(), j.at("connections").get<uint64_t>(),
                                 j.at("requests").get<uint64_t>()}};
        if (type == "quit") return Message{Quit{}};
    } catch (const json::exception& e) {
        return Error{"ipc: malformed " + type + " message: " + e.what()};
    }
    return Error{"ipc: unknown message type '" + type + "'"};
}

}  // namespace ne::ipc
