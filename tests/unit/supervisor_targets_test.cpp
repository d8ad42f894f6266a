// resolve_targets as a table of what verbs are given and what they act on: names, worker ids,
// all, several at once, repeats, and the names that match nothing. The apps are real App
// objects whose workers run `sleep` (an id exists only for a started worker); the host is a
// fake that holds them and answers nothing else.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "ipc/event_ptr.h"
#include "supervisor/targets.h"

namespace ne::supervisor {
namespace {

class FakeDaemon final : public WorkerHost, public CommandHost {
public:
    FakeDaemon()
        : base_(event_base_new()),
          log_(std::make_shared<LogFile>(
              (std::filesystem::temp_directory_path() / ("ne-targets-test-" + std::to_string(::getpid()) + ".log"))
                  .string(),
              0, 0)) {
        EXPECT_TRUE(log_->open());
    }
    ~FakeDaemon() override {
        std::vector<pid_t> pids;
        for (auto& a : apps_)
            for (Worker* w : a->workers())
                if (w->pid() > 0) pids.push_back(w->pid());
        apps_.clear();   // each Worker SIGKILLs its process
        for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
    }

    // WorkerHost
    event_base* loop() override { return base_.get(); }
    void pool_add(Worker&) override {}
    void pool_drain(Worker&) override {}
    void pool_remove(Worker&) override {}
    bool replace(Worker&, const std::string&) override { return false; }
    void pid_started(Worker&) override {}
    void state_changed(Worker&, State, const std::string&) override {}
    void event(Worker&, const std::string&, const std::string&) override {}
    std::shared_ptr<LogFile> log_file(const config::App&, int, bool) override { return log_; }

    // CommandHost: only apps() matters to resolve_targets.
    const std::vector<std::unique_ptr<App>>& apps() const override { return apps_; }
    App& add_app(std::shared_ptr<const config::App> cfg, int instances) override {
        App::Ids ids{[this] { return next_slot_++; }, [this] { return next_id_++; }};
        apps_.push_back(std::make_unique<App>(*this, std::move(cfg), instances, ids));
        return *apps_.back();
    }
    void remove_apps(const std::vector<std::string>&) override {}
    const config::Config& running() const override { return running_; }
    Status apply_running(config::Config) override { return {}; }
    StateDb& db() override { std::abort(); }
    LogFiles& logs() override { return logs_; }
    const std::string& home() const override { return home_; }
    void wait_for(Pending) override {}
    nlohmann::json status_json() const override { return {}; }
    Result<size_t> purge_cache(const std::string&, const std::string&) override { return size_t{0}; }
    bool stopping() const override { return false; }
    void shutdown(std::function<void()>) override {}
    AcmeCerts& certificates() override { std::abort(); }
    void upgrade(const std::string&, std::function<void(const nlohmann::json&)>) override {}
    nlohmann::json upgrade_outcome() const override { return nullptr; }

    // An app of `instances` workers running `sleep 30`, started (so its workers have ids).
    App& started(const std::string& name, int instances, const std::string& ns = "default") {
        config::App cfg;
        cfg.name = name;
        cfg.namespace_ = ns;
        cfg.script = "/bin/sleep";
        cfg.interpreter = "none";
        cfg.args = {"30"};
        cfg.port = ephemeral_port();
        App& a = add_app(std::make_shared<const config::App>(cfg), instances);
        EXPECT_EQ(a.start().size(), static_cast<size_t>(instances));
        return a;
    }

private:
    EventBasePtr base_;
    std::shared_ptr<LogFile> log_;
    std::vector<std::unique_ptr<App>> apps_;
    config::Config running_;
    std::string home_ = "/nonexistent";
    LogFiles logs_{home_};
    int next_slot_ = 0;
    uint64_t next_id_ = 1;
};

// "api" (whole), "api:1" (one instance), for comparing.
std::vector<std::string> shown(const Result<std::vector<Target>>& r) {
    std::vector<std::string> out;
    if (!r) return {"error: " + r.error().message};
    for (const Target& t : *r) out.push_back(t.app->name() + (t.whole() ? "" : ":" + std::to_string(t.instance)));
    return out;
}

using Names = std::vector<std::string>;

TEST(Targets, NamesIdsAllAndSeveral) {
    FakeDaemon d;
    d.started("api", 2);   // ids 0, 1
    d.started("web", 1);   // id 2
    EXPECT_EQ(shown(resolve_targets(d, {"api"})), Names{"api"});
    EXPECT_EQ(shown(resolve_targets(d, {"1"})), Names{"api:1"});
    EXPECT_EQ(resolve_targets(d, {"2"})->front().id, 2);
    EXPECT_EQ(shown(resolve_targets(d, {"all"})), (Names{"api", "web"}));
    EXPECT_EQ(shown(resolve_targets(d, {})), (Names{"api", "web"}));
    EXPECT_EQ(shown(resolve_targets(d, {"2", "0"})), (Names{"web:0", "api:0"}));
    EXPECT_EQ(shown(resolve_targets(d, {"web", "api"})), (Names{"web", "api"}));
}

TEST(Targets, RepeatsAreDroppedAndAWholeAppAbsorbsItsIds) {
    FakeDaemon d;
    d.started("api", 2);
    d.started("web", 1);
    EXPECT_EQ(shown(resolve_targets(d, {"1", "1", "web", "web"})), (Names{"api:1", "web"}));
    EXPECT_EQ(shown(resolve_targets(d, {"0", "api", "1"})), Names{"api"});
    EXPECT_EQ(shown(resolve_targets(d, {"api", "all"})), (Names{"api", "web"}));
}

TEST(Targets, ANameThatMatchesNothingFailsTheWholeList) {
    FakeDaemon d;
    d.started("api", 1);
    EXPECT_EQ(shown(resolve_targets(d, {"api", "nope"})), Names{"error: process or namespace 'nope' not found"});
    EXPECT_EQ(shown(resolve_targets(d, {"7"})), Names{"error: process or namespace '7' not found"});
    FakeDaemon empty;
    EXPECT_EQ(shown(resolve_targets(empty, {"all"})), Names{"error: no process found: no app is running"});
    EXPECT_EQ(shown(resolve_targets(empty, {})), Names{"error: no process found: no app is running"});
}

TEST(Targets, ANamespaceStandsForItsAppsAndAnAppOfThatNameWins) {
    FakeDaemon d;
    d.started("cart", 1, "shop");
    d.started("blog", 1);
    d.started("checkout", 1, "shop");
    EXPECT_EQ(shown(resolve_targets(d, {"shop"})), (Names{"cart", "checkout"}));
    EXPECT_EQ(shown(resolve_targets(d, {"shop", "blog"})), (Names{"cart", "checkout", "blog"}));
    EXPECT_EQ(shown(resolve_targets(d, {"default"})), Names{"blog"});
    d.started("shop", 1, "other");
    EXPECT_EQ(shown(resolve_targets(d, {"shop"})), Names{"shop"});
}

TEST(Targets, AnAppNamedLikeANumberIsFoundByName) {
    FakeDaemon d;
    d.started("api", 1);   // id 0
    d.started("0", 1);     // id 1, named "0"
    EXPECT_EQ(shown(resolve_targets(d, {"0"})), Names{"0"});
    EXPECT_EQ(shown(resolve_targets(d, {"1"})), Names{"0:0"});
}

TEST(Targets, WorkerIdsAreDecimalDigits) {
    for (const char* id : {"0", "12", "123456789"}) EXPECT_TRUE(is_worker_id(id)) << id;
    for (const char* not_id : {"", "-1", "+1", "1a", "api", "1234567890", " 1"}) EXPECT_FALSE(is_worker_id(not_id)) << not_id;
}

TEST(Targets, RequestTargetsAreTheStringsOfItsArray) {
    EXPECT_EQ(target_args({{"targets", {"api", "3"}}}), (Names{"api", "3"}));
    EXPECT_EQ(target_args({{"targets", {"api", 3}}}), Names{"api"});
    EXPECT_TRUE(target_args({{"targets", "api"}}).empty());
    EXPECT_TRUE(target_args(nlohmann::json::object()).empty());
}

}  // namespace
}  // namespace ne::supervisor
