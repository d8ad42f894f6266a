// systemd integration: the shipped unit (and the one `startup` prints) pass `systemd-analyze
// verify`, and a foreground daemon speaks the notify protocol: READY=1 with a STATUS= line,
// STATUS= as workers come online, WATCHDOG=1 while WATCHDOG_USEC is set, STOPPING=1 on SIGTERM.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "integration/foreground_daemon.h"
#include "integration/harness.h"

namespace ne::itest {
namespace {

constexpr const char* kAnalyze = "/usr/bin/systemd-analyze";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
    return s;
}

class SystemdTest : public IntegrationTest {
protected:
    // systemd-analyze verify on `unit_text` saved as nodeedge.service; it must say nothing.
    void expect_verifies(const std::string& unit_text) {
        struct stat st{};
        if (::stat(kAnalyze, &st) != 0) GTEST_SKIP() << kAnalyze << " is not installed (Debian package systemd)";
        std::string folder = dir() + "/unit";
        ::mkdir(folder.c_str(), 0700);
        std::ofstream(folder + "/nodeedge.service") << unit_text;
        RunResult r = run_command({kAnalyze, "verify", folder + "/nodeedge.service"});
        EXPECT_EQ(r.code, 0) << r.out << r.err;
        EXPECT_EQ(r.err, "") << unit_text;
    }
};

TEST_F(SystemdTest, ShippedUnitVerifies) {
    std::string unit = read_file(std::string(NODEEDGE_SOURCE_DIR) + "/systemd/nodeedge.service");
    ASSERT_NE(unit.find("Type=notify"), std::string::npos);
    ASSERT_NE(unit.find("WatchdogSec="), std::string::npos);
    // Verification checks that ExecStart= exists: point it at the binary under test.
    expect_verifies(replace_all(unit, "/usr/local/bin/nodeedge", NODEEDGE_BIN));
}

TEST_F(SystemdTest, StartupUnitVerifies) {
    RunResult r = run("startup");
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_NE(r.out.find("WatchdogSec="), std::string::npos) << r.out;
    expect_verifies(r.out);
}

// A datagram socket standing in for systemd's $NOTIFY_SOCKET.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : path_(path) {
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << std::strerror(errno);
    }
    // Every message received so far, in order.
    const std::vector<std::string>& messages() {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd_.get(), buf, sizeof buf, 0)) > 0) got_.emplace_back(buf, static_cast<size_t>(n));
        return got_;
    }
    bool received(const std::string& part) {
        for (const auto& m : messages())
            if (m.find(part) != std::string::npos) return true;
        return false;
    }
    int count(const std::string& part) {
        int n = 0;
        for (const auto& m : messages()) n += m.find(part) != std::string::npos;
        return n;
    }

private:
    std::string path_;
    UniqueFd fd_;
    std::vector<std::string> got_;
};

TEST_F(SystemdTest, ForegroundDaemonNotifiesStatusAndWatchdog) {
    NotifySocket notify(dir() + "/notify");
    ForegroundProcess daemon({NODEEDGE_BIN, "daemon", "--foreground"},
                             {"NODEEDGE_HOME=" + home(), "NOTIFY_SOCKET=" + dir() + "/notify", "WATCHDOG_USEC=400000"},
                             dir() + "/daemon.out");
    ASSERT_TRUE(wait_until([&] { return notify.received("READY=1"); }, 15s)) << read_file(dir() + "/daemon.out");
    EXPECT_TRUE(notify.received("STATUS=0 apps, 0 workers online"));
    // Pings at half of WATCHDOG_USEC, from the loop.
    EXPECT_TRUE(wait_until([&] { return notify.count("WATCHDOG=1") >= 3; }, 10s));

    std::string file = write_file("ecosystem.toml", R"([[apps]]
name = "web"
script = "${APPS}/echo.js"
instances = 2
port = ${PORT}
)", {{"PORT", std::to_string(free_port_range(2))}});
    RunResult r = run("start", file);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(wait_until([&] { return notify.received("STATUS=1 app, 2 workers online"); }, 10s))
        << ::testing::PrintToString(notify.messages());

    ASSERT_EQ(::kill(daemon.pid(), SIGTERM), 0);
    EXPECT_TRUE(wait_until([&] { return daemon.exited(); }, 30s));
    EXPECT_EQ(daemon.code(), 0) << read_file(dir() + "/daemon.out");
    EXPECT_TRUE(notify.received("STOPPING=1"));
}

}  // namespace
}  // namespace ne::itest
