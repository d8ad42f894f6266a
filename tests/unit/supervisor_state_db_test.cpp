// StateDb round trips in a fresh folder per test; reopening proves the data is on disk.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "supervisor/state_db.h"

namespace ne::supervisor {
namespace {

namespace fs = std::filesystem;

class StateDbTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::path(::testing::TempDir()) / "ne-state-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
        path_ = (dir_ / "state.db").string();
        db_ = open_db();
    }
    void TearDown() override {
        db_.reset();
        fs::remove_all(dir_);
    }
    std::unique_ptr<StateDb> open_db() {
        auto db = StateDb::open(path_);
        EXPECT_TRUE(db.ok()) << db.error().message;
        return db ? std::move(*db) : nullptr;
    }
    void reopen() {
        db_.reset();
        db_ = open_db();
        ASSERT_NE(db_, nullptr);
    }

    fs::path dir_;
    std::string path_;
    std::unique_ptr<StateDb> db_;
};

TEST_F(StateDbTest, UsesWal) {
    EXPECT_TRUE(fs::exists(path_ + "-wal"));
}

TEST_F(StateDbTest, Apps) {
    ASSERT_TRUE(db_->put_app("web", R"({"name":"web"})").ok());
    ASSERT_TRUE(db_->put_app("api", R"({"name":"api"})").ok());
    ASSERT_TRUE(db_->put_app("api", R"({"name":"api","instances":"2"})").ok());
    reopen();
    auto apps = db_->apps();
    ASSERT_TRUE(apps.ok()) << apps.error().message;
    using P = std::pair<std::string, std::string>;
    EXPECT_EQ(*apps, (std::vector<P>{{"api", R"({"name":"api","instances":"2"})"}, {"web", R"({"name":"web"})"}}));
    ASSERT_TRUE(db_->delete_app("web").ok());
    EXPECT_EQ(*db_->apps(), (std::vector<P>{{"api", R"({"name":"api","instances":"2"})"}}));
}

TEST_F(StateDbTest, Workers) {
    WorkerRow a{7, "api", 1, 4242, 123456789012ull, 3001, "online", 2, 1767000000123};
    WorkerRow b{3, "web", 0, 99, 5, 4000, "launching", 0, 1};
    ASSERT_TRUE(db_->put_worker(a).ok());
    ASSERT_TRUE(db_->put_worker(b).ok());
    a.status = "draining";
    a.restarts = 3;
    ASSERT_TRUE(db_->put_worker(a).ok());  // replaces by id
    reopen();
    auto rows = db_->workers();
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    ASSERT_EQ(rows->size(), 2u);
    auto same = [](const WorkerRow& x, const WorkerRow& y) {
        return x.id == y.id && x.app == y.app && x.instance == y.instance && x.pid == y.pid &&
               x.start_ticks == y.start_ticks && x.port == y.port && x.status == y.status &&
               x.restarts == y.restarts && x.started_at_ms == y.started_at_ms;
    };
    EXPECT_TRUE(same((*rows)[0], b));
    EXPECT_TRUE(same((*rows)[1], a));
    ASSERT_TRUE(db_->delete_worker(3).ok());
    ASSERT_EQ(db_->workers()->size(), 1u);
    EXPECT_EQ(db_->workers()->front().id, 7u);
}

TEST_F(StateDbTest, EventsNewestLastWithLimitAndAppFilter) {
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(db_->add_event({i, "api", "api:" + std::to_string(i), "restart", "exit code " + std::to_string(i)}).ok());
    }
    ASSERT_TRUE(db_->add_event({100, "web", "", "reload", ""}).ok());
    reopen();
    auto last3 = db_->events("api", 3);
    ASSERT_TRUE(last3.ok()) << last3.error().message;
    ASSERT_EQ(last3->size(), 3u);
    EXPECT_EQ((*last3)[0].ts_ms, 2);
    EXPECT_EQ((*last3)[2].ts_ms, 4);
    EXPECT_EQ((*last3)[2].worker, "api:4");
    EXPECT_EQ((*last3)[2].kind, "restart");
    EXPECT_EQ((*last3)[2].detail, "exit code 4");
    EXPECT_EQ(db_->events("api", 0)->size(), 5u);
    auto all = db_->events("", 2);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[0].app, "api");
    EXPECT_EQ((*all)[1].app, "web");
}

TEST_F(StateDbTest, EventsArePrunedTo1000PerApp) {
    for (int i = 0; i < 1005; ++i) ASSERT_TRUE(db_->add_event({i, "api", "api:0", "restart", ""}).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(db_->add_event({i, "web", "web:0", "start", ""}).ok());
    auto api = db_->events("api", 0);
    ASSERT_EQ(api->size(), 1000u);
    EXPECT_EQ(api->front().ts_ms, 5);
    EXPECT_EQ(api->back().ts_ms, 1004);
    EXPECT_EQ(db_->events("web", 0)->size(), 3u);
}

TEST_F(StateDbTest, Saved) {
    auto none = db_->saved();
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE(db_->put_saved(R"({"apps":[1]})").ok());
    ASSERT_TRUE(db_->put_saved(R"({"apps":[2]})").ok());
    reopen();
    EXPECT_EQ(db_->saved()->value_or(""), R"({"apps":[2]})");
}

TEST_F(StateDbTest, Meta) {
    EXPECT_FALSE(db_->meta("running_config")->has_value());
    ASSERT_TRUE(db_->put_meta("running_config", "a").ok());
    ASSERT_TRUE(db_->put_meta("running_config", "b").ok());
    reopen();
    EXPECT_EQ(db_->meta("running_config")->value_or(""), "b");
}

// A damaged state.db must not keep the daemon from starting: it is kept aside for a
// post-mortem and an empty one takes its place.
static void expect_moved_aside(const std::string& path, const std::string& old_content) {
    std::ifstream aside(path + ".corrupt", std::ios::binary);
    ASSERT_TRUE(aside) << path << ".corrupt missing";
    std::string kept((std::istreambuf_iterator<char>(aside)), std::istreambuf_iterator<char>());
    EXPECT_EQ(kept, old_content);
}

TEST_F(StateDbTest, GarbageFileIsMovedAsideAndReplaced) {
    db_.reset();
    fs::remove(path_ + "-wal");
    fs::remove(path_ + "-shm");
    const std::string garbage(8192, 'x');
    std::ofstream(path_, std::ios::trunc) << garbage;
    auto db = StateDb::open(path_);
    ASSERT_TRUE(db.ok()) << db.error().message;
    expect_moved_aside(path_, garbage);
    EXPECT_TRUE((*db)->apps()->empty());
    ASSERT_TRUE((*db)->put_app("fresh", "{}").ok());
}

TEST_F(StateDbTest, DamagedDatabaseIsMovedAsideAndReplaced) {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(db_->put_app("app" + std::to_string(i), std::string(500, 'j')).ok());
    db_.reset();  // checkpoints the WAL into the main file
    {
        // Scribble over page 3 onwards, keeping the header and schema page intact.
        std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(2 * 4096);
        std::string junk(3 * 4096, '\x5a');
        f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    std::ifstream in(path_, std::ios::binary);
    const std::string damaged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto db = StateDb::open(path_);
    ASSERT_TRUE(db.ok()) << db.error().message;
    expect_moved_aside(path_, damaged);
    EXPECT_TRUE((*db)->apps()->empty());
}

TEST_F(StateDbTest, UnopenablePathNamesTheFile) {
    const std::string bad = (dir_ / "missing-folder" / "state.db").string();
    auto db = StateDb::open(bad);
    ASSERT_FALSE(db.ok());
    EXPECT_EQ(db.error().message, bad + ": open: unable to open database file");
}

}  // namespace
}  // namespace ne::supervisor
