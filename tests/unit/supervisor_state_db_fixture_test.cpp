// A state.db written by the daemon before crash survival and `upgrade` existed (the fixture is
// that daemon's file, dumped as SQL) is read whole by today's code: the rows a takeover reads,
// the running config a restore starts, the saved list and the events.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/json.h"
#include "supervisor/state_db.h"
#include "supervisor/takeover.h"

namespace ne::supervisor {
namespace {

std::string fixture_sql() {
    std::ifstream in(std::string(NODEEDGE_SOURCE_DIR) + "/tests/unit/fixtures/state_db_v1.sql");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class StateDbFixtureTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ne-statedb-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/state.db";
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        const std::string sql = fixture_sql();
        ASSERT_FALSE(sql.empty()) << "fixture not found";
        char* err = nullptr;
        EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
        sqlite3_free(err);
        sqlite3_close(db);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string dir_, path_;
};

TEST_F(StateDbFixtureTest, TodaysFormatIsReadByTheNewDaemon) {
    auto db = StateDb::open(path_);
    ASSERT_TRUE(db) << db.error().message;
    auto workers = (*db)->workers();
    ASSERT_TRUE(workers) << workers.error().message;
    ASSERT_EQ(workers->size(), 2u);
    const WorkerRow& w = (*workers)[1];
    EXPECT_EQ(w.id, 2u);
    EXPECT_EQ(w.app, "api");
    EXPECT_EQ(w.instance, 1);
    EXPECT_EQ(w.pid, 4352);
    EXPECT_EQ(w.start_ticks, 2784247u);
    EXPECT_EQ(w.port, 23301);
    EXPECT_EQ(w.status, "online");
    EXPECT_EQ(w.started_at_ms, 1796698886598);

    auto running = (*db)->meta("running");
    ASSERT_TRUE(running && *running);
    auto cfg = config::from_json(nlohmann::json::parse(**running));
    ASSERT_TRUE(cfg) << cfg.error().message;
    ASSERT_EQ(cfg->apps.size(), 1u);
    EXPECT_EQ(cfg->apps[0].name, "api");
    EXPECT_EQ(cfg->apps[0].port, 23300);
    auto saved = (*db)->saved();
    ASSERT_TRUE(saved && *saved);
    EXPECT_TRUE(config::from_json(nlohmann::json::parse(**saved)));
    auto events = (*db)->events("api", 0);
    ASSERT_TRUE(events);
    EXPECT_FALSE(events->empty());

    // What crash survival added is absent from the old file, and means "no proxy worker".
    auto proxies = (*db)->meta("proxy_workers");
    ASSERT_TRUE(proxies);
    EXPECT_FALSE(*proxies);
    EXPECT_TRUE(proxy_records_from_json(nlohmann::json()).empty());
    // And the new daemon writes to it as to its own.
    EXPECT_TRUE((*db)->put_meta("proxy_workers", proxy_records_json({{123, 456}}).dump()));
    EXPECT_EQ(proxy_records_from_json(nlohmann::json::parse(**(*db)->meta("proxy_workers")))[0].start_ticks, 456u);
}

}  // namespace
}  // namespace ne::supervisor
