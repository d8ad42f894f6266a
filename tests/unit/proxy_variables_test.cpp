#include <gtest/gtest.h>

#include "proxy/route/variables.h"

namespace ne::proxy {
namespace {

std::string expanded(std::string_view text, const RequestVars& v) {
    auto t = config::parse_template(text);
    EXPECT_TRUE(t.ok()) << t.error().message;
    std::string out = "kept:";
    expand(*t, v, out);
    return out;
}

TEST(Variables, EachExpandsFromTheRequest) {
    RequestVars v;
    v.scheme = "https";
    v.host = "example.com";
    v.target = "/a/b?x=1&y";
    v.remote_addr = "10.0.0.7";
    v.request_id = "abc";
    v.server_port = "8080";
    EXPECT_EQ(expanded("$scheme://$host$request_uri", v), "kept:https://example.com/a/b?x=1&y");
    EXPECT_EQ(expanded("$uri|$args|$is_args|$query_string", v), "kept:/a/b|x=1&y|?|x=1&y");
    EXPECT_EQ(expanded("$remote_addr $request_id :$server_port", v), "kept:10.0.0.7 abc :8080");
    v.target = "/plain";
    EXPECT_EQ(expanded("$uri$is_args$args.", v), "kept:/plain.");
}

TEST(Variables, CapturesAndTheNormalisedUri) {
    auto re = config::Regex::compile("^/u/(\\d+)/(?<tab>[a-z]+)", false, true);
    ASSERT_TRUE(re.ok()) << re.error().message;
    config::MatchBlock block;
    config::Captures caps;
    const std::string path = "/u/42/posts/extra";
    ASSERT_TRUE(re->match(path, block, caps));
    RequestVars v;
    v.target = "/u/42/posts/extra?x=1";
    v.captures = &caps;
    auto t = config::parse_template("/users/$1/${tab}/$2$3$9-$uri", re->names());
    ASSERT_TRUE(t.ok()) << t.error().message;
    std::string out;
    expand(*t, v, out);
    EXPECT_EQ(out, "/users/42/posts/posts-/u/42/posts/extra");  // $3 and $9: no such group, ""
    v.uri = "/normalised";
    out.clear();
    expand(*t, v, out);
    EXPECT_EQ(out, "/users/42/posts/posts-/normalised");
    // Without a regex match the groups are empty.
    v.captures = nullptr;
    EXPECT_EQ(expanded("[$1]", v), "kept:[]");
}

}  // namespace
}  // namespace ne::proxy
