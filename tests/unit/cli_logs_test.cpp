#include <gtest/gtest.h>

#include "ipc/version.h"
#include "cli/logs.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using nlohmann::json;
using testing::TempDir;

TEST(CliLogs, Request) {
    EXPECT_EQ(logs_request(LogsCmd{}), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "logs"}}));
    LogsCmd c;
    c.app = "api";
    EXPECT_EQ(logs_request(c), (json{{"v", 1}, {"version", ipc::version()}, {"cmd", "logs"}, {"app", "api"}}));
}

TEST(CliLogs, ParsesTheDaemonsFileList) {
    json reply{{"ok", true},
               {"files",
                {{{"app", "api"}, {"stream", "out"}, {"path", "/h/logs/api-out.log"}},
                 {{"app", "api"}, {"stream", "err"}, {"path", "/h/logs/api-error.log"}}}}};
    auto files = parse_log_files(reply);
    ASSERT_TRUE(files.ok()) << files.error().message;
    ASSERT_EQ(files->size(), 2u);
    EXPECT_TRUE(((*files)[1] == LogFileRef{"api", "err", "/h/logs/api-error.log"}));

    reply["files"][1].erase("path");
    auto bad = parse_log_files(reply);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message.rfind("daemon reply: files[1]: ", 0), 0u) << bad.error().message;
    EXPECT_FALSE(parse_log_files(json{{"ok", true}}).ok());
}

TEST(CliLogs, DefaultFilesInTheLogsFolder) {
    TempDir dir;
    for (const char* name : {"web-out.log", "api-error.log", "api-out.log", "api-out.log.1", "access.log",
                             "web-error.log"})
        dir.write(name, "");
    auto all = default_log_files(dir.path().string(), "");
    std::vector<LogFileRef> expected{{"api", "out", dir.file("api-out.log")},
                                     {"api", "err", dir.file("api-error.log")},
                                     {"web", "out", dir.file("web-out.log")},
                                     {"web", "err", dir.file("web-error.log")}};
    EXPECT_EQ(all, expected);
    auto web = default_log_files(dir.path().string(), "web");
    EXPECT_EQ(web, (std::vector<LogFileRef>{expected[2], expected[3]}));
    EXPECT_TRUE(default_log_files(dir.file("missing"), "").empty());
}

TEST(CliLogs, SelectStreams) {
    std::vector<LogFileRef> files{{"a", "out", "1"}, {"a", "err", "2"}, {"b", "out", "3"}};
    EXPECT_EQ(select_streams(files, Streams::Both).size(), 3u);
    EXPECT_EQ(select_streams(files, Streams::Out), (std::vector<LogFileRef>{files[0], files[2]}));
    EXPECT_EQ(select_streams(files, Streams::Err), (std::vector<LogFileRef>{files[1]}));
}

TEST(CliLogs, LineFormats) {
    LogFileRef err{"api", "err", "/x"};
    EXPECT_EQ(format_log_line(err, "boom", false, Style{false, true}), "api err | boom");
    EXPECT_EQ(format_log_line(err, "boom", false, Style{true, true}), "\x1b[31mapi err\x1b[0m | boom");
    std::string j = format_log_line(err, "say \"hi\"", true, Style{true, true});
    EXPECT_EQ(json::parse(j), (json{{"app", "api"}, {"stream", "err"}, {"line", "say \"hi\""}}));
    EXPECT_EQ(j.find('\n'), std::string::npos);
    // Whatever bytes an app printed, the JSON stays valid.
    EXPECT_NO_THROW(json::parse(format_log_line(err, "bad \xff byte", true, Style{})));
}

}  // namespace
}  // namespace ne::cli
