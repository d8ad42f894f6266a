#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxy/log/access_log.h"

namespace ne::proxy {
namespace {

// The log's times are local: pin the zone so the lines are exact.
class AccessLogLine : public ::testing::Test {
protected:
    void SetUp() override {
        setenv("TZ", "UTC", 1);
        tzset();
        r.remote_addr = "127.0.0.1";
        r.method = "GET";
        r.target = "/a?b=1";
        r.host = "example.com";
        r.user_agent = "curl/7.88.1";
        r.request_id = "0f3c";
        r.status = 200;
        r.bytes_sent = 112;
        r.body_bytes_sent = 12;
        r.request_seconds = 0.0034;
        r.upstream_addr = "127.0.0.1:3000";
        r.upstream_seconds = 0.002;
        loc.path = "/api/";
        r.location = &loc;
    }
    static constexpr std::time_t kNow = 1796019601;  // 2026-11-30T06:20:01Z
    RequestRecord r;
    config::Location loc;
};

TEST_F(AccessLogLine, CombinedIsNginxsPlusTimesAndId) {
    std::string out;
    format_combined(r, kNow, out);
    EXPECT_EQ(out,
              "127.0.0.1 - - [30/Nov/2026:06:20:01 +0000] \"GET /a?b=1 HTTP/1.1\" 200 12 \"-\" \"curl/7.88.1\" "
              "rt=0.003 uaddr=\"127.0.0.1:3000\" urt=0.002 rid=\"0f3c\"\n");
}

TEST_F(AccessLogLine, CombinedEscapesAndMarksAbsentFields) {
    r.user_agent = "evil\"\\\n\x80";
    r.upstream_addr.clear();
    r.upstream_seconds = -1;
    r.method.clear();  // a 400 before the head parsed
    r.status = 400;
    r.http_minor = 0;
    std::string out;
    format_combined(r, kNow, out);
    EXPECT_EQ(out,
              "127.0.0.1 - - [30/Nov/2026:06:20:01 +0000] \"-\" 400 12 \"-\" \"evil\\x22\\x5C\\x0A\\x80\" "
              "rt=0.003 uaddr=\"-\" urt=- rid=\"0f3c\"\n");
}

TEST_F(AccessLogLine, JsonIsOneValidObjectPerLine) {
    r.referer = "https://x/\"q\"";
    r.user_agent = "\x01\xff";
    std::string out;
    format_json(r, kNow, out);
    ASSERT_EQ(out.back(), '\n');
    ASSERT_EQ(out.find('\n'), out.size() - 1);
    auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["time"], "2026-11-30T06:20:01+0000");
    EXPECT_EQ(j["remote_addr"], "127.0.0.1");
    EXPECT_EQ(j["method"], "GET");
    EXPECT_EQ(j["uri"], "/a?b=1");
    EXPECT_EQ(j["protocol"], "HTTP/1.1");
    EXPECT_EQ(j["status"], 200);
    EXPECT_EQ(j["bytes_sent"], 112);
    EXPECT_EQ(j["body_bytes_sent"], 12);
    EXPECT_DOUBLE_EQ(j["request_time"].get<double>(), 0.003);
    EXPECT_EQ(j["upstream_addr"], "127.0.0.1:3000");
    EXPECT_DOUBLE_EQ(j["upstream_response_time"].get<double>(), 0.002);
    EXPECT_EQ(j["request_id"], "0f3c");
    EXPECT_EQ(j["host"], "example.com");
    EXPECT_EQ(j["referer"], "https://x/\"q\"");
    EXPECT_EQ(j["user_agent"], "\x01\xc3\xbf");  // \u00ff
    EXPECT_EQ(j["location"], "/api/");

    r.upstream_seconds = -1;
    r.location = nullptr;
    out.clear();
    format_json(r, kNow, out);
    j = nlohmann::json::parse(out);
    EXPECT_TRUE(j["upstream_response_time"].is_null());
    EXPECT_TRUE(j["location"].is_null());
}

TEST(AccessLogPath, RelativeToHomeOrOff) {
    EXPECT_EQ(access_log_path("logs/access.log", "/h"), "/h/logs/access.log");
    EXPECT_EQ(access_log_path("/var/log/a.log", "/h"), "/var/log/a.log");
    EXPECT_EQ(access_log_path("off", "/h"), "");
    EXPECT_EQ(access_log_path("", "/h"), "");
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Lines wait in memory until the buffer fills or flush() (the timer's job); a new file (the
// master's, after a rotation moved the old one) gets only the lines written after it came.
TEST(AccessLogBatches, BufferedUntilFlushAndKeptWithTheirFileWhenANewOneComes) {
    const auto dir = std::filesystem::temp_directory_path() / ("ne-access-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "access.log";
    event_base* base = event_base_new();
    {
        AccessLog log(base);
        auto fd = open_access_log(path.string());
        ASSERT_TRUE(fd) << fd.error().message;
        log.use(std::move(*fd), path.string());
        log.set_format(AccessLogFormat::json);
        ASSERT_TRUE(log.enabled());
        RequestRecord r;
        r.method = "GET";
        r.status = 204;
        log.write(r);
        EXPECT_EQ(slurp(path), "");  // still buffered
        log.flush();
        EXPECT_EQ(nlohmann::json::parse(slurp(path))["status"], 204);

        std::filesystem::rename(path, dir / "access.log.1");
        r.status = 201;
        log.write(r);
        fd = open_access_log(path.string());
        ASSERT_TRUE(fd) << fd.error().message;
        log.use(std::move(*fd), path.string());  // what was buffered belongs to the old file
        const std::string old = slurp(dir / "access.log.1");
        EXPECT_NE(old.find("\"status\":204"), std::string::npos) << old;
        EXPECT_NE(old.find("\"status\":201"), std::string::npos) << old;
        r.status = 202;
        log.write(r);
    }  // the destructor flushes
    EXPECT_EQ(nlohmann::json::parse(slurp(path))["status"], 202);
    event_base_free(base);
    std::filesystem::remove_all(dir);
}

TEST(AccessLogBatches, AFullBufferIsWrittenAtOnce) {
    const auto dir = std::filesystem::temp_directory_path() / ("ne-access-full-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "access.log";
    event_base* base = event_base_new();
    {
        AccessLog log(base);
        auto fd = open_access_log(path.string());
        ASSERT_TRUE(fd) << fd.error().message;
        log.use(std::move(*fd), path.string());
        RequestRecord r;
        r.method = "GET";
        r.target = std::string(1000, 'a');
        r.status = 200;
        size_t lines = 0;
        while (std::filesystem::file_size(path) == 0) {
            log.write(r);
            ++lines;
            ASSERT_LT(lines, 1000u);
        }
        EXPECT_GE(std::filesystem::file_size(path), AccessLog::kBufferBytes);
        EXPECT_EQ(slurp(path).back(), '\n');  // whole lines only
    }
    event_base_free(base);
    std::filesystem::remove_all(dir);
}

TEST(AccessLogFile, AnUnopenableFileIsAnErrorNamingIt) {
    auto fd = open_access_log("/nonexistent-ne-dir/access.log");
    ASSERT_FALSE(fd);
    EXPECT_NE(fd.error().message.find("access_log /nonexistent-ne-dir/access.log: "), std::string::npos)
        << fd.error().message;
    EXPECT_NE(fd.error().message.find("No such file"), std::string::npos) << fd.error().message;
}

}  // namespace
}  // namespace ne::proxy
