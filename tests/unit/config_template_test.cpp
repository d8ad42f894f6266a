#include <gtest/gtest.h>

#include "config/template.h"

namespace ne::config {
namespace {

TEST(Template, LiteralsAndVariables) {
    auto t = parse_template("https://$host${request_uri}x$ 5$");
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_EQ(t->pieces.size(), 4u);
    EXPECT_EQ(t->pieces[0].literal, "https://");
    EXPECT_EQ(t->pieces[1].var, Var::host);
    EXPECT_EQ(t->pieces[2].var, Var::request_uri);
    EXPECT_EQ(t->pieces[3].literal, "x$ 5$");  // a '$' before no name is itself
    EXPECT_TRUE(t->has_vars());
    EXPECT_FALSE(parse_template("plain")->has_vars());
    EXPECT_EQ(parse_template("$query_string")->pieces[0].var, Var::args);
}

TEST(Template, UnknownOrUnclosedVariablesAreErrors) {
    auto unknown = parse_template("$hots");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message.find("unknown variable $hots (known: $scheme, $host"), std::string::npos);
    EXPECT_FALSE(parse_template("${host").ok());
    EXPECT_FALSE(parse_template("${}").ok());
}

TEST(Template, CapturesNumberedAndNamed) {
    auto t = parse_template("/img/$1/$name${name}$0$10", {{"name", 2}});
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_EQ(t->pieces.size(), 8u);
    EXPECT_EQ(t->pieces[1].var, Var::capture);
    EXPECT_EQ(t->pieces[1].group, 1);
    EXPECT_EQ(t->pieces[3].var, Var::capture);
    EXPECT_EQ(t->pieces[3].group, 2);
    EXPECT_EQ(t->pieces[4].group, 2);
    EXPECT_EQ(t->pieces[5].literal, "$0");   // nginx has $1..$9 only
    EXPECT_EQ(t->pieces[6].group, 1);        // "$10" is $1 then "0", as nginx reads it
    EXPECT_EQ(t->pieces[7].literal, "0");
    // A named group is a variable only where the location's regex has it.
    EXPECT_FALSE(parse_template("$name").ok());
    auto ret = parse_return("301 /users/$id", {{"id", 1}});
    ASSERT_TRUE(ret.ok()) << ret.error().message;
    EXPECT_EQ(ret->text.pieces[1].group, 1);
}

TEST(Return, CodesTextsAndRedirects) {
    auto moved = parse_return("301 https://$host$request_uri");
    ASSERT_TRUE(moved.ok());
    EXPECT_EQ(moved->code, 301);
    EXPECT_TRUE(moved->redirect());
    EXPECT_EQ(moved->text.pieces.size(), 3u);

    auto bare = parse_return("https://example.com/");  // nginx: a bare URL is a 302
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->code, 302);
    EXPECT_EQ(bare->text.pieces[0].literal, "https://example.com/");

    auto text = parse_return("200   hello world");
    ASSERT_TRUE(text.ok());
    EXPECT_FALSE(text->redirect());
    EXPECT_EQ(text->text.pieces[0].literal, "hello world");

    auto code = parse_return("404");
    ASSERT_TRUE(code.ok());
    EXPECT_TRUE(code->text.pieces.empty());
    EXPECT_TRUE(parse_return("204").ok());
}

TEST(Return, BadOnesSayWhy) {
    const std::pair<const char*, const char*> cases[] = {
        {"301", "needs a URL"},
        {"308 ", "needs a URL"},
        {"moved", "is not \"CODE"},
        {"99", "is not \"CODE"},
        {"1000 x", "is not \"CODE"},
        {"101 up", "from 200 to 599"},
        {"200x", "is not \"CODE"},
        {"204 body", "has no body"},
        {"302 https://a/\r\nSet-Cookie: x", "control character"},
        {"200 $nope", "unknown variable $nope"},
    };
    for (const auto& [text, why] : cases) {
        auto r = parse_return(text);
        ASSERT_FALSE(r.ok()) << text;
        EXPECT_NE(r.error().message.find(why), std::string::npos) << text << ": " << r.error().message;
    }
}

}  // namespace
}  // namespace ne::config
