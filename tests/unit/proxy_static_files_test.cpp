#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "proxy/http/date.h"
#include "proxy/static/static_files.h"

namespace ne::proxy {
namespace {

namespace fs = std::filesystem;

constexpr std::time_t kMtime = 1700000000;    // Tue, 14 Nov 2023 22:13:20 GMT
constexpr std::time_t kNow = 1800000000;

// A site on disk:
//   <tmp>/secret.txt                  outside the root
//   <tmp>/root/index.html, a.css, A.txt, %41.txt, "a b.txt", data.bin (100 bytes), empty.txt
//   <tmp>/root/sub/index.html, sub/page.txt, emptydir/, pipe (a FIFO)
//   <tmp>/root/link_in.css -> a.css, link_out.txt -> ../secret.txt, dir_out -> ..
class StaticFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "ne-static-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        tmp_ = tmpl;
        root_ = tmp_ / "root";
        write(tmp_ / "secret.txt", "top secret");
        write(root_ / "index.html", "<h1>home</h1>");
        write(root_ / "a.css", "body{}");
        write(root_ / "A.txt", "upper A");
        write(root_ / "%41.txt", "percent");
        write(root_ / "a b.txt", "spaced");
        std::string bytes;
        for (int i = 0; i < 100; ++i) bytes.push_back(static_cast<char>(i));
        write(root_ / "data.bin", bytes);
        write(root_ / "empty.txt", "");
        write(root_ / "sub" / "index.html", "<h1>sub</h1>");
        write(root_ / "sub" / "page.txt", "page");
        fs::create_directories(root_ / "emptydir");
        ASSERT_EQ(::mkfifo((root_ / "pipe").c_str(), 0600), 0);
        fs::create_symlink("a.css", root_ / "link_in.css");
        fs::create_symlink("../secret.txt", root_ / "link_out.txt");
        fs::create_directory_symlink("..", root_ / "dir_out");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(tmp_, ec);
    }

    static void write(const fs::path& p, const std::string& text) {
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        const struct timespec times[2] = {{kMtime, 0}, {kMtime, 0}};
        ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, 0), 0);
    }

    config::Location root_location(std::string path = "/") const {
        config::Location l;
        l.path = std::move(path);
        l.root = root_.string();
        return l;
    }

    StaticPlan get(const std::string& target, const config::Location& loc) const {
        return StaticFiles(loc).plan({.method = "GET", .target = target}, kNow);
    }
    StaticPlan get(const std::string& target) const { return get(target, root_location()); }

    static std::string body(const StaticPlan& p) {
        EXPECT_TRUE(p.fd.valid());
        std::string out(p.length, '\0');
        EXPECT_EQ(::pread(p.fd.get(), out.data(), out.size(), static_cast<off_t>(p.offset)),
                  static_cast<ssize_t>(out.size()));
        return out;
    }
    static std::string header(const StaticPlan& p, std::string_view name) {
        return std::string(p.header(name).value_or("<absent>"));
    }

    fs::path tmp_;
    fs::path root_;
};

TEST_F(StaticFilesTest, PlainFile) {
    const StaticPlan p = get("/a.css");
    EXPECT_EQ(p.status, 200);
    EXPECT_TRUE(p.body);
    EXPECT_EQ(p.size, 6u);
    EXPECT_EQ(p.offset, 0u);
    EXPECT_EQ(p.length, 6u);
    EXPECT_EQ(body(p), "body{}");
    EXPECT_EQ(p.path, (root_ / "a.css").string());
    EXPECT_EQ(header(p, "Content-Type"), "text/css; charset=utf-8");
    EXPECT_EQ(header(p, "ETag"), "\"6553f100-6\"");   // nginx's form: hex mtime - hex size
    EXPECT_EQ(header(p, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
    EXPECT_EQ(header(p, "Accept-Ranges"), "bytes");
    EXPECT_EQ(header(p, "Content-Range"), "<absent>");
    EXPECT_EQ(header(p, "Cache-Control"), "<absent>");
    EXPECT_EQ(header(p, "Expires"), "<absent>");
    // Only the fd is open.
    EXPECT_EQ(::fcntl(p.fd.get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}

TEST_F(StaticFilesTest, HeadHasTheHeadersAndNoBody) {
    const StaticPlan p = StaticFiles(root_location()).plan({.method = "HEAD", .target = "/a.css"}, kNow);
    EXPECT_EQ(p.status, 200);
    EXPECT_FALSE(p.body);
    EXPECT_FALSE(p.fd.valid());
    EXPECT_EQ(p.length, 6u);
    EXPECT_EQ(header(p, "Content-Type"), "text/css; charset=utf-8");
    EXPECT_EQ(header(p, "ETag"), "\"6553f100-6\"");
}

TEST_F(StaticFilesTest, OtherMethodsAre405WithAllow) {
    for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "get"}) {
        const StaticPlan p = StaticFiles(root_location()).plan({.method = m, .target = "/a.css"}, kNow);
        EXPECT_EQ(p.status, 405) << m;
        EXPECT_EQ(header(p, "Allow"), "GET, HEAD") << m;
        EXPECT_FALSE(p.body);
    }
}

TEST_F(StaticFilesTest, DirectoriesServeTheirIndexOrRedirectToTheSlash) {
    StaticPlan p = get("/");
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "<h1>home</h1>");
    EXPECT_EQ(header(p, "Content-Type"), "text/html; charset=utf-8");

    p = get("/sub/");
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "<h1>sub</h1>");

    p = get("/sub");
    EXPECT_EQ(p.status, 301);
    EXPECT_EQ(header(p, "Location"), "/sub/");
    EXPECT_FALSE(p.body);

    p = get("/sub?page=2");
    EXPECT_EQ(p.status, 301);
    EXPECT_EQ(header(p, "Location"), "/sub/?page=2");

    EXPECT_EQ(get("/emptydir/").status, 403);   // no index, no listing
    EXPECT_EQ(get("/sub/.").status, 200);

    config::Location custom = root_location();
    custom.index = "page.txt";
    p = get("/sub/", custom);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "page");
    EXPECT_EQ(header(p, "Content-Type"), "text/plain; charset=utf-8");

    custom.index = "";
    EXPECT_EQ(get("/sub/", custom).status, 403);
}

TEST_F(StaticFilesTest, MissingAndSpecialFiles) {
    EXPECT_EQ(get("/missing.txt").status, 404);
    EXPECT_EQ(get("/a.css/x").status, 404);       // ENOTDIR
    EXPECT_EQ(get("/pipe").status, 404);          // a FIFO: neither hangs nor is served
}

TEST_F(StaticFilesTest, DecodesPercentEscapesExactlyOnce) {
    StaticPlan p = get("/a%20b.txt");
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "spaced");
    p = get("/%41.txt");
    EXPECT_EQ(body(p), "upper A");
    p = get("/%2541.txt");                        // %25 -> '%', and no second pass
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "percent");
    p = get("/a.css?v=%2e%2e");                   // the query is not a path
    EXPECT_EQ(p.status, 200);
}

TEST_F(StaticFilesTest, PathsOutsideTheRootAreNeverServed) {
    const char* climbs[] = {
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2f..%2fsecret.txt",
        "/%2fetc/passwd",
        "/%252e%252e/secret.txt",                 // decodes once, to a literal "%2e%2e" folder
        "/a.css%00.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/sub\\..\\..\\secret.txt",
    };
    for (const char* t : climbs) {
        const StaticPlan p = get(t);
        EXPECT_EQ(p.status, 404) << t;
        EXPECT_FALSE(p.body) << t;
        EXPECT_FALSE(p.fd.valid()) << t;
    }
}

TEST_F(StaticFilesTest, MalformedEscapesAreBadRequests) {
    EXPECT_EQ(get("/a%zz.css").status, 400);
    EXPECT_EQ(get("/a.css%4").status, 400);
    EXPECT_EQ(get("/a.css%").status, 400);
}

TEST_F(StaticFilesTest, SymlinksMayNotLeadOutOfTheRoot) {
    StaticPlan p = get("/link_in.css");
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "body{}");

    p = get("/link_out.txt");
    EXPECT_EQ(p.status, 403);
    EXPECT_FALSE(p.fd.valid());
    EXPECT_NE(p.error.find("outside"), std::string::npos) << p.error;

    EXPECT_EQ(get("/dir_out/secret.txt").status, 403);
    EXPECT_EQ(get("/dir_out/root/a.css").status, 200);   // out and back in: the file is inside
    EXPECT_EQ(get("/dir_out").status, 403);              // checked before the redirect
}

TEST_F(StaticFilesTest, RootReachedThroughASymlinkIsFollowed) {
    // A deploy's "current -> releases/N": the root's realpath is the release.
    fs::create_directory_symlink(root_, tmp_ / "current");
    config::Location l = root_location();
    l.root = (tmp_ / "current").string();
    const StaticPlan p = get("/a.css", l);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "body{}");
}

TEST_F(StaticFilesTest, AbsoluteFormTarget) {
    const StaticPlan p = get("http://example.com/a.css?x=1");
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "body{}");
}

TEST_F(StaticFilesTest, RootKeepsTheLocationPathAndMayNotLeaveIt) {
    config::Location l = root_location("/sub/");
    StaticPlan p = get("/sub/page.txt", l);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.path, (root_ / "sub" / "page.txt").string());
    EXPECT_EQ(get("/sub/../a.css", l).status, 404);   // inside root, outside the location
}

TEST_F(StaticFilesTest, AliasMapsThePrefixAway) {
    config::Location l;
    l.path = "/static/";
    l.alias = (root_ / "sub").string();
    StaticPlan p = get("/static/page.txt", l);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(p.path, (root_ / "sub" / "page.txt").string());
    EXPECT_EQ(body(p), "page");
    p = get("/static/", l);
    EXPECT_EQ(body(p), "<h1>sub</h1>");
    EXPECT_EQ(get("/static/../a.css", l).status, 404);       // the alias is the whole root
    EXPECT_EQ(get("/static/%2e%2e/a.css", l).status, 404);

    // A prefix without its slash must not glue "/staticx" onto the alias.
    l.path = "/static";
    EXPECT_EQ(get("/static/page.txt", l).status, 200);
    EXPECT_EQ(get("/static../a.css", l).status, 404);
    EXPECT_EQ(get("/staticx", l).status, 404);

    // An exact location aliased to one file.
    config::Location exact;
    exact.path = "/favicon";
    exact.match = config::Match::exact;
    exact.alias = (root_ / "a.css").string();
    p = get("/favicon", exact);
    EXPECT_EQ(p.status, 200);
    EXPECT_EQ(body(p), "body{}");
    EXPECT_EQ(get("/favicon/x", exact).status, 404);
}

// ---- conditional requests ----

StaticPlan conditional(const StaticFiles& files, std::string_view inm, std::string_view ims) {
    return files.plan({.method = "GET", .target = "/a.css", .if_none_match = inm, .if_modified_since = ims}, kNow);
}

TEST_F(StaticFilesTest, IfNoneMatch) {
    const StaticFiles files(root_location());
    const std::string etag = "\"6553f100-6\"";
    for (const std::string& inm : {etag, "W/" + etag, "\"nope\", " + etag, std::string("*"), "  " + etag + " "}) {
        const StaticPlan p = conditional(files, inm, "");
        EXPECT_EQ(p.status, 304) << inm;
        EXPECT_FALSE(p.body);
        EXPECT_FALSE(p.fd.valid());
        EXPECT_EQ(header(p, "ETag"), etag);
        EXPECT_EQ(header(p, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
        EXPECT_EQ(header(p, "Content-Type"), "<absent>");
    }
    for (const std::string& inm : {std::string("\"nope\""), std::string("\"6553f100-7\""), std::string("6553f100-6")})
        EXPECT_EQ(conditional(files, inm, "").status, 200) << inm;
}

TEST_F(StaticFilesTest, IfModifiedSince) {
    const StaticFiles files(root_location());
    EXPECT_EQ(conditional(files, "", http_date(kMtime)).status, 304);
    EXPECT_EQ(conditional(files, "", http_date(kMtime + 3600)).status, 304);
    EXPECT_EQ(conditional(files, "", http_date(kMtime - 1)).status, 200);
    EXPECT_EQ(conditional(files, "", "Tuesday, 14-Nov-23 22:13:20 GMT").status, 304);
    EXPECT_EQ(conditional(files, "", "yesterday").status, 200);
    // If-None-Match is present and does not match: the date is not consulted.
    EXPECT_EQ(conditional(files, "\"nope\"", http_date(kMtime)).status, 200);
}

// ---- ranges ----

StaticPlan ranged(const StaticFiles& files, std::string_view target, std::string_view range,
                  std::string_view if_range = {}, std::string_view method = "GET") {
    return files.plan({.method = method, .target = target, .range = range, .if_range = if_range}, kNow);
}

TEST_F(StaticFilesTest, SingleRanges) {
    const StaticFiles files(root_location());
    struct Case {
        const char* range;
        uint64_t offset, length;
        const char* content_range;
    };
    for (const Case& c : {
             Case{"bytes=0-9", 0, 10, "bytes 0-9/100"},
             Case{"bytes=90-", 90, 10, "bytes 90-99/100"},
             Case{"bytes=-5", 95, 5, "bytes 95-99/100"},
             Case{"bytes=-500", 0, 100, "bytes 0-99/100"},
             Case{"bytes=95-200", 95, 5, "bytes 95-99/100"},
             Case{"bytes=99-99", 99, 1, "bytes 99-99/100"},
             Case{" bytes = 10 - 19 ", 10, 10, "bytes 10-19/100"},
         }) {
        const StaticPlan p = ranged(files, "/data.bin", c.range);
        EXPECT_EQ(p.status, 206) << c.range;
        EXPECT_EQ(p.offset, c.offset) << c.range;
        EXPECT_EQ(p.length, c.length) << c.range;
        EXPECT_EQ(p.size, 100u);
        EXPECT_EQ(header(p, "Content-Range"), c.content_range) << c.range;
        const std::string got = body(p);
        ASSERT_EQ(got.size(), c.length);
        EXPECT_EQ(static_cast<uint8_t>(got.front()), c.offset) << c.range;   // byte i holds i
    }
}

TEST_F(StaticFilesTest, UnsatisfiableRangesAre416) {
    const StaticFiles files(root_location());
    for (const char* r : {"bytes=100-", "bytes=100-200", "bytes=-0", "bytes=18446744073709551616-"}) {
        const StaticPlan p = ranged(files, "/data.bin", r);
        EXPECT_EQ(p.status, 416) << r;
        EXPECT_EQ(header(p, "Content-Range"), "bytes */100") << r;
        EXPECT_FALSE(p.body);
    }
    const StaticPlan empty = ranged(files, "/empty.txt", "bytes=0-");
    EXPECT_EQ(empty.status, 416);
    EXPECT_EQ(header(empty, "Content-Range"), "bytes */0");
}

TEST_F(StaticFilesTest, IgnoredRangesServeTheWholeFile) {
    const StaticFiles files(root_location());
    for (const char* r : {"bytes=0-1,5-6", "bytes=5-2", "items=0-1", "bytes=abc", "bytes=", "bytes=1-x", "0-5"}) {
        const StaticPlan p = ranged(files, "/data.bin", r);
        EXPECT_EQ(p.status, 200) << r;
        EXPECT_EQ(p.length, 100u) << r;
        EXPECT_EQ(header(p, "Content-Range"), "<absent>") << r;
    }
    EXPECT_EQ(ranged(files, "/data.bin", "bytes=0-9", {}, "HEAD").status, 200);
}

TEST_F(StaticFilesTest, IfRangeGuardsTheRange) {
    const StaticFiles files(root_location());
    const std::string etag = "\"6553f100-64\"";   // data.bin: 100 bytes
    EXPECT_EQ(ranged(files, "/data.bin", "bytes=0-9", etag).status, 206);
    EXPECT_EQ(ranged(files, "/data.bin", "bytes=0-9", http_date(kMtime)).status, 206);
    EXPECT_EQ(ranged(files, "/data.bin", "bytes=0-9", "\"other\"").status, 200);
    EXPECT_EQ(ranged(files, "/data.bin", "bytes=0-9", "W/" + etag).status, 200);   // weak never matches
    EXPECT_EQ(ranged(files, "/data.bin", "bytes=0-9", http_date(kMtime + 1)).status, 200);
    // A matching If-None-Match wins over the range.
    const StaticPlan p = files.plan({.method = "GET", .target = "/data.bin", .if_none_match = etag, .range = "bytes=0-9"},
                                    kNow);
    EXPECT_EQ(p.status, 304);
}

// ---- caching headers ----

TEST_F(StaticFilesTest, ExpiresAndCacheControl) {
    config::Location l = root_location();
    l.expires = std::chrono::hours(24 * 30);
    StaticPlan p = get("/a.css", l);
    EXPECT_EQ(header(p, "Cache-Control"), "max-age=2592000");
    EXPECT_EQ(header(p, "Expires"), http_date(kNow + 2592000));

    l.cache_control = "public, immutable";
    p = get("/a.css", l);
    EXPECT_EQ(header(p, "Cache-Control"), "max-age=2592000, public, immutable");

    l.cache_control = "public, Max-Age=60";
    p = get("/a.css", l);
    EXPECT_EQ(header(p, "Cache-Control"), "public, Max-Age=60");   // its own max-age wins
    EXPECT_EQ(header(p, "Expires"), http_date(kNow + 2592000));

    l.expires = {};
    l.cache_control = "no-cache";
    p = get("/a.css", l);
    EXPECT_EQ(header(p, "Cache-Control"), "no-cache");
    EXPECT_EQ(header(p, "Expires"), "<absent>");

    // A 304 carries them too.
    l.expires = std::chrono::seconds(60);
    p = StaticFiles(l).plan({.method = "GET", .target = "/a.css", .if_none_match = "*"}, kNow);
    EXPECT_EQ(p.status, 304);
    EXPECT_EQ(header(p, "Cache-Control"), "max-age=60, no-cache");
}

// ---- HTTP dates ----

TEST(HttpDate, WritesImfFixdate) {
    EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
    EXPECT_EQ(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, ReadsAllThreeForms) {
    EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_EQ(parse_http_date("Thu, 01 Jan 2037 00:00:00 GMT"), 2114380800);
    EXPECT_EQ(parse_http_date(http_date(1700000000)), 1700000000);
}

TEST(HttpDate, RejectsAnythingElse) {
    for (const char* s : {"", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC",
                          "Sun, 06 Nov 1994 08:49:37 GMT extra", "Sun, 06 Foo 1994 08:49:37 GMT",
                          "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37Z",
                          "Sun Nov 6 08:49:37 1994"})
        EXPECT_FALSE(parse_http_date(s).has_value()) << s;
}

}  // namespace
}  // namespace ne::proxy
