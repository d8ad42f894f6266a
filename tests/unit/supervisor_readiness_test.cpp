// PortProbe against a listener that appears later and one that another process holds; NodeIpcReader against real node children
// started by spawn(), as the supervisor runs them.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/net.h"
#include "supervisor/readiness.h"
#include "supervisor/spawn.h"

extern char** environ;

namespace ne::supervisor {
namespace {

// A port nothing listens on (bound by the kernel's choice, then released).
int free_port() {
    auto fd = net::listen_tcp("127.0.0.1", 0);
    if (!fd) return 0;
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd->get(), reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
}

class LoopTest : public ::testing::Test {
protected:
    void SetUp() override {
        base_.reset(event_base_new());
        // Fails the test instead of hanging it if the awaited event never comes.
        watchdog_.reset(evtimer_new(base_.get(), &LoopTest::on_watchdog, this));
        timeval limit{60, 0};
        evtimer_add(watchdog_.get(), &limit);
    }
    void run_until(const bool& flag) {
        while (!flag && !timed_out_) event_base_loop(base_.get(), EVLOOP_ONCE);
        ASSERT_FALSE(timed_out_) << "watchdog fired";
    }
    static void on_watchdog(evutil_socket_t, short, void* self) { static_cast<LoopTest*>(self)->timed_out_ = true; }

    EventBasePtr base_;
    EventPtr watchdog_;
    bool timed_out_ = false;
};

using PortProbeTest = LoopTest;

TEST_F(PortProbeTest, ReadyOnceTheListenerAppearsAndClosesItsProbe) {
    const int port = free_port();
    ASSERT_GT(port, 0);
    int ready = 0;
    bool done = false;
    PortProbe probe(base_.get(), "127.0.0.1", port, getpid(), [&] {
        ++ready;
        done = true;
    });
    for (int i = 0; i < 3; ++i) event_base_loop(base_.get(), EVLOOP_ONCE);  // three refused probes
    EXPECT_EQ(ready, 0);

    auto listener = net::listen_tcp("127.0.0.1", port);
    ASSERT_TRUE(listener.ok()) << listener.error().message;
    run_until(done);
    EXPECT_EQ(ready, 1);

    UniqueFd conn(accept(listener->get(), nullptr, nullptr));
    ASSERT_TRUE(conn.valid());
    char c;
    EXPECT_EQ(read(conn.get(), &c, 1), 0);  // the probe hung up without sending
}

TEST_F(PortProbeTest, AListenerOutsideTheOwnersTreeIsNotReady) {
    const int port = free_port();
    ASSERT_GT(port, 0);
    // The owner is a child that never listens; the port is held by this process, its parent,
    // opened after the fork so that the child has no copy of it.
    const pid_t owner = fork();
    if (owner == 0) {
        pause();
        _exit(0);
    }
    auto listener = net::listen_tcp("127.0.0.1", port);
    ASSERT_TRUE(listener.ok()) << listener.error().message;
    int ready = 0;
    {
        PortProbe probe(base_.get(), "127.0.0.1", port, owner, [&] { ++ready; });
        // Each probe connects (the listener accepts into its backlog) and is refused as foreign.
        for (int i = 0; i < 6; ++i) event_base_loop(base_.get(), EVLOOP_ONCE);
    }
    EXPECT_EQ(ready, 0);
    kill(owner, SIGKILL);
    waitpid(owner, nullptr, 0);
}

class NodeIpcTest : public LoopTest {
protected:
    // Runs `node -e script` with a channel until the channel closes; how often ready fired.
    int ready_count(const std::string& script) {
        SpawnSpec spec;
        spec.exe = "node";
        spec.argv = {"node", "-e", script};
        for (char** e = environ; *e; ++e) spec.env.emplace_back(*e);
        spec.node_ipc = true;
        auto child = spawn(spec);
        EXPECT_TRUE(child.ok()) << child.error().message;
        if (!child) return -1;
        int ready = 0;
        bool closed = false;
        {
            NodeIpcReader reader(base_.get(), child->ipc.get(), [&] { ++ready; }, [&] { closed = true; });
            run_until(closed);
        }
        if (timed_out_) kill(child->pid, SIGKILL);
        int status = 0;
        waitpid(child->pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "node exit status " << status;
        return ready;
    }
};

TEST_F(NodeIpcTest, ProcessSendReadyFires) {
    EXPECT_EQ(ready_count("setTimeout(() => process.send('ready'), 200)"), 1);
}

TEST_F(NodeIpcTest, OtherMessagesDoNotFire) {
    EXPECT_EQ(ready_count("process.send('readyish'); process.send({type: 'ready'}); process.send(['ready']);"
                          "process.send('x'.repeat(200000))"),
              0);
}

TEST_F(NodeIpcTest, FiresOnceForSeveralReadies) {
    EXPECT_EQ(ready_count("process.send({big: 'x'.repeat(100000)}); process.send('ready'); process.send('ready')"), 1);
}

}  // namespace
}  // namespace ne::supervisor
