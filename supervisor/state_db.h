// state.db (SQLite, WAL): apps (their config as JSON), workers (pid, start ticks, port, status,
// restarts), events, and the saved list. The daemon writes it; after a daemon crash the next
// daemon reads it to find workers that outlived it (pid + start ticks). RAII statements.
// Every error names the file and carries SQLite's message; a file that is not a database, or
// a corrupt one, is refused by open() with such an error.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/result.h"

namespace ne::supervisor {

struct WorkerRow {
    uint64_t id = 0;                 // the daemon's worker id
    std::string app;
    int instance = 0;
    int pid = 0;
    unsigned long long start_ticks = 0;
    int port = 0;
    std::string status;              // launching online draining stopping stopped errored
    int restarts = 0;
    int64_t started_at_ms = 0;       // wall clock, ms since epoch
};

struct EventRow {
    int64_t ts_ms = 0;
    std::string app;
    std::string worker;              // "api:1" or "" for app-wide events
    std::string kind;                // start exit restart memory reload errored stop ...
    std::string detail;
};

class StateDb {
public:
    // A damaged file (not a database, or failing quick_check) is renamed to <path>.corrupt,
    // said in the daemon's log, and replaced by an empty database: the daemon keeps working
    // (without the lost running config and saved list) instead of refusing to start.
    static Result<std::unique_ptr<StateDb>> open(const std::string& path);
    ~StateDb();

    // Apps: name -> config JSON (config::to_json of a one-app Config, or the app's own object).
    Status put_app(const std::string& name, const std::string& config_json);
    Status delete_app(const std::string& name);
    Result<std::vector<std::pair<std::string, std::string>>> apps();

    Status put_worker(const WorkerRow& w);   // insert or replace by id
    Status delete_worker(uint64_t id);
    Result<std::vector<WorkerRow>> workers();

    // Keeps the newest 1000 events per app.
    Status add_event(const EventRow& e);
    // The newest `limit` events of `app` ("" = every app; limit <= 0 = no limit), oldest first.
    Result<std::vector<EventRow>> events(const std::string& app, int limit);

    // The saved configuration (`save`), one JSON document; nullopt if never saved.
    Status put_saved(const std::string& json);
    Result<std::optional<std::string>> saved();

    // Generic key/value for small daemon state (e.g. the running config).
    Status put_meta(const std::string& key, const std::string& value);
    Result<std::optional<std::string>> meta(const std::string& key);

private:
    struct Close { void operator()(sqlite3* db) const { sqlite3_close_v2(db); } };
    using DbPtr = std::unique_ptr<sqlite3, Close>;
    StateDb(DbPtr db, std::string path) : db_(std::move(db)), path_(std::move(path)) {}
    DbPtr db_;
    std::string path_;
};

}  // namespace ne::supervisor
