// nginx's location features through the real daemon, over HTTP/1.1 (curl) and HTTP/2 (curl
// --http2 over TLS): an upload location with its own client_max_body_size under a small server
// limit, its own headers, gzip turned off in one location, a single-page app's try_files, a regex asset location between a
// prefix and a "^~" one, a capture in alias, and try_files falling back to a named location
// that proxies to the app.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "integration/harness.h"
#include "integration/tls_support.h"

namespace ne::itest {
namespace {

// The same locations on a plain server and on a TLS one with http2.
constexpr const char* kLocations = R"(client_max_body_size = "1k"
headers = { X-Server = "server" }
gzip = { min_length = 1, types = ["text/plain"] }

[[servers.locations]]
path = "/"
app = "app"

[[servers.locations]]
path = "/upload/"
app = "app"
client_max_body_size = "10m"
headers = { X-Upload = "upload" }

[[servers.locations]]
path = "/spa/"
root = "site"
try_files = ["$uri", "$uri/", "/spa/index.html"]

[[servers.locations]]
path = "^~ /vendor/"
root = "site"

[[servers.locations]]
path = '~* \.(js|css)$'
root = "site"
expires = "7d"

[[servers.locations]]
path = "/assets/"
root = "site"

[[servers.locations]]
path = '~ ^/img/(?<name>[a-z]+)\.png$'
alias = "site/pictures/$name.png"

[[servers.locations]]
path = "/nogzip/"
root = "site"
gzip = false

[[servers.locations]]
path = "/mixed/"
root = "site"
try_files = ["$uri", "@app"]

[[servers.locations]]
path = "@app"
app = "app"
)";

constexpr const char* kConfig = R"([proxy]
workers = 1

[[apps]]
name = "app"
script = "${APPS}/body_size.js"
port = ${PORT}

[[servers]]
listen = ["127.0.0.1:${HTTP}"]
${LOCATIONS}
[[servers]]
listen = ["127.0.0.1:${TLS}"]
server_name = ["loc.test"]
tls = { cert = "loc.pem", key = "loc.key" }
http2 = true
${LOCATIONS})";

void write_text(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

class LocationsTest : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        make_cert(dir(), "loc", "loc.test");
        const std::string site = dir() + "/site";
        write_text(site + "/spa/index.html", "spa index\n");
        write_text(site + "/spa/real.txt", "real file\n");
        write_text(site + "/spa/docs/index.html", "docs index\n");
        write_text(site + "/assets/app.js", "asset js\n");
        write_text(site + "/assets/readme.txt", "asset text\n");
        write_text(site + "/vendor/lib.js", "vendor js\n");
        write_text(site + "/pictures/logo.png", "logo bytes\n");
        write_text(site + "/mixed/here.txt", "mixed file\n");
        write_text(site + "/nogzip/readme.txt", "plain text\n");
        write_text(dir() + "/upload.bin", std::string(100 * 1024, 'u'));
        http = free_port();
        tls = free_port();
        const std::string config = write_file("ecosystem.toml", kConfig,
                                              {{"PORT", std::to_string(free_port())},
                                               {"HTTP", std::to_string(http)},
                                               {"TLS", std::to_string(tls)},
                                               {"LOCATIONS", kLocations}});
        RunResult r = run("start", config);
        ASSERT_EQ(r.code, 0) << r.out << r.err;
    }

    std::string h1(const std::string& path) const { return " http://127.0.0.1:" + std::to_string(http) + path; }
    std::string h2(const std::string& path) const {
        return " -k --http2" + curl_resolve("loc.test", tls) + "https://loc.test:" + std::to_string(tls) + path;
    }
    // The status, then the body (the app answers JSON with the bytes it read).
    std::string upload(const std::string& extra, const std::string& url) {
        return curl("-o " + dir() + "/answer.json -w '%{http_code} %{http_version}' --data-binary @" + dir() +
                    "/upload.bin " + extra + url);
    }
    json answer() const {
        return json::parse(read_file(dir() + "/answer.json"), nullptr, false);
    }

    int http = 0;
    int tls = 0;
};

TEST_F(LocationsTest, AnUploadLocationTakesItsOwnBodyLimitOverHttp1AndHttp2) {
    // 100 KiB under a server limit of 1k: the upload location's 10m applies, after routing.
    EXPECT_EQ(upload("", h1("/upload/f")), "200 1.1");
    EXPECT_EQ(answer().value("bytes", 0), 100 * 1024);
    EXPECT_EQ(upload("-H 'Expect: 100-continue'", h1("/upload/f")), "200 1.1");
    EXPECT_EQ(answer().value("bytes", 0), 100 * 1024);
    EXPECT_EQ(upload("-H 'Transfer-Encoding: chunked'", h1("/upload/f")), "200 1.1");
    EXPECT_EQ(answer().value("bytes", 0), 100 * 1024);
    EXPECT_EQ(upload("", h2("/upload/f")), "200 2");
    EXPECT_EQ(answer().value("bytes", 0), 100 * 1024);
    // Without a content-length the HTTP/2 stream reaches the proxy chunked: the body pump
    // counts it against the same limit.
    EXPECT_EQ(curl("-o " + dir() + "/answer.json -w '%{http_code}' -X POST -T - " + h2("/upload/f") + " < " + dir() +
                   "/upload.bin"),
              "200");
    EXPECT_EQ(answer().value("bytes", 0), 100 * 1024);

    // Elsewhere the server's 1k holds.
    EXPECT_EQ(upload("", h1("/other")), "413 1.1");
    EXPECT_EQ(upload("-H 'Expect: 100-continue'", h1("/other")), "413 1.1");
    EXPECT_EQ(upload("-H 'Transfer-Encoding: chunked'", h1("/other")), "413 1.1");
    EXPECT_EQ(upload("", h2("/other")), "413 2");
    EXPECT_EQ(curl("-o /dev/null -w '%{http_code}' -X POST -T - " + h2("/other") + " < " + dir() + "/upload.bin"),
              "413");
}

TEST_F(LocationsTest, ALocationsHeadersReplaceTheServers) {
    const std::string upload_head = curl("-D - -o /dev/null" + h1("/upload/x"));
    EXPECT_NE(upload_head.find("X-Upload: upload"), std::string::npos) << upload_head;
    EXPECT_EQ(upload_head.find("X-Server"), std::string::npos) << upload_head;
    const std::string other_head = curl("-D - -o /dev/null" + h2("/other"));
    EXPECT_NE(other_head.find("x-server: server"), std::string::npos) << other_head;
    EXPECT_EQ(other_head.find("x-upload"), std::string::npos) << other_head;
}

TEST_F(LocationsTest, GzipFalseInALocationTurnsTheServersGzipOff) {
    const std::string on = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip'" + h1("/assets/readme.txt"));
    EXPECT_NE(on.find("Content-Encoding: gzip"), std::string::npos) << on;
    const std::string off = curl("-D - -o /dev/null -H 'Accept-Encoding: gzip'" + h1("/nogzip/readme.txt"));
    EXPECT_NE(off.find("200 OK"), std::string::npos) << off;
    EXPECT_EQ(off.find("Content-Encoding"), std::string::npos) << off;
}

TEST_F(LocationsTest, ASinglePageAppServesItsIndexForRoutesAndFilesAsFiles) {
    for (const auto& url : {h1("/spa/some/route"), h2("/spa/some/route?tab=2")})
        EXPECT_EQ(curl("-w ' %{http_code}'" + url), "spa index\n 200") << url;
    EXPECT_EQ(curl(h1("/spa/real.txt")), "real file\n");
    EXPECT_EQ(curl(h2("/spa/real.txt")), "real file\n");
    // "$uri/": the directory's index, with or without the slash (nginx's try_files serves it
    // rather than redirecting to add the slash).
    EXPECT_EQ(curl(h1("/spa/docs/")), "docs index\n");
    EXPECT_EQ(curl(h1("/spa/docs")), "docs index\n");
}

TEST_F(LocationsTest, ARegexAssetLocationBeatsAPrefixButNotCaretTilde) {
    // /assets/app.js: the regex (with its expires) wins over the prefix /assets/.
    const std::string regex = curl("-D -" + h1("/assets/app.js"));
    EXPECT_NE(regex.find("Cache-Control: max-age=604800"), std::string::npos) << regex;
    EXPECT_NE(regex.find("asset js"), std::string::npos) << regex;
    const std::string upper = curl("-D -" + h2("/assets/APP.JS"));  // ~* ignores case (the file does not)
    EXPECT_NE(upper.find("HTTP/2 404"), std::string::npos) << upper;
    // A path the regex does not match stays the prefix's: no expires.
    const std::string prefix = curl("-D -" + h1("/assets/readme.txt"));
    EXPECT_NE(prefix.find("asset text"), std::string::npos) << prefix;
    EXPECT_EQ(prefix.find("Cache-Control"), std::string::npos) << prefix;
    // ^~ /vendor/ stops the regex search.
    const std::string vendor = curl("-D -" + h1("/vendor/lib.js"));
    EXPECT_NE(vendor.find("vendor js"), std::string::npos) << vendor;
    EXPECT_EQ(vendor.find("Cache-Control"), std::string::npos) << vendor;
}

TEST_F(LocationsTest, ACaptureInAlias) {
    EXPECT_EQ(curl(h1("/img/logo.png")), "logo bytes\n");
    EXPECT_EQ(curl(h2("/img/logo.png")), "logo bytes\n");
    EXPECT_EQ(curl("-o /dev/null -w '%{http_code}'" + h1("/img/other.png")), "404");
}

TEST_F(LocationsTest, TryFilesFallsBackToANamedLocationThatProxies) {
    EXPECT_EQ(curl(h1("/mixed/here.txt")), "mixed file\n");
    for (const auto& url : {h1("/mixed/not/here?q=1"), h2("/mixed/not/here?q=1")}) {
        const json j = json::parse(curl(url), nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << url;
        EXPECT_EQ(j.value("url", ""), "/mixed/not/here?q=1") << url;  // the app gets the request as sent
    }
}

}  // namespace
}  // namespace ne::itest
