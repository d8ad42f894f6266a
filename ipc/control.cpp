#include "ipc/control.h"

#include "ipc/version.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace ne::ipc::control {

json request(const std::string& cmd, json args) {
    json j = args.is_object() ? std::move(args) : json::object();
    j["v"] = kVersion;
    j["version"] = version();
    j["cmd"] = cmd;
    return j;
}

bool works_across_versions(std::string_view cmd) {
    return cmd == "ping" || cmd == "status" || cmd == "upgrade" || cmd == "kill";
}

Result<json> parse_request(std::string_view payload) {
    json j = json::parse(payload, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error{"control: request is not a JSON object"};
    if (!j.contains("cmd") || !j["cmd"].is_string()) return Error{"control: request without cmd"};
    const int v = j.contains("v") && j["v"].is_number_integer() ? j["v"].get<int>() : 0;
    if (v != kVersion && !works_across_versions(j["cmd"].get<std::string>()))
        return Error{"control: this daemon (nodeedge " + version() + ") speaks control protocol " +
                     std::to_string(kVersion) + ", the CLI (nodeedge " + j.value("version", std::string("?")) +
                     ") protocol " + std::to_string(v) +
                     "; status, upgrade and kill work across versions: `nodeedge upgrade` moves the daemon to "
                     "the installed binary"};
    return j;
}

json ok(json data) {
    json j = data.is_object() ? std::move(data) : json::object();
    j["ok"] = true;
    j["daemon_version"] = version();
    return j;
}

json fail(const std::string& message) { return json{{"ok", false}, {"error", message}}; }

std::string home_dir() {
    if (const char* h = std::getenv("NODEEDGE_HOME"); h && *h) return h;
    const char* home = std::getenv("HOME");
    std::string base;
    if (home && *home) base = home;
    else if (passwd* pw = getpwuid(getuid())) base = pw->pw_dir;
    else base = "/tmp";
    return base + "/.nodeedge";
}

std::string socket_path(const std::string& home) { return home + "/daemon.sock"; }
std::string pid_path(const std::string& home) { return home + "/daemon.pid"; }
std::string state_db_path(const std::string& home) { return home + "/state.db"; }
std::string logs_dir(const std::string& home) { return home + "/logs"; }
std::string daemon_log_path(const std::string& home) { return home + "/daemon.log"; }
std::string keeper_socket_path(const std::string& home) { return home + "/keeper.sock"; }

}  // namespace ne::ipc::control
