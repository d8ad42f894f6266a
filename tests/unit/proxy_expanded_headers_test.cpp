#include <gtest/gtest.h>

#include "proxy/conn/expanded_headers.h"

namespace ne::proxy {
namespace {

std::vector<ProxyHeader> wanted_headers(std::initializer_list<std::pair<const char*, const char*>> list) {
    std::vector<ProxyHeader> out;
    for (auto [name, text] : list) {
        auto t = config::parse_template(text);
        EXPECT_TRUE(t.ok()) << t.error().message;
        out.push_back({name, std::move(*t)});
    }
    return out;
}

TEST(ExpandedHeaders, EachValueIsItsOwnTemplateExpanded) {
    RequestVars v;
    v.host = "a.test";
    v.target = "/p?q=1";
    v.remote_addr = "192.0.2.1";
    const auto wanted = wanted_headers({{"X-Original-URI", "$request_uri"}, {"X-Empty", ""}, {"X-Both", "$host|$remote_addr"}});
    ExpandedHeaders e;
    auto got = e.expand(wanted, v);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].name, "X-Original-URI");
    EXPECT_EQ(got[0].value, "/p?q=1");
    EXPECT_EQ(got[1].value, "");
    EXPECT_EQ(got[2].value, "a.test|192.0.2.1");
    // The next request starts afresh in the same storage.
    v.target = "/other";
    got = e.expand(wanted, v);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].value, "/other");
    EXPECT_EQ(got[2].value, "a.test|192.0.2.1");
}

}  // namespace
}  // namespace ne::proxy
