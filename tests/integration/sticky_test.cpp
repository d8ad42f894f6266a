// Sticky cookie sessions (nginx's `sticky cookie`) through the real daemon: a client that
// returns the cookie stays on one of three workers for 100 requests, fresh connections
// included, with round robin spreading everyone else; when its worker is drained (`stop ID`)
// it moves to a live one and gets a cookie naming it.
#include <set>

#include "integration/harness.h"

namespace ne::itest {
namespace {

constexpr const char* kStickyConfig = R"([proxy]
workers = 2

[[apps]]
name = "echo"
script = "${APPS}/echo.js"
port = ${PORT}
instances = 3

[[servers]]
listen = ["127.0.0.1:${LISTEN}"]

[[servers.locations]]
path = "/"
app = "echo"
sticky = { cookie = "srv_id", expires = "1h", httponly = true, samesite = "lax" }
)";

class StickyTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        listen_ = free_port();
        RunResult r = run("start", write_file("ecosystem.toml", kStickyConfig,
                                              {{"PORT", std::to_string(free_port_range(3))},
                                               {"LISTEN", std::to_string(listen_)}}));
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    // One request on a fresh connection, sending `cookie` (a "srv_id=..." pair) if not empty.
    HttpResponse get(const std::string& cookie) {
        Headers h;
        if (!cookie.empty()) h.emplace_back("Cookie", "theme=dark; " + cookie);
        auto r = http_get(listen_, "/s", h);
        EXPECT_TRUE(r.ok()) << r.error().message;
        return r.ok() ? *r : HttpResponse{};
    }
    static int port_of(const HttpResponse& r) { return json::parse(r.body, nullptr, false).value("port", 0); }
    // "srv_id=<value>" from a Set-Cookie, "" when there is none.
    static std::string cookie_of(const HttpResponse& r) {
        const std::string set = r.header("set-cookie");
        return set.substr(0, set.find(';'));
    }

    int listen_ = 0;
};

TEST_F(StickyTest, AClientStaysOnItsWorkerAndMovesWhenItIsDrained) {
    const HttpResponse first = get("");
    ASSERT_EQ(first.status, 200);
    EXPECT_EQ(first.header("set-cookie").substr(first.header("set-cookie").find(';')),
              "; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax");
    const std::string cookie = cookie_of(first);
    ASSERT_EQ(cookie.size(), std::string("srv_id=").size() + 16) << first.header("set-cookie");
    const int home = port_of(first);

    // Without the cookie, round robin spreads requests over every worker; with it, one.
    std::set<int> anyone;
    for (int i = 0; i < 9; ++i) anyone.insert(port_of(get("")));
    EXPECT_EQ(anyone.size(), 3u);
    std::set<int> sticky;
    for (int i = 0; i < 100; ++i) {
        const HttpResponse r = get(cookie);
        sticky.insert(port_of(r));
        EXPECT_EQ(r.header("set-cookie"), "") << "a client whose cookie is honoured gets none";
    }
    EXPECT_EQ(sticky, std::set<int>{home});

    // Its worker drains and stops: the client moves to a live one and is told which.
    int id = -1;
    for (const json& w : workers_of("echo"))
        if (w.value("port", 0) == home) id = w.value("id", -1);
    ASSERT_GE(id, 0);
    RunResult r = run("stop", std::to_string(id));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const HttpResponse moved = get(cookie);
    ASSERT_EQ(moved.status, 200);
    EXPECT_NE(port_of(moved), home);
    const std::string new_cookie = cookie_of(moved);
    EXPECT_NE(new_cookie, "");
    EXPECT_NE(new_cookie, cookie);
    std::set<int> after;
    for (int i = 0; i < 20; ++i) after.insert(port_of(get(new_cookie)));
    EXPECT_EQ(after, std::set<int>{port_of(moved)});
}

}  // namespace
}  // namespace ne::itest
