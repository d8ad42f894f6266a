#include <gtest/gtest.h>

#include "config/ignore_pattern.h"

namespace ne::config {
namespace {

struct GlobCase {
    const char* pattern;
    const char* path;
    bool match;
};

TEST(GlobMatch, FollowsPicomatchForPaths) {
    const GlobCase cases[] = {
        {"/app/*.log", "/app/out.log", true},
        {"/app/*.log", "/app/logs/out.log", false},  // '*' stays in its segment
        {"/app/**/*.log", "/app/out.log", true},     // "**" may be no segment at all
        {"/app/**/*.log", "/app/a/b/out.log", true},
        {"/app/**", "/app/a/b", true},
        {"/app/**", "/other/a", false},
        {"/app/*.log", "/app/.hidden.log", true},    // dot files match (chokidar's dot: true)
        {"/app/file?.js", "/app/file1.js", true},
        {"/app/file?.js", "/app/file10.js", false},
        {"/app/[a-c].js", "/app/b.js", true},
        {"/app/[!a-c].js", "/app/b.js", false},
        {"/app/[!a-c].js", "/app/d.js", true},
        {"/app/*.{js,ts}", "/app/x.ts", true},
        {"/app/*.{js,ts}", "/app/x.css", false},
        {"/app/{src,lib}/**", "/app/lib/a/b.js", true},
        {"/app/\\*.js", "/app/*.js", true},
        {"/app/\\*.js", "/app/a.js", false},
        {"/app/[oops", "/app/[oops", true},          // an unclosed class is literal
        {"/app/a*b/c", "/app/aXXb/c", true},
        {"/app/a*b/c", "/app/aX/Yb/c", false},
    };
    for (const auto& c : cases) EXPECT_EQ(glob_match(c.pattern, c.path), c.match) << c.pattern << " ~ " << c.path;
}

TEST(IgnoreRules, DefaultsAreDotFilesAndNodeModulesBelowTheRoot) {
    IgnoreRules rules({});
    const std::string root = "/home/u/.apps/web";  // a root under a dot folder still counts
    EXPECT_FALSE(rules.ignored(root + "/server.js", root));
    EXPECT_FALSE(rules.ignored(root + "/src/a.js", root));
    EXPECT_TRUE(rules.ignored(root + "/.git/index", root));
    EXPECT_TRUE(rules.ignored(root + "/src/.env", root));
    EXPECT_TRUE(rules.ignored(root + "/node_modules/x/index.js", root));
    EXPECT_TRUE(rules.ignored(root + "/packages/a/node_modules/x.js", root));
}

TEST(IgnoreRules, PatternsReplaceTheDefaults) {
    // As in PM2: listing patterns drops the default list, node_modules included.
    IgnoreRules rules({"/app/logs", "/app/**/*.tmp", "~ \\.cache$", "~* README"});
    EXPECT_TRUE(rules.ignored("/app/logs", "/app"));
    EXPECT_TRUE(rules.ignored("/app/logs/today/out.log", "/app"));   // a plain path covers its tree
    EXPECT_FALSE(rules.ignored("/app/logsx/out.log", "/app"));
    EXPECT_TRUE(rules.ignored("/app/deep/x.tmp", "/app"));
    EXPECT_TRUE(rules.ignored("/app/a/b.cache", "/app"));           // regex: searched in the path
    EXPECT_TRUE(rules.ignored("/app/docs/readme.md", "/app"));       // ~* is case-insensitive
    EXPECT_FALSE(rules.ignored("/app/node_modules/x.js", "/app"));
    EXPECT_FALSE(rules.ignored("/app/.env", "/app"));
}

TEST(IgnoreRegex, ParsesTheTildeSpellingAndReportsBadOnes) {
    EXPECT_FALSE(ignore_regex("*.log"));
    EXPECT_FALSE(ignore_regex("~nothing"));
    auto r = ignore_regex("~* \\.LOG$");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->source, "\\.LOG$");
    EXPECT_TRUE(r->icase);
    EXPECT_FALSE(regex_problem(*r));
    EXPECT_TRUE(regex_problem(IgnoreRegex{"(unclosed", false}));
}

}  // namespace
}  // namespace ne::config
