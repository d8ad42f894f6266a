#include <gtest/gtest.h>

#include <string>

#include "proxy/upstream/sticky.h"

namespace ne::proxy {
namespace {

using namespace std::chrono_literals;

TEST(StickyCookie, TheValueOfOneCookieInAHeader) {
    EXPECT_EQ(cookie_value("route=abc", "route"), "abc");
    EXPECT_EQ(cookie_value("a=1; route=abc; b=2", "route"), "abc");
    EXPECT_EQ(cookie_value("a=1;route=abc ", "route"), "abc");
    EXPECT_EQ(cookie_value("myroute=abc; route=def", "route"), "def");   // whole names only
    EXPECT_EQ(cookie_value("a=1; b=2", "route"), "");
    EXPECT_EQ(cookie_value("", "route"), "");
    EXPECT_EQ(cookie_value("route", "route"), "");
}

TEST(StickyCookie, SetCookieCarriesTheConfiguredAttributes) {
    config::Sticky s;
    s.enabled = true;
    EXPECT_EQ(sticky_set_cookie(s, "0123456789abcdef"), "route=0123456789abcdef; Path=/");
    s.cookie = "srv_id";
    s.path = "/socket.io/";
    s.domain = ".example.com";
    s.expires = 1h;
    s.secure = s.httponly = true;
    s.samesite = "lax";
    EXPECT_EQ(sticky_set_cookie(s, "v"),
              "srv_id=v; Path=/socket.io/; Domain=.example.com; Max-Age=3600; Secure; HttpOnly; SameSite=Lax");
}

class StickyPick : public ::testing::Test {
protected:
    Backend* add(const std::string& address) {
        auto b = std::make_shared<Backend>();
        b->id = next_id_++;
        b->address = address;
        pool_.add(b);
        return b.get();
    }
    Pool pool_{"api"};
    uint64_t next_id_ = 1;
};

TEST_F(StickyPick, TheNamedBackendWhileItIsEligible) {
    Backend* a = add("127.0.0.1:3000");
    Backend* b = add("127.0.0.1:3001");
    EXPECT_EQ(sticky_value(*a).size(), 16u);
    EXPECT_NE(sticky_value(*a), sticky_value(*b));
    EXPECT_EQ(sticky_value(*a), sticky_value(*a));   // the same in every worker: from the address
    PickContext ctx;
    EXPECT_EQ(sticky_backend(pool_, sticky_value(*b), ctx), b);
    EXPECT_EQ(sticky_backend(pool_, "", ctx), nullptr);
    EXPECT_EQ(sticky_backend(pool_, "ffffffffffffffff", ctx), nullptr);
    // Draining (a reload, a stop): its clients go elsewhere.
    b->admin = Backend::Admin::draining;
    EXPECT_EQ(sticky_backend(pool_, sticky_value(*b), ctx), nullptr);
    b->admin = Backend::Admin::ready;
    // Tried already by this request (a failed attempt): a retry goes elsewhere.
    const uint64_t tried[] = {b->id};
    ctx.tried = tried;
    EXPECT_EQ(sticky_backend(pool_, sticky_value(*b), ctx), nullptr);
}

}  // namespace
}  // namespace ne::proxy
