#include "cli/commands.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/certs.h"
#include "cli/client.h"
#include "cli/render.h"
#include "config/json.h"
#include "config/load.h"
#include "config/pm2_ecosystem.h"
#include "ipc/control.h"
#include "ipc/version.h"

namespace ne::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
namespace control = ipc::control;

// `upgrade` waits this long for the new program (or the old one, rolled back) to answer.
constexpr std::chrono::seconds kUpgradeWait{30};
// A `kill` waits this long for the daemon to close its socket; apps had their kill_timeout.
constexpr std::chrono::seconds kKillWait{10};

fs::path absolute_from(const fs::path& cwd, const std::string& typed) {
    fs::path p(typed);
    return (p.is_absolute() ? p : cwd / p).lexically_normal();
}

// A reply that carries workers is shown as the status table; otherwise the action is confirmed.
// A reply with workers is shown as the status table, followed by what the daemon noted (an app
// that `start` found already running); one without, as `done`.
Status print_outcome(const json& reply, const std::string& done) {
    if (!reply.contains("workers")) {
        print(done + "\n");
        return {};
    }
    auto view = parse_status(reply);
    if (!view) return view.error();
    print(render_status(*view, terminal_style()));
    if (auto notes = reply.find("notes"); notes != reply.end() && notes->is_array())
        for (const auto& note : *notes)
            if (note.is_string()) print(note.get<std::string>() + "\n");
    return {};
}

}  // namespace

Result<config::Pm2Ecosystem> evaluate_pm2(const std::string& typed, const std::string& env) {
    auto eco = config::load_pm2_ecosystem(absolute_from(fs::current_path(), typed).string(), env);
    if (!eco) return eco.error();
    for (const auto& w : eco->warnings) std::fprintf(stderr, "%s: %s\n", typed.c_str(), w.c_str());
    return eco;
}

Result<json> start_request(const StartCmd& c, const fs::path& cwd, const config::Config* pm2) {
    if (!c.more_targets.empty()) {
        json names = json::array({c.target});
        for (const auto& t : c.more_targets) names.push_back(t);
        return control::request("start", {{"targets", names}});
    }
    fs::path target = absolute_from(cwd, c.target);
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0) {
        Error missing = Error::from_errno(target.string());
        // A path or a file's flags mean a file was meant; a bare word may be an app's name.
        bool file_meant = !c.instances.empty() || !c.name.empty() || !c.only.empty() || c.port > 0 ||
                          c.target.find('/') != std::string::npos || is_ecosystem_file(c.target);
        if (errno != ENOENT || file_meant) return missing;
        return control::request("start", {{"targets", {c.target}}, {"missing_file", missing.message}});
    }
    if (!S_ISREG(st.st_mode)) return Error{target.string() + ": not a regular file"};

    json args = json::object();
    args[is_ecosystem_file(c.target) ? "file" : "script"] = target.string();
    if (pm2) args["pm2"] = config::to_json(*pm2);
    if (!c.instances.empty()) args["instances"] = c.instances;
    if (!c.name.empty()) args["name"] = c.name;
    if (!c.only.empty()) args["only"] = c.only;
    if (c.port > 0) args["port"] = c.port;
    if (c.no_retry) args["no_retry"] = true;
    return control::request("start", std::move(args));
}

Result<json> start_or_request(const StartOrCmd& c, const fs::path& cwd, const config::Config* pm2) {
    StartCmd start;
    start.target = c.file;
    auto req = start_request(start, cwd, pm2);
    if (!req) return req;
    if (!req->contains("file"))
        return Error{"startOr" + std::string(c.then == "reload" ? "Reload" : "Restart") + ": " + c.file +
                     " is no ecosystem file"};
    (*req)["cmd"] = c.then == "reload" ? "startOrReload" : "startOrRestart";
    return req;
}

json action_request(const ActionCmd& c, const fs::path& cwd, const config::Config* pm2) {
    json targets = json::array();
    for (const auto& t : c.targets)
        targets.push_back(c.action == "reload" && is_ecosystem_file(t) ? absolute_from(cwd, t).string() : t);
    json args{{"targets", targets}};
    if (pm2) args["pm2"] = config::to_json(*pm2);
    return control::request(c.action, std::move(args));
}

json scale_request(const ScaleCmd& c) {
    bool relative = !c.count.empty() && (c.count[0] == '+' || c.count[0] == '-');
    return control::request("scale", {{"app", c.app}, {relative ? "delta" : "instances", std::stoi(c.count)}});
}

json describe_request(const DescribeCmd& c) { return control::request("describe", {{"app", c.app}}); }

json flush_request(const FlushCmd& c) {
    return control::request("flush", c.app.empty() ? json::object() : json{{"targets", {c.app}}});
}

json cache_purge_request(const CachePurgeCmd& c) {
    return control::request("cache_purge", {{"location", c.location}, {"prefix", c.prefix}});
}

json signal_request(const SignalCmd& c) {
    return control::request("signal", {{"signal", c.number}, {"targets", c.targets}});
}

std::string render_env(const json& reply) {
    std::string out;
    if (auto env = reply.find("env"); env != reply.end() && env->is_array())
        for (const auto& kv : *env) {
            if (!kv.is_string()) continue;
            const std::string& s = kv.get_ref<const std::string&>();
            auto eq = s.find('=');
            out += eq == std::string::npos ? s + ":\n" : s.substr(0, eq) + ": " + s.substr(eq + 1) + "\n";
        }
    return out;
}

Status run(const StartCmd& c) {
    std::optional<config::Pm2Ecosystem> pm2;
    if (config::is_pm2_ecosystem(c.target)) {
        auto eco = evaluate_pm2(c.target, c.env);
        if (!eco) return eco.error();
        pm2 = std::move(*eco);
    }
    auto request = start_request(c, fs::current_path(), pm2 ? &pm2->config : nullptr);
    if (!request) return request.error();
    // Apps to start again live in a running daemon; a new one would have none of them.
    Client client(resolve_home());
    auto reply = request->contains("targets") ? client.call(*request) : client.call_starting_daemon(*request);
    if (!reply) return reply.error();
    if (auto s = print_outcome(*reply, "started"); !s || !pm2) return s;
    // Where clients reach a cluster-mode app: its PORT is now the proxy's.
    for (auto& a : pm2->config.apps)
        if (!c.instances.empty()) a.instances = c.instances;
    for (const auto& note : config::pm2_cluster_notes(pm2->config, config::usable_cpus()))
        if (c.only.empty() || note.starts_with(c.only + ": ")) print(note + "\n");
    return {};
}

Status run(const ActionCmd& c) {
    std::optional<config::Pm2Ecosystem> pm2;
    if (c.action == "reload" && c.targets.size() == 1 && config::is_pm2_ecosystem(c.targets.front())) {
        auto eco = evaluate_pm2(c.targets.front(), c.env);
        if (!eco) return Error{eco.error().message + " (nothing was changed)"};
        pm2 = std::move(*eco);
    }
    auto reply = Client(resolve_home()).call(action_request(c, fs::current_path(), pm2 ? &pm2->config : nullptr));
    if (!reply) return reply.error();
    std::string names;
    for (const auto& t : c.targets) names += " " + t;
    return print_outcome(*reply, c.action + names + ": done");
}

Status run(const ScaleCmd& c) {
    auto reply = Client(resolve_home()).call(scale_request(c));
    if (!reply) return reply.error();
    return print_outcome(*reply, "scaled " + c.app + " " + c.count);
}

Status run(const StartOrCmd& c) {
    std::optional<config::Pm2Ecosystem> pm2;
    if (config::is_pm2_ecosystem(c.file)) {
        auto eco = evaluate_pm2(c.file, c.env);
        if (!eco) return eco.error();
        pm2 = std::move(*eco);
    }
    auto request = start_or_request(c, fs::current_path(), pm2 ? &pm2->config : nullptr);
    if (!request) return request.error();
    auto reply = Client(resolve_home()).call_starting_daemon(*request);
    if (!reply) return reply.error();
    return print_outcome(*reply, "done");
}

Status run(const JlistCmd& c) {
    auto reply = Client(resolve_home()).call(control::request("jlist"));
    if (!reply) return reply.error();
    json processes = reply->value("processes", json::array());
    print((c.pretty ? processes.dump(2) : processes.dump()) + "\n");
    return {};
}

Status run(const EnvCmd& c) {
    auto reply = Client(resolve_home()).call(control::request("env", {{"id", c.id}}));
    if (!reply) return reply.error();
    print(render_env(*reply));
    return {};
}

Status run(const ResetCmd& c) {
    auto reply = Client(resolve_home()).call(control::request("reset", {{"targets", c.targets}}));
    if (!reply) return reply.error();
    return print_outcome(*reply, "reset");
}

Status run(const SignalCmd& c) {
    auto reply = Client(resolve_home()).call(signal_request(c));
    if (!reply) return reply.error();
    if (auto done = reply->find("signalled"); done != reply->end() && done->is_array())
        for (const auto& w : *done)
            if (w.is_string()) print("sent " + c.signal + " to " + w.get<std::string>() + "\n");
    return {};
}

Status run(const StatusCmd& c) {
    auto reply = Client(resolve_home()).call(control::request("status"));
    if (!reply) return reply.error();
    auto view = parse_status(*reply);
    if (!view) return view.error();
    print(c.json ? render_workers_json(view->workers) : render_status(*view, terminal_style()));
    const std::string daemon = reply->value("daemon_version", std::string("an older version"));
    if (daemon != ipc::version())
        std::fprintf(stderr, "nodeedge: the daemon runs %s, this CLI is %s (`nodeedge upgrade` moves the daemon to "
                     "this binary)\n", daemon.c_str(), ipc::version().c_str());
    else if (!c.json)
        print("daemon: pid " + std::to_string(reply->value("daemon_pid", 0)) + " · nodeedge " + daemon + "\n");
    return {};
}

Status run(const FlushCmd& c) {
    auto reply = Client(resolve_home()).call(flush_request(c));
    if (!reply) return reply.error();
    print("flushed the logs of " + (c.app.empty() ? std::string("every app") : c.app) + "\n");
    return {};
}

Status run(const CachePurgeCmd& c) {
    auto reply = Client(resolve_home()).call(cache_purge_request(c));
    if (!reply) return reply.error();
    print("purged " + std::to_string(reply->value("purged", 0)) + " stored answers\n");
    return {};
}

Status run(const DescribeCmd& c) {
    auto reply = Client(resolve_home()).call(describe_request(c));
    if (!reply) return reply.error();
    if (reply->contains("certificate")) {
        print(render_certificate(*reply, terminal_style()));
        return {};
    }
    auto view = parse_describe(*reply);
    if (!view) return view.error();
    print(render_describe(*view, terminal_style()));
    return {};
}

Status run(const CertsCmd& c) {
    Client client(resolve_home());
    if (c.renew.empty()) {
        auto reply = client.call(control::request("certs"));
        if (!reply) return reply.error();
        print(render_certs(reply->value("certificates", json::array()), terminal_style()));
        return {};
    }
    auto reply = client.call(control::request("certs", {{"renew", c.renew}}));
    if (!reply) return reply.error();
    const json cert = reply->value("certificate", json::object());
    print("renewed " + c.renew + ": issued by " + cert.value("issuer", "") + ", expires " +
          format_time(cert.value("not_after", int64_t{0})) + "\n");
    return {};
}

Status run(const SaveCmd&) {
    Client client(resolve_home());
    auto reply = client.call(control::request("save"));
    if (!reply) return reply.error();
    print("saved the running configuration to " + control::state_db_path(client.home()) + "\n");
    return {};
}

Status run(const ResurrectCmd&) {
    auto reply = Client(resolve_home()).call_starting_daemon(control::request("resurrect"));
    if (!reply) return reply.error();
    return print_outcome(*reply, "resurrected the saved configuration");
}

Status run(const KillCmd&) {
    Client client(resolve_home());
    auto reply = client.call(control::request("kill"));
    if (!reply) return reply.error();
    if (auto s = client.wait_until_gone(kKillWait); !s) return s;
    print("daemon stopped\n");
    return {};
}

// The daemon answers before it execs; the outcome (the new program running, or the old one
// back after a rollback) is read from `ping` once a daemon answers there again.
Status run(const UpgradeCmd& c) {
    Client client(resolve_home());
    json req = control::request("upgrade");
    if (!c.binary.empty()) req["binary"] = absolute_from(fs::current_path(), c.binary).string();
    auto started = client.call(req);
    if (!started) return started.error();
    const uint64_t id = started->value("id", uint64_t{0});
    const auto deadline = std::chrono::steady_clock::now() + kUpgradeWait;
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto ping = client.call_if_running(control::request("ping"));
        if (!ping || !*ping) continue;   // between the old program and the new one
        json u = (**ping).value("upgrade", json::object());
        if (u.value("id", uint64_t{0}) != id) continue;
        if (!u.value("ok", false))
            return Error{"upgrade failed and was rolled back: " + u.value("error", std::string("no reason given")) +
                         "; the daemon (pid " + std::to_string((**ping).value("pid", 0)) + ") runs " +
                         (**ping).value("version", std::string("?")) + " again"};
        print("upgraded the daemon (pid " + std::to_string((**ping).value("pid", 0)) + ") from " +
              u.value("from", std::string("?")) + " to " + u.value("to", std::string("?")) +
              "; every worker kept running\n");
        return {};
    }
    return Error{"the daemon did not report on the upgrade within " + std::to_string(kUpgradeWait.count()) +
                 " s (see " + control::daemon_log_path(resolve_home()) + ")"};
}

Status run(const VersionCmd&) {
    print("nodeedge " + ipc::version() + "\n");
    return {};
}

Status run(const CheckCmd& c) {
    std::string path = absolute_from(fs::current_path(), c.file).string();
    if (config::is_pm2_ecosystem(c.file)) {
        if (auto eco = evaluate_pm2(c.file, c.env); !eco) return eco.error();
        print("nodeedge: configuration file " + path + " test is successful\n");
        return {};
    }
    auto config = config::load_file(path);
    if (!config) return config.error();
    print("nodeedge: configuration file " + path + " test is successful\n");
    return {};
}

}  // namespace ne::cli
