#include "supervisor/commands.h"

#include <unistd.h>

#include "ipc/control.h"
#include "ipc/version.h"
#include "supervisor/acme_certs.h"

namespace ne::supervisor {

using ipc::control::fail;
using ipc::control::ok;

void Commands::handle(const nlohmann::json& req, Reply reply) {
    const std::string cmd = req["cmd"];
    if (host_.stopping() && cmd != "status" && cmd != "ping" && cmd != "kill") {
        reply(fail("the daemon is shutting down"));
        return;
    }
    if (cmd == "ping") {
        nlohmann::json answer{{"pid", ::getpid()}, {"version", ipc::version()}};
        if (auto u = host_.upgrade_outcome(); !u.is_null()) answer["upgrade"] = u;
        reply(ok(answer));
    }
    else if (cmd == "status") reply(ok(host_.status_json()));
    else if (cmd == "start") lifecycle_.start(req, reply);
    else if (cmd == "reload") lifecycle_.reload(req, reply);
    else if (cmd == "restart") lifecycle_.restart(req, reply);
    else if (cmd == "stop") lifecycle_.stop(req, reply);
    else if (cmd == "delete") lifecycle_.remove(req, reply);
    else if (cmd == "scale") lifecycle_.scale(req, reply);
    else if (cmd == "startOrReload") lifecycle_.start_or(req, "reload", reply);
    else if (cmd == "startOrRestart") lifecycle_.start_or(req, "restart", reply);
    else if (cmd == "jlist") inspect_.jlist(reply);
    else if (cmd == "env") process_.env(req, reply);
    else if (cmd == "reset") process_.reset(req, reply);
    else if (cmd == "signal") process_.signal(req, reply);
    else if (cmd == "describe") inspect_.describe(req, reply);
    else if (cmd == "logs") inspect_.logs(req, reply);
    else if (cmd == "flush") inspect_.flush(req, reply);
    else if (cmd == "cache_purge") purge_cache(req, reply);
    else if (cmd == "save") persist_.save(reply);
    else if (cmd == "resurrect") persist_.resurrect(reply);
    else if (cmd == "certs") certs(req, reply);
    else if (cmd == "upgrade") host_.upgrade(req.value("binary", ""), reply);
    else if (cmd == "kill") host_.shutdown([reply] { reply(ok()); });
    else reply(fail("unknown command '" + cmd + "'"));
}

void Commands::certs(const nlohmann::json& req, Reply reply) {
    const std::string name = str_arg(req, "renew");
    if (name.empty()) {
        reply(ok({{"certificates", host_.certificates().list()}}));
        return;
    }
    host_.certificates().renew(name, [reply](nlohmann::json r) {
        if (r.value("ok", false)) reply(ok(std::move(r)));
        else reply(fail(r.value("error", "renewal failed")));
    });
}

void Commands::purge_cache(const nlohmann::json& req, Reply reply) {
    auto purged = host_.purge_cache(str_arg(req, "location"), str_arg(req, "prefix"));
    if (!purged)
        reply(fail(purged.error().message));
    else
        reply(ok({{"purged", *purged}}));
}

}  // namespace ne::supervisor
