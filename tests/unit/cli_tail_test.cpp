#include <gtest/gtest.h>

#include <unistd.h>

#include "cli/tail.h"
#include "unit/cli_test_support.h"

namespace ne::cli {
namespace {

using testing::TempDir;
using Lines = std::vector<std::string>;

TEST(CliTail, LastLines) {
    TempDir dir;
    std::string f = dir.write("a.log", "one\ntwo\nthree\n");
    EXPECT_EQ(*tail_lines(f, 2), (Lines{"two", "three"}));
    EXPECT_EQ(*tail_lines(f, 3), (Lines{"one", "two", "three"}));
    EXPECT_EQ(*tail_lines(f, 10), (Lines{"one", "two", "three"}));
    EXPECT_EQ(*tail_lines(f, 0), Lines{});
}

TEST(CliTail, UnendedLastLineAndEmptyLines) {
    TempDir dir;
    EXPECT_EQ(*tail_lines(dir.write("a.log", "one\ntwo"), 1), Lines{"two"});
    EXPECT_EQ(*tail_lines(dir.write("b.log", "one\n\n\nfour\n"), 3), (Lines{"", "", "four"}));
    EXPECT_EQ(*tail_lines(dir.write("c.log", ""), 5), Lines{});
    EXPECT_EQ(*tail_lines(dir.write("d.log", "\n"), 5), Lines{""});
}

TEST(CliTail, LinesAcrossChunkBoundaries) {
    TempDir dir;
    // 3000 numbered lines of 100 bytes: several 64 KiB chunks, boundaries inside lines.
    std::string text;
    for (int i = 0; i < 3000; ++i) {
        std::string line = "line " + std::to_string(i);
        text += line + std::string(99 - line.size(), '.') + "\n";
    }
    std::string f = dir.write("big.log", text);
    auto lines = *tail_lines(f, 1500);
    ASSERT_EQ(lines.size(), 1500u);
    EXPECT_EQ(lines.front().rfind("line 1500.", 0), 0u) << lines.front();
    EXPECT_EQ(lines.back().rfind("line 2999.", 0), 0u);
    for (const auto& l : lines) EXPECT_EQ(l.size(), 99u);
    EXPECT_EQ(tail_lines(f, 5000)->size(), 3000u);
}

TEST(CliTail, MissingFileIsAnErrorNamingIt) {
    TempDir dir;
    auto r = tail_lines(dir.file("none.log"), 3);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, dir.file("none.log") + ": No such file or directory");
}

TEST(CliFollower, TailIsWhatWasThereAndPollWhatCame) {
    TempDir dir;
    std::string f = dir.write("a.log", "old1\nold2\n");
    FileFollower follower(f);
    dir.write("a.log", "new1\n", true);
    EXPECT_EQ(follower.tail(5), (Lines{"old1", "old2"}));
    EXPECT_EQ(follower.poll(), Lines{"new1"});
    EXPECT_EQ(follower.poll(), Lines{});
}

TEST(CliFollower, PartialLinesWaitForTheirNewline) {
    TempDir dir;
    std::string f = dir.write("a.log", "");
    FileFollower follower(f);
    dir.write("a.log", "hel", true);
    EXPECT_EQ(follower.poll(), Lines{});
    dir.write("a.log", "lo\nwor", true);
    EXPECT_EQ(follower.poll(), Lines{"hello"});
    dir.write("a.log", "ld\n", true);
    EXPECT_EQ(follower.poll(), Lines{"world"});
}

TEST(CliFollower, TruncationStartsOver) {
    TempDir dir;
    std::string f = dir.write("a.log", "a long first line\n");
    FileFollower follower(f);
    dir.write("a.log", "x\n");  // flushed, then one short line
    EXPECT_EQ(follower.poll(), Lines{"x"});
}

TEST(CliFollower, RotationFinishesOldFileThenReadsNew) {
    TempDir dir;
    std::string f = dir.write("a.log", "before\n");
    FileFollower follower(f);
    dir.write("a.log", "last in old\nunended", true);
    ASSERT_EQ(::rename(f.c_str(), dir.file("a.log.1").c_str()), 0);
    EXPECT_EQ(follower.poll(), Lines{"last in old"}) << "the path is gone: keep what the old file had";
    dir.write("a.log", "first in new\n");
    EXPECT_EQ(follower.poll(), (Lines{"unended", "first in new"}));
    dir.write("a.log", "more\n", true);
    EXPECT_EQ(follower.poll(), Lines{"more"});
}

TEST(CliFollower, FileThatAppearsLater) {
    TempDir dir;
    FileFollower follower(dir.file("later.log"));
    EXPECT_EQ(follower.tail(3), Lines{});
    EXPECT_EQ(follower.poll(), Lines{});
    dir.write("later.log", "hi\n");
    EXPECT_EQ(follower.poll(), Lines{"hi"});
}

TEST(CliFollower, EndlessLineIsCut) {
    TempDir dir;
    std::string f = dir.write("a.log", "");
    FileFollower follower(f);
    dir.write("a.log", std::string(64 * 1024 + 10, 'x'), true);
    auto lines = follower.poll();
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].size(), 64u * 1024);
}

}  // namespace
}  // namespace ne::cli
