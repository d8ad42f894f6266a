#include "supervisor/persist_commands.h"

#include <spdlog/spdlog.h>

#include "config/json.h"
#include "ipc/control.h"

namespace ne::supervisor {

using nlohmann::json;
using ipc::control::fail;
using ipc::control::ok;

void PersistCommands::save(Reply reply) {
    const config::Config& running = host_.running();
    if (auto s = host_.db().put_saved(config::to_json(running).dump()); !s) {
        reply(fail(s.error().message));
        return;
    }
    reply(ok({{"apps", running.apps.size()}, {"path", ipc::control::state_db_path(host_.home())}}));
}

void PersistCommands::resurrect(Reply reply) {
    auto saved = host_.db().saved();
    if (!saved) {
        reply(fail(saved.error().message));
        return;
    }
    if (!*saved && !host_.apps().empty()) {
        // A daemon that came back after a crash adopted what ran; with nothing saved, that
        // is what there is to resurrect.
        json answer = host_.status_json();
        answer["notes"] = json::array({"nothing saved; the daemon took over the running apps"});
        reply(ok(answer));
        return;
    }
    if (!*saved) {
        reply(fail("nothing saved yet: run `nodeedge save` first"));
        return;
    }
    json j = json::parse(**saved, nullptr, false);
    auto cfg = j.is_discarded() ? Result<config::Config>(Error{"state.db: the saved configuration is not valid JSON"})
                                : config::from_json(j);
    if (!cfg) {
        reply(fail(cfg.error().message));
        return;
    }
    lifecycle_.launch(std::move(*cfg), {}, std::move(reply));
}

void PersistCommands::restore_running() {
    auto saved = host_.db().meta("running");
    if (!saved || !*saved) return;
    json j = json::parse(**saved, nullptr, false);
    if (j.is_discarded()) return;
    auto cfg = config::from_json(j);
    if (!cfg) {
        spdlog::error("state.db running config: {}", cfg.error().message);
        return;
    }
    spdlog::info("restoring {} app(s) from state.db", cfg->apps.size());
    lifecycle_.launch(std::move(*cfg), {}, [](const json& r) {
        if (!r.value("ok", false)) spdlog::error("restore: {}", r.value("error", ""));
    });
}

}  // namespace ne::supervisor
