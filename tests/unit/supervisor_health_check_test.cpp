// Health checks: the status-line parser and HealthState as tables, and HealthCheck on a real
// loop against a tiny HTTP listener that this test runs on the same loop.
#include <gtest/gtest.h>

#include <event2/listener.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

#include "ipc/event_ptr.h"
#include "ipc/net.h"
#include "supervisor/health_check.h"

namespace ne::supervisor {
namespace {

using namespace std::chrono_literals;
using HealthAction = HealthState::Action;

// ---- parse_status_line ------------------------------------------------------------------

TEST(ParseStatusLine, ReadsTheCode) {
    EXPECT_EQ(parse_status_line("HTTP/1.1 200 OK"), 200);
    EXPECT_EQ(parse_status_line("HTTP/1.0 503 Service Unavailable"), 503);
    EXPECT_EQ(parse_status_line("HTTP/1.1 302"), 302);
    EXPECT_EQ(parse_status_line("HTTP/1.1 404 "), 404);
}

TEST(ParseStatusLine, RefusesWhatIsNotAStatusLine) {
    for (const char* line : {"", "HTTP/1.1", "HTTP/1.1 20", "HTTP/1.1 2000 OK", "HTTP/1.1 abc OK",
                             "HTTP/2 200", "http/1.1 200 OK", "HTTP/1.1  200 OK", "HTTP/1.1 099 Low",
                             "GET /health HTTP/1.1", "SSH-2.0-OpenSSH_9.2"})
        EXPECT_EQ(parse_status_line(line), std::nullopt) << "'" << line << "'";
}

// ---- HealthState ------------------------------------------------------------------------

// Feeds results ('+' ok, '-' failed) and returns the actions, one per result.
std::vector<HealthAction> feed(HealthState& s, std::string_view results) {
    std::vector<HealthAction> out;
    for (char c : results) out.push_back(s.on_result(c == '+'));
    return out;
}

constexpr HealthAction N = HealthAction::None;
constexpr HealthAction T = HealthAction::TakeOut;
constexpr HealthAction P = HealthAction::PutBack;
constexpr HealthAction R = HealthAction::Replace;

TEST(HealthState, HealthyWorkerNeedsNothing) {
    HealthState s(3);
    EXPECT_EQ(feed(s, "++++"), (std::vector<HealthAction>{N, N, N, N}));
    EXPECT_FALSE(s.out());
}

TEST(HealthState, FailuresMustBeConsecutive) {
    HealthState s(3);
    EXPECT_EQ(feed(s, "--+--+--"), (std::vector<HealthAction>{N, N, N, N, N, N, N, N}));
    EXPECT_FALSE(s.out());
    EXPECT_EQ(s.failures(), 2);
}

TEST(HealthState, TakenOutAfterFailsThenBackOnFirstSuccess) {
    HealthState s(3);
    EXPECT_EQ(feed(s, "---"), (std::vector<HealthAction>{N, N, T}));
    EXPECT_TRUE(s.out());
    EXPECT_EQ(feed(s, "--+"), (std::vector<HealthAction>{N, N, P}));
    EXPECT_FALSE(s.out());
    EXPECT_EQ(s.failures(), 0);
    EXPECT_EQ(feed(s, "+"), (std::vector<HealthAction>{N}));
}

TEST(HealthState, CountStartsAgainAfterPutBack) {
    HealthState s(2);
    EXPECT_EQ(feed(s, "--+-+--"), (std::vector<HealthAction>{N, T, P, N, N, N, T}));
}

TEST(HealthState, ReplacedAfterThreeTimesFailsAndAskedAgainLater) {
    HealthState s(2);
    EXPECT_EQ(feed(s, "------"), (std::vector<HealthAction>{N, T, N, N, N, R}));
    EXPECT_TRUE(s.out());
    // The replacement could not start: the worker stays, and is offered up again.
    EXPECT_EQ(feed(s, "------"), (std::vector<HealthAction>{N, N, N, N, N, R}));
    EXPECT_EQ(feed(s, "+"), (std::vector<HealthAction>{P}));
}

TEST(HealthState, OneFailIsEnoughWhenFailsIsOne) {
    HealthState s(1);
    EXPECT_EQ(feed(s, "-+---+"), (std::vector<HealthAction>{T, P, T, N, R, P}));
}

TEST(HealthState, FailsBelowOneCountsAsOne) {
    HealthState s(0);
    EXPECT_EQ(feed(s, "-"), (std::vector<HealthAction>{T}));
}

// ---- HealthCheck on a loop ----------------------------------------------------------------

// What the test listener does with each connection.
enum class Reply { Answer, Silent, CloseAtOnce };

// A one-loop HTTP listener: reads each request's head, records it, and answers `answer`
// (or stays silent, or hangs up at once).
class TinyServer {
public:
    TinyServer(event_base* base, Reply mode, std::string answer = "")
        : base_(base), mode_(mode), answer_(std::move(answer)) {
        auto fd = net::listen_tcp("127.0.0.1", 0);
        if (!fd) {
            ADD_FAILURE() << fd.error().message;
            return;
        }
        sockaddr_in a{};
        socklen_t len = sizeof a;
        getsockname(fd->get(), reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        listener_.reset(evconnlistener_new(base_, &TinyServer::on_accept, this, LEV_OPT_CLOSE_ON_FREE, -1,
                                           fd->release()));
    }
    int port() const { return port_; }
    const std::vector<std::string>& requests() const { return requests_; }

private:
    static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* self) {
        auto* s = static_cast<TinyServer*>(self);
        if (s->mode_ == Reply::CloseAtOnce) {
            evutil_closesocket(fd);
            return;
        }
        bufferevent* bev = bufferevent_socket_new(s->base_, fd, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(bev, &TinyServer::on_read, nullptr, nullptr, self);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        s->conns_.emplace_back(bev);
    }
    static void on_read(bufferevent* bev, void* self) {
        auto* s = static_cast<TinyServer*>(self);
        evbuffer* in = bufferevent_get_input(bev);
        evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
        if (end.pos < 0) return;
        std::string head(static_cast<size_t>(end.pos), '\0');
        evbuffer_remove(in, head.data(), head.size());
        evbuffer_drain(in, 4);
        s->requests_.push_back(head);
        if (s->mode_ == Reply::Answer) bufferevent_write(bev, s->answer_.data(), s->answer_.size());
    }

    event_base* base_;
    Reply mode_;
    std::string answer_;
    int port_ = 0;
    ListenerPtr listener_;
    std::vector<BuffereventPtr> conns_;
    std::vector<std::string> requests_;
};

struct Outcome {
    bool ok;
    std::string detail;
};

class HealthCheckLoopTest : public ::testing::Test {
protected:
    void SetUp() override {
        // As in the daemon (Master::init): a write to a refused or reset check connection must
        // fail with EPIPE, not kill the process.
        ::signal(SIGPIPE, SIG_IGN);
        base_.reset(event_base_new());
        // Fails the test instead of hanging it if the results never come.
        watchdog_.reset(evtimer_new(base_.get(), &HealthCheckLoopTest::on_watchdog, this));
        timeval limit{60, 0};
        evtimer_add(watchdog_.get(), &limit);
    }

    // Runs checks against port until `n` results came; the check is destroyed from inside its
    // own callback after the n-th, as a Worker leaving Online may do.
    std::vector<Outcome> results(int port, size_t n, config::Duration timeout = 5s) {
        config::HealthCheck cfg;
        cfg.enabled = true;
        cfg.path = "/healthz";
        cfg.interval = 10ms;
        cfg.timeout = timeout;
        std::vector<Outcome> out;
        std::unique_ptr<HealthCheck> check;
        check = std::make_unique<HealthCheck>(base_.get(), "127.0.0.1", port, cfg,
                                              [&](bool ok, const std::string& detail) {
                                                  out.push_back({ok, detail});
                                                  if (out.size() == n) check.reset();
                                              });
        while (check && !timed_out_) event_base_loop(base_.get(), EVLOOP_ONCE);
        EXPECT_FALSE(timed_out_) << "watchdog fired after " << out.size() << " results";
        return out;
    }

    static void on_watchdog(evutil_socket_t, short, void* self) {
        static_cast<HealthCheckLoopTest*>(self)->timed_out_ = true;
    }

    EventBasePtr base_;
    EventPtr watchdog_;
    bool timed_out_ = false;
};

TEST_F(HealthCheckLoopTest, SendsGetOfThePathAndAccepts2xxAnd3xx) {
    for (const char* status : {"200 OK", "204 No Content", "301 Moved Permanently"}) {
        TinyServer server(base_.get(), Reply::Answer,
                          std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 0\r\n\r\n");
        auto got = results(server.port(), 2);
        ASSERT_EQ(got.size(), 2u);
        for (auto& r : got) {
            EXPECT_TRUE(r.ok) << status << ": " << r.detail;
            EXPECT_EQ(r.detail, "answered " + std::string(status).substr(0, 3));
        }
        ASSERT_EQ(server.requests().size(), 2u) << "one connection per check";
        const std::string& head = server.requests()[0];
        EXPECT_EQ(head.substr(0, head.find("\r\n")), "GET /healthz HTTP/1.1");
        EXPECT_NE(head.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port())), std::string::npos) << head;
    }
}

TEST_F(HealthCheckLoopTest, ErrorStatusesFail) {
    for (const char* status : {"404 Not Found", "500 Internal Server Error", "503 Service Unavailable"}) {
        TinyServer server(base_.get(), Reply::Answer, std::string("HTTP/1.1 ") + status + "\r\n\r\n");
        auto got = results(server.port(), 1);
        ASSERT_EQ(got.size(), 1u);
        EXPECT_FALSE(got[0].ok) << status;
        EXPECT_EQ(got[0].detail, "answered " + std::string(status).substr(0, 3));
    }
}

TEST_F(HealthCheckLoopTest, NotHttpFails) {
    TinyServer server(base_.get(), Reply::Answer, "SSH-2.0-OpenSSH_9.2\r\n");
    auto got = results(server.port(), 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_FALSE(got[0].ok);
    EXPECT_EQ(got[0].detail, "answered without an HTTP status line");
}

TEST_F(HealthCheckLoopTest, EndlessLineWithoutCrlfFails) {
    TinyServer server(base_.get(), Reply::Answer, std::string(64 * 1024, 'x'));
    auto got = results(server.port(), 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_FALSE(got[0].ok);
    EXPECT_EQ(got[0].detail, "answered without an HTTP status line");
}

TEST_F(HealthCheckLoopTest, HangUpFails) {
    TinyServer server(base_.get(), Reply::CloseAtOnce);
    auto got = results(server.port(), 2);
    ASSERT_EQ(got.size(), 2u);
    for (auto& r : got) EXPECT_FALSE(r.ok) << r.detail;
}

TEST_F(HealthCheckLoopTest, SilenceFailsAtTheTimeout) {
    TinyServer server(base_.get(), Reply::Silent);
    auto got = results(server.port(), 2, 100ms);
    ASSERT_EQ(got.size(), 2u);
    for (auto& r : got) {
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(r.detail, "no answer within 100 ms");
    }
    EXPECT_EQ(server.requests().size(), 2u) << "the request was sent; only the answer was missing";
}

TEST_F(HealthCheckLoopTest, NothingListeningFailsWithTheReason) {
    int port = 0;
    {
        TinyServer gone(base_.get(), Reply::Answer);
        port = gone.port();
    }
    auto got = results(port, 2);
    ASSERT_EQ(got.size(), 2u);
    for (auto& r : got) {
        EXPECT_FALSE(r.ok);
        EXPECT_NE(r.detail.find("Connection refused"), std::string::npos) << r.detail;
    }
}

}  // namespace
}  // namespace ne::supervisor
