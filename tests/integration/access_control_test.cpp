// Access control as an operator sees it: another user cannot drive the daemon through its
// control socket (file modes first, peer credentials behind them), secrets from
// ecosystem.toml never reach the daemon's log or `describe`, and with the daemon run as root
// the proxy workers (`[proxy] user`) and an app's workers (`user`, `group`) run unprivileged
// while the master keeps root and still binds a port below 1024, and serve TLS with a key
// only root can read (the master reads it and passes it down).
// Tests that need root and the `nobody` user say so and skip elsewhere.
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

constexpr const char* kAccessControlConfig = R"([proxy]
workers = 1
${PROXY_USER}

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
cwd = "${APPS}"
port = ${PORT}
env = { API_SECRET = "${SECRET}" }
${APP_USER}

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "echo"
)";

// The real uid ("Uid") or gid ("Gid") of a live process; -1 when it is gone.
long long real_id_of(pid_t pid, const char* field) {
    const auto ids = proc_status_numbers(pid, field);
    return ids.empty() ? -1 : ids[0];
}

// A free privileged port (< 1024): only root can bind one, which is the point.
int free_low_port() {
    for (int port = 1023; port > 600; --port) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (bind_loopback(fd.get(), port)) return port;
    }
    return 0;
}

class AccessControlTest : public IntegrationTest {
protected:
    // Why a root-only test cannot run here, or "" when it can.
    static std::string root_test_blocker() {
        if (::geteuid() != 0) return "needs root (the daemon must start as root to switch users)";
        if (!::getpwnam("nobody") || !::getgrnam("nogroup")) return "needs the user nobody and group nogroup";
        if (::access("/usr/bin/setpriv", X_OK) != 0) return "needs setpriv (util-linux)";
        return "";
    }

    // Starts the echo app with the given extra config lines; returns the listen port.
    int start(const std::string& proxy_user, const std::string& app_user, int listen = 0) {
        if (listen == 0) listen = free_port();
        const std::string file = write_file("ecosystem.toml", kAccessControlConfig,
                                            {{"PORT", std::to_string(free_port())},
                                             {"LISTEN", std::to_string(listen)},
                                             {"SECRET", kSecret},
                                             {"PROXY_USER", proxy_user},
                                             {"APP_USER", app_user}});
        RunResult r = run("start", file);
        EXPECT_EQ(r.code, 0) << r.out << r.err;
        return listen;
    }

    // `nodeedge args...` as the user nobody, with this test's NODEEDGE_HOME.
    RunResult run_as_nobody(const std::vector<std::string>& args) {
        std::vector<std::string> argv{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", NODEEDGE_BIN};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv);
    }

    static constexpr const char* kSecret = "s3cr3t-7f4e9a-do-not-log";
};

TEST_F(AccessControlTest, ControlSocketRefusesOtherUsers) {
    if (auto why = root_test_blocker(); !why.empty()) GTEST_SKIP() << why;
    start("", "");

    // First line of defence: $NODEEDGE_HOME is 0700, so nobody cannot even reach the socket.
    RunResult r = run_as_nobody({"status"});
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;

    // Second: with the modes opened up by mistake, the daemon still checks the caller's
    // credentials and refuses with a reason, for every command.
    ASSERT_EQ(::chmod(dir().c_str(), 0755), 0);
    ASSERT_EQ(::chmod(home().c_str(), 0711), 0);
    ASSERT_EQ(::chmod((home() + "/daemon.sock").c_str(), 0666), 0);
    for (const char* cmd : {"status", "kill"}) {
        r = run_as_nobody({cmd});
        EXPECT_EQ(r.code, 1) << cmd << ": " << r.out << r.err;
        EXPECT_NE(r.err.find("permission denied: the daemon belongs to another user"), std::string::npos)
            << cmd << ": " << r.err;
    }
    // The refused `kill` did nothing: the app still serves, and the owner still controls it.
    ASSERT_EQ(workers_of("echo").size(), 1u);
    EXPECT_EQ(workers_of("echo")[0].value("status", ""), "online");
    EXPECT_NE(read_file(home() + "/daemon.log").find("control socket: refused a client with uid 65534"),
              std::string::npos);
}

TEST_F(AccessControlTest, SecretsNeverReachTheDaemonLogOrEvents) {
    int listen = start("", "");
    // The worker did get the value (it is the app's to use) ...
    auto env_seen = run_command({"cat", "/proc/" + std::to_string(workers_of("echo")[0].value("pid", 0)) + "/environ"});
    EXPECT_NE(env_seen.out.find(kSecret), std::string::npos);
    ASSERT_EQ(http_get(listen, "/")->status, 200);
    // ... and a reload, a restart and a crash-restart log what they do ...
    EXPECT_EQ(run("reload", "echo").code, 0);
    EXPECT_EQ(run("restart", "echo").code, 0);
    // ... but neither the daemon's log nor the events (state.db, listed by `describe`) ever
    // carry it. (`describe` shows the app's config to its owner, env included, as PM2 does.)
    std::string log = read_file(home() + "/daemon.log");
    ASSERT_FALSE(log.empty());
    EXPECT_EQ(log.find(kSecret), std::string::npos) << log;
    RunResult events = run_command({"sqlite3", home() + "/state.db", "SELECT kind, detail FROM events"});
    EXPECT_EQ(events.code, 0) << events.err;
    EXPECT_NE(events.out.find("reload"), std::string::npos) << events.out;
    EXPECT_EQ(events.out.find(kSecret), std::string::npos) << events.out;
    EXPECT_EQ(run("status", "--json").out.find(kSecret), std::string::npos);
}

TEST_F(AccessControlTest, UnknownUserIsRefusedWithItsName) {
    const std::string file = write_file("ecosystem.toml", kAccessControlConfig,
                                        {{"PORT", std::to_string(free_port())},
                                         {"LISTEN", std::to_string(free_port())},
                                         {"SECRET", "x"},
                                         {"PROXY_USER", ""},
                                         {"APP_USER", "user = \"no-such-user-ne\""}});
    RunResult r = run("start", file);
    EXPECT_EQ(r.code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("user 'no-such-user-ne': no such user"), std::string::npos) << r.err;
}

TEST_F(AccessControlTest, ProxyAndWorkersRunUnprivilegedWhileTheMasterKeepsRoot) {
    if (auto why = root_test_blocker(); !why.empty()) GTEST_SKIP() << why;
    const int low = free_low_port();
    if (low == 0) GTEST_SKIP() << "no free port below 1024 on 127.0.0.1";
    const uid_t nobody = ::getpwnam("nobody")->pw_uid;
    const gid_t nogroup = ::getgrnam("nogroup")->gr_gid;
    start("user = \"nobody\"", "user = \"nobody\"\ngroup = \"nogroup\"", low);

    // Served through a port only root could bind, by processes that are not root.
    auto resp = http_get(low, "/who");
    ASSERT_TRUE(resp.ok()) << resp.error().message;
    EXPECT_EQ(resp->status, 200);
    // The access log in $NODEEDGE_HOME (root's, 0700) is written by a worker that is not root:
    // the master opened it and handed the descriptor down.
    const std::string access_log = home() + "/logs/access.log";
    auto logged = [&](const std::string& target) {
        return read_file(access_log).find("\"GET " + target + " HTTP/1.1\"") != std::string::npos;
    };
    EXPECT_TRUE(wait_until([&] { return logged("/who"); }, 5s)) << read_file(access_log) << read_file(home() + "/daemon.log");
    const pid_t worker = workers_of("echo")[0].value("pid", 0);
    EXPECT_EQ(real_id_of(worker, "Uid"), static_cast<long long>(nobody));
    EXPECT_EQ(real_id_of(worker, "Gid"), static_cast<long long>(nogroup));
    EXPECT_NE(run_command({"cat", "/proc/" + std::to_string(worker) + "/environ"}).out.find("HOME=/nonexistent"),
              std::string::npos)
        << "HOME should be nobody's";
    const auto proxies = proxy_worker_processes();
    for (const auto& p : proxies)
        EXPECT_EQ(real_id_of(p.pid, "Uid"), static_cast<long long>(nobody)) << "proxy worker " << p.pid;
    EXPECT_EQ(proxies.size(), 1u);
    EXPECT_EQ(real_id_of(daemon_pid(), "Uid"), 0);

    // A proxy worker killed is re-forked as nobody too, on the same privileged port.
    for (const auto& p : proxies) ::kill(p.pid, SIGKILL);
    ASSERT_TRUE(wait_until([&] {
        auto r = http_get(low, "/again");
        return r.ok() && r->status == 200;
    }, 10s));
    for (const auto& p : proxy_worker_processes())
        EXPECT_EQ(real_id_of(p.pid, "Uid"), static_cast<long long>(nobody));
    EXPECT_TRUE(wait_until([&] { return logged("/again"); }, 5s)) << "the re-forked worker logs too";

    // A rotation: the master reopens the file on SIGUSR1 and hands the new one down.
    ASSERT_EQ(::rename(access_log.c_str(), (access_log + ".1").c_str()), 0);
    ASSERT_EQ(::kill(daemon_pid(), SIGUSR1), 0);
    EXPECT_TRUE(wait_until([&] {
        (void)http_get(low, "/rotated");
        return logged("/rotated");
    }, 5s)) << read_file(home() + "/daemon.log");
}

TEST_F(AccessControlTest, ARootOnlyKeyServesTlsThroughProxyWorkersThatCannotReadIt) {
    if (auto why = root_test_blocker(); !why.empty()) GTEST_SKIP() << why;
    make_cert(dir(), "site", "site.test");
    const std::string key = dir() + "/site.key";
    ASSERT_EQ(::chown(key.c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
    const int port = free_port();
    const std::string file = write_file("tls.toml", R"([proxy]
workers = 2
user = "nobody"

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]
tls = { cert = "site.pem", key = "site.key" }

[[servers.locations]]
path = "/"
return = "200 served"
)", {{"LISTEN", std::to_string(port)}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const auto proxies = proxy_worker_processes();
    ASSERT_EQ(proxies.size(), 2u);
    for (const auto& p : proxies) EXPECT_EQ(real_id_of(p.pid, "Uid"), static_cast<long long>(::getpwnam("nobody")->pw_uid));
    // The proxy workers' user could not have opened it.
    EXPECT_NE(run_command({"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "cat", key}).code, 0);
    const std::string url = " https://site.test:" + std::to_string(port) + "/";
    for (int i = 0; i < 4; ++i)   // connections land on either worker
        EXPECT_EQ(curl("-sk" + curl_resolve("site.test", port) + url).substr(0, 6), "served");
    // A re-forked worker gets the key from the master too.
    for (const auto& p : proxies) ::kill(p.pid, SIGKILL);
    EXPECT_TRUE(wait_until([&] { return curl("-sk -o /dev/null -w '%{http_code}'" + curl_resolve("site.test", port) + url) == "200"; },
                           10s))
        << read_file(home() + "/daemon.log");
}

}  // namespace
}  // namespace ne::itest
