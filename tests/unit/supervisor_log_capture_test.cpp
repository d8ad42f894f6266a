// LogFile and LogCapture on real files and pipes, driven one loop turn at a time.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "supervisor/log_capture.h"

namespace ne::supervisor {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class LogTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string tmpl = (fs::path(::testing::TempDir()) / "ne-log-XXXXXX").string();
        ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::shared_ptr<LogFile> open_file(uint64_t max_size = 0, int retain = 5) {
        auto f = std::make_shared<LogFile>((dir_ / "logs" / "api-out.log").string(), max_size, retain);
        auto st = f->open();
        EXPECT_TRUE(st.ok()) << st.error().message;
        return f;
    }

    fs::path dir_;
};

// A capture on a pipe we write to; turn() runs the loop until the capture has read once.
class CaptureTest : public LogTest {
protected:
    void SetUp() override {
        LogTest::SetUp();
        base_.reset(event_base_new());
        int fds[2];
        ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
        writer_.reset(fds[1]);
        file_ = open_file();
        capture_ = std::make_unique<LogCapture>(base_.get(), UniqueFd(fds[0]), file_, "api:0", date_format_,
                                                [this] { ++eofs_; });
    }

    // Writes all of data, letting the capture read whenever the pipe is full.
    void feed(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::write(writer_.get(), data.data(), data.size());
            if (n > 0) {
                data.remove_prefix(static_cast<size_t>(n));
            } else {
                ASSERT_EQ(errno, EAGAIN);
                turn();
            }
        }
    }
    void turn() { event_base_loop(base_.get(), EVLOOP_ONCE); }
    void close_and_drain() {
        writer_.reset();
        while (eofs_ == 0) turn();
    }

    std::string date_format_;
    EventBasePtr base_;
    UniqueFd writer_;
    std::shared_ptr<LogFile> file_;
    std::unique_ptr<LogCapture> capture_;
    int eofs_ = 0;
};

TEST_F(CaptureTest, LinesSplitAcrossReadsAreJoined) {
    feed("hel");
    turn();
    feed("lo\nwor");
    turn();
    feed("ld\n");
    turn();
    EXPECT_EQ(slurp(file_->path()), "api:0: hello\napi:0: world\n");
    close_and_drain();
    EXPECT_EQ(eofs_, 1);
}

TEST_F(CaptureTest, PartialLastLineIsWrittenAtEof) {
    feed("a\n\nb");
    close_and_drain();
    EXPECT_EQ(slurp(file_->path()), "api:0: a\napi:0: \napi:0: b\n");
    EXPECT_EQ(eofs_, 1);
}

TEST_F(CaptureTest, LongLineIsWrittenIn64KiBPieces) {
    const size_t cap = 64 * 1024;
    feed(std::string(cap + 10, 'x') + "\n" + std::string(cap, 'y') + "\nz\n");
    close_and_drain();
    EXPECT_EQ(slurp(file_->path()), "api:0: " + std::string(cap, 'x') + "\napi:0: " + std::string(10, 'x') +
                                        "\napi:0: " + std::string(cap, 'y') + "\napi:0: z\n");
}

class StampedCaptureTest : public CaptureTest {
protected:
    void SetUp() override {
        date_format_ = "%Y-%m-%dT%H:%M:%S%z";
        CaptureTest::SetUp();
    }
};

TEST_F(StampedCaptureTest, LinesCarryTimeAndPrefix) {
    feed("listening\n");
    close_and_drain();
    EXPECT_TRUE(std::regex_match(slurp(file_->path()),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} api:0: listening\n)")))
        << slurp(file_->path());
}

TEST_F(LogTest, OpenCreatesFoldersAndAppends) {
    {
        auto f = open_file();
        f->write_line("first");
    }
    auto f = open_file();
    f->write_line("second");
    EXPECT_EQ(slurp(f->path()), "first\nsecond\n");
}

TEST_F(LogTest, RotationKeepsExactlyRetainFilesAndLosesNoRecentLine) {
    // 10-byte lines ("line NNNN\n"), at most 3 per 35-byte file.
    auto f = open_file(35, 2);
    std::string all;
    for (int i = 0; i < 20; ++i) {
        char line[16];
        std::snprintf(line, sizeof line, "line %04d", i);
        f->write_line(line);
        all += std::string(line) + "\n";
    }
    const std::string p = f->path();
    EXPECT_TRUE(fs::exists(p + ".1"));
    EXPECT_TRUE(fs::exists(p + ".2"));
    EXPECT_FALSE(fs::exists(p + ".3"));
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "logs"), fs::directory_iterator()), 3);
    for (const auto& name : {p, p + ".1", p + ".2"}) EXPECT_LE(fs::file_size(name), 35u) << name;
    // Newest in the file, older ones in .1 then .2: together the tail of what was written.
    const std::string kept = slurp(p + ".2") + slurp(p + ".1") + slurp(p);
    EXPECT_EQ(kept, all.substr(all.size() - kept.size()));
    EXPECT_EQ(kept.size(), 8 * 10u);  // 2 + 3 + 3 lines
}

TEST_F(LogTest, RetainZeroKeepsNoOldFile) {
    auto f = open_file(25, 0);
    for (int i = 0; i < 5; ++i) f->write_line("0123456789");
    EXPECT_EQ(slurp(f->path()), "0123456789\n");
    EXPECT_FALSE(fs::exists(f->path() + ".1"));
}

TEST_F(LogTest, FlushEmptiesTheFile) {
    auto f = open_file();
    f->write_line("old");
    ASSERT_TRUE(f->flush().ok());
    EXPECT_EQ(fs::file_size(f->path()), 0u);
    f->write_line("new");
    EXPECT_EQ(slurp(f->path()), "new\n");
}

TEST_F(LogTest, ReopenAfterRenameWritesToTheNewFile) {
    auto f = open_file();
    f->write_line("one");
    fs::rename(f->path(), f->path() + ".old");
    f->write_line("two");  // still the renamed file, as for any program logrotate moves
    f->reopen();
    f->write_line("three");
    EXPECT_EQ(slurp(f->path() + ".old"), "one\ntwo\n");
    EXPECT_EQ(slurp(f->path()), "three\n");
}

TEST_F(LogTest, UnopenedFileCountsDroppedLines) {
    LogFile f((dir_ / "never-opened.log").string(), 0, 5);
    f.write_line("lost");
    EXPECT_EQ(f.dropped_lines(), 1u);
    EXPECT_FALSE(f.flush().ok());
    EXPECT_FALSE(fs::exists(dir_ / "never-opened.log"));
}

TEST_F(LogTest, OpenFailureNamesThePath) {
    fs::create_directories(dir_ / "blocked");
    LogFile f((dir_ / "blocked").string(), 0, 5);  // a folder, not a file
    auto st = f.open();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message, "open log " + (dir_ / "blocked").string() + ": Is a directory");
}

TEST(FormatNow, EmptyFormatGivesNoStamp) { EXPECT_EQ(format_now(""), ""); }

}  // namespace
}  // namespace ne::supervisor
