#include "supervisor/state_db.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace ne::supervisor {

namespace {

// `describe` shows recent history; older events are pruned on insert.
constexpr int kEventsPerApp = 1000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS apps(
    name   TEXT PRIMARY KEY,
    config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workers(
    id            INTEGER PRIMARY KEY,
    app           TEXT NOT NULL,
    instance      INTEGER NOT NULL,
    pid           INTEGER NOT NULL,
    start_ticks   INTEGER NOT NULL,
    port          INTEGER NOT NULL,
    status        TEXT NOT NULL,
    restarts      INTEGER NOT NULL,
    started_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    seq    INTEGER PRIMARY KEY,
    ts_ms  INTEGER NOT NULL,
    app    TEXT NOT NULL,
    worker TEXT NOT NULL,
    kind   TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_app ON events(app, seq);
CREATE TABLE IF NOT EXISTS saved(
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta(
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');
)sql";

struct Finalize { void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); } };
using Stmt = std::unique_ptr<sqlite3_stmt, Finalize>;

// Values outlive the statement's execution, hence SQLITE_STATIC.
void bind(sqlite3_stmt* s, int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
void bind(sqlite3_stmt* s, int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

// quick_check's report, "*** in database main ***\nPage 5: ...", as one line without the banner.
std::string one_line(std::string report) {
    const std::string banner = "*** in database main ***\n";
    if (report.starts_with(banner)) report.erase(0, banner.size());
    std::replace(report.begin(), report.end(), '\n', ' ');
    return report;
}

std::string text_column(sqlite3_stmt* s, int col) {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, col))) : std::string();
}

// One connection's statements, with errors that say which file and which operation.
class Session {
public:
    Session(sqlite3* db, const std::string& path) : db_(db), path_(path) {}

    Error error(const std::string& what) const { return Error{path_ + ": " + what + ": " + sqlite3_errmsg(db_)}; }

    Status exec(const std::string& what, const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return error(what);
        return {};
    }

    // Prepares sql and binds args to ?1, ?2, ...
    template <typename... A>
    Result<Stmt> prepare(const std::string& what, const char* sql, const A&... args) {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr) != SQLITE_OK) return error(what);
        Stmt stmt(raw);
        int i = 0;
        (bind(raw, ++i, args), ...);
        return stmt;
    }

    // Runs a statement that returns no rows.
    template <typename... A>
    Status run(const std::string& what, const char* sql, const A&... args) {
        auto stmt = prepare(what, sql, args...);
        if (!stmt) return stmt.error();
        if (sqlite3_step(stmt->get()) != SQLITE_DONE) return error(what);
        return {};
    }

    // Calls row(stmt) for each result row.
    template <typename F, typename... A>
    Status each_row(const std::string& what, F&& row, const char* sql, const A&... args) {
        auto stmt = prepare(what, sql, args...);
        if (!stmt) return stmt.error();
        int rc;
        while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) row(stmt->get());
        if (rc != SQLITE_DONE) return error(what);
        return {};
    }

    // The single text value a query returns, nullopt when it returns no row.
    template <typename... A>
    Result<std::optional<std::string>> single_text(const std::string& what, const char* sql, const A&... args) {
        std::optional<std::string> value;
        auto st = each_row(what, [&](sqlite3_stmt* s) { value = text_column(s, 0); }, sql, args...);
        if (!st) return st.error();
        return value;
    }

private:
    sqlite3* db_;
    const std::string& path_;
};

// Rolls back unless committed, so an early return leaves the database as it was.
class Transaction {
public:
    explicit Transaction(Session& s) : s_(s) { begun_ = s_.exec("begin", "BEGIN IMMEDIATE").ok(); }
    ~Transaction() {
        if (begun_) (void)s_.exec("rollback", "ROLLBACK");
    }
    Status begun() const { return begun_ ? Status{} : s_.error("begin"); }
    Status commit() {
        auto st = s_.exec("commit", "COMMIT");
        if (st) begun_ = false;
        return st;
    }

private:
    Session& s_;
    bool begun_ = false;
};

}  // namespace

namespace {

// Keeps the damaged file for a post-mortem and starts an empty one in its place.
Result<std::unique_ptr<StateDb>> move_aside_and_open(const std::string& path, const std::string& why) {
    const std::string aside = path + ".corrupt";
    if (std::rename(path.c_str(), aside.c_str()) != 0)
        return Error{path + ": " + why + "; cannot move it aside: " + std::strerror(errno)};
    ::unlink((path + "-wal").c_str());
    ::unlink((path + "-shm").c_str());
    spdlog::error("{}: {}; moved aside to {}, starting with an empty state (the running config and "
                  "the saved list are lost: start the apps again)", path, why, aside);
    return StateDb::open(path);
}

bool damaged(sqlite3* db) {
    int rc = sqlite3_errcode(db);
    return rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT;
}

}  // namespace

Result<std::unique_ptr<StateDb>> StateDb::open(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    DbPtr db(raw);  // sqlite allocates a handle even when open fails; it must still be closed
    if (rc != SQLITE_OK)
        return Error{path + ": open: " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc))};
    Session s(raw, path);
    // The daemon may wait briefly on a CLI reading the same file rather than fail.
    sqlite3_busy_timeout(raw, 2000);
    // A garbage file fails on its first read (here); a damaged database only when the bad page
    // is read, which quick_check does now, so the daemon says so at start and not mid-way.
    if (auto st = s.exec("set WAL mode", "PRAGMA journal_mode=WAL"); !st) {
        if (!damaged(raw)) return st.error();
        db.reset();
        return move_aside_and_open(path, sqlite3_errstr(SQLITE_NOTADB));
    }
    auto check = s.single_text("check", "PRAGMA quick_check(1)");
    if (!check && !damaged(raw)) return check.error();
    if (!check || check->value_or("") != "ok") {
        const std::string why = check ? "database is corrupt (" + one_line(check->value_or("")) + ")"
                                      : check.error().message;
        db.reset();
        return move_aside_and_open(path, why);
    }
    if (auto st = s.exec("set synchronous", "PRAGMA synchronous=NORMAL"); !st) return st.error();
    if (auto st = s.exec("create schema", kSchema); !st) return st.error();
    return std::unique_ptr<StateDb>(new StateDb(std::move(db), path));
}

StateDb::~StateDb() = default;

Status StateDb::put_app(const std::string& name, const std::string& config_json) {
    return Session(db_.get(), path_)
        .run("put app " + name, "INSERT OR REPLACE INTO apps(name, config) VALUES(?1, ?2)", name, config_json);
}

Status StateDb::delete_app(const std::string& name) {
    return Session(db_.get(), path_).run("delete app " + name, "DELETE FROM apps WHERE name = ?1", name);
}

Result<std::vector<std::pair<std::string, std::string>>> StateDb::apps() {
    std::vector<std::pair<std::string, std::string>> out;
    auto st = Session(db_.get(), path_).each_row(
        "read apps", [&](sqlite3_stmt* s) { out.emplace_back(text_column(s, 0), text_column(s, 1)); },
        "SELECT name, config FROM apps ORDER BY name");
    if (!st) return st.error();
    return out;
}

Status StateDb::put_worker(const WorkerRow& w) {
    return Session(db_.get(), path_)
        .run("put worker " + w.app + ":" + std::to_string(w.instance),
             "INSERT OR REPLACE INTO workers(id, app, instance, pid, start_ticks, port, status, restarts, "
             "started_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
             static_cast<int64_t>(w.id), w.app, int64_t{w.instance}, int64_t{w.pid},
             static_cast<int64_t>(w.start_ticks), int64_t{w.port}, w.status, int64_t{w.restarts},
             w.started_at_ms);
}

Status StateDb::delete_worker(uint64_t id) {
    return Session(db_.get(), path_)
        .run("delete worker " + std::to_string(id), "DELETE FROM workers WHERE id = ?1", static_cast<int64_t>(id));
}

Result<std::vector<WorkerRow>> StateDb::workers() {
    std::vector<WorkerRow> out;
    auto st = Session(db_.get(), path_).each_row(
        "read workers",
        [&](sqlite3_stmt* s) {
            WorkerRow w;
            w.id = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
            w.app = text_column(s, 1);
            w.instance = sqlite3_column_int(s, 2);
            w.pid = sqlite3_column_int(s, 3);
            w.start_ticks = static_cast<unsigned long long>(sqlite3_column_int64(s, 4));
            w.port = sqlite3_column_int(s, 5);
            w.status = text_column(s, 6);
            w.restarts = sqlite3_column_int(s, 7);
            w.started_at_ms = sqlite3_column_int64(s, 8);
            out.push_back(std::move(w));
        },
        "SELECT id, app, instance, pid, start_ticks, port, status, restarts, started_at_ms FROM workers "
        "ORDER BY id");
    if (!st) return st.error();
    return out;
}

Status StateDb::add_event(const EventRow& e) {
    Session s(db_.get(), path_);
    const std::string what = "add event for " + e.app;
    Transaction tx(s);
    if (auto st = tx.begun(); !st) return st;
    if (auto st = s.run(what, "INSERT INTO events(ts_ms, app, worker, kind, detail) VALUES(?1, ?2, ?3, ?4, ?5)",
                        e.ts_ms, e.app, e.worker, e.kind, e.detail);
        !st)
        return st;
    if (auto st = s.run(what,
                        "DELETE FROM events WHERE app = ?1 AND seq <= (SELECT seq FROM events WHERE app = ?1 "
                        "ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
                        e.app, int64_t{kEventsPerApp});
        !st)
        return st;
    return tx.commit();
}

Result<std::vector<EventRow>> StateDb::events(const std::string& app, int limit) {
    std::vector<EventRow> out;
    auto st = Session(db_.get(), path_).each_row(
        "read events",
        [&](sqlite3_stmt* s) {
            out.push_back(EventRow{sqlite3_column_int64(s, 0), text_column(s, 1), text_column(s, 2),
                                   text_column(s, 3), text_column(s, 4)});
        },
        "SELECT ts_ms, app, worker, kind, detail FROM (SELECT * FROM events WHERE ?1 = '' OR app = ?1 "
        "ORDER BY seq DESC LIMIT ?2) ORDER BY seq",
        app, int64_t{limit > 0 ? limit : -1});
    if (!st) return st.error();
    return out;
}

Status StateDb::put_saved(const std::string& json) {
    return Session(db_.get(), path_).run("save", "INSERT OR REPLACE INTO saved(id, json) VALUES(1, ?1)", json);
}

Result<std::optional<std::string>> StateDb::saved() {
    return Session(db_.get(), path_).single_text("read saved", "SELECT json FROM saved WHERE id = 1");
}

Status StateDb::put_meta(const std::string& key, const std::string& value) {
    return Session(db_.get(), path_)
        .run("put meta " + key, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", key, value);
}

Result<std::optional<std::string>> StateDb::meta(const std::string& key) {
    return Session(db_.get(), path_).single_text("read meta " + key, "SELECT value FROM meta WHERE key = ?1", key);
}

}  // namespace ne::supervisor
