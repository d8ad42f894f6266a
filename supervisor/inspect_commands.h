// The control commands that read or tidy without changing any worker: describe, logs, flush and
// jlist, and the row `status` and `describe` show for each worker. Apps are named as every
// verb names them (supervisor/targets.h); describe and logs show the app of a worker id.
#pragma once

#include <nlohmann/json.hpp>

#include "supervisor/command_host.h"

namespace ne::supervisor {

// One worker as `status` and `describe` list it; mode "cluster" when the proxy routes to its app.
nlohmann::json worker_row(const config::Config& running, const App& a, const Worker& w);

class InspectCommands {
public:
    explicit InspectCommands(CommandHost& host) : host_(host) {}

    // An app, or (when no app has that name) a tls = "auto" certificate and its events.
    void describe(const nlohmann::json& req, Reply reply);
    void logs(const nlohmann::json& req, Reply reply);
    void flush(const nlohmann::json& req, Reply reply);
    void jlist(Reply reply);   // {processes: [PM2's process object per worker]} (supervisor/jlist.h)

private:
    void describe_certificate(const std::string& name, Reply reply);
    CommandHost& host_;
};

}  // namespace ne::supervisor
