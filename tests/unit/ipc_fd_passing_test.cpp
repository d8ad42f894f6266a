#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "ipc/fd_passing.h"

namespace ne::ipc {
namespace {

std::string contents_of(int fd) {
    std::string out;
    char buf[256];
    ::lseek(fd, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    return out;
}

TEST(FdPassing, TheReceiverWritesToTheSameOpenFile) {
    auto pair = fd_socketpair();
    ASSERT_TRUE(pair) << pair.error().message;
    char path[] = "/tmp/ne-fd-passing-XXXXXX";
    UniqueFd file(::mkstemp(path));
    ASSERT_TRUE(file);
    ::unlink(path);

    ASSERT_TRUE(send_fd(pair->first.get(), file.get(), "/var/log/access.log"));
    auto got = receive_fd(pair->second.get());
    ASSERT_TRUE(got) << got.error().message;
    ASSERT_TRUE(got->has_value());
    EXPECT_EQ((*got)->note, "/var/log/access.log");
    ASSERT_TRUE((*got)->fd);
    EXPECT_NE((*got)->fd.get(), file.get());   // a new descriptor for the same open file
    EXPECT_TRUE(::fcntl((*got)->fd.get(), F_GETFD) & FD_CLOEXEC);
    ASSERT_EQ(::write((*got)->fd.get(), "line\n", 5), 5);
    EXPECT_EQ(contents_of(file.get()), "line\n");
}

TEST(FdPassing, NoDescriptorAndNothingQueuedAreToldApart) {
    auto pair = fd_socketpair();
    ASSERT_TRUE(pair);
    auto nothing = receive_fd(pair->second.get());
    ASSERT_TRUE(nothing) << nothing.error().message;
    EXPECT_FALSE(nothing->has_value());

    ASSERT_TRUE(send_fd(pair->first.get(), -1, ""));   // "no file any more", with an empty note
    auto none = receive_fd(pair->second.get());
    ASSERT_TRUE(none && none->has_value());
    EXPECT_FALSE((*none)->fd);
    EXPECT_EQ((*none)->note, "");
}

TEST(FdPassing, MessagesKeepTheirOrderAndBoundaries) {
    auto pair = fd_socketpair();
    ASSERT_TRUE(pair);
    UniqueFd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(send_fd(pair->first.get(), null.get(), "first"));
    ASSERT_TRUE(send_fd(pair->first.get(), -1, "second"));
    auto a = receive_fd(pair->second.get());
    auto b = receive_fd(pair->second.get());
    ASSERT_TRUE(a && a->has_value() && b && b->has_value());
    EXPECT_EQ((*a)->note, "first");
    EXPECT_TRUE((*a)->fd);
    EXPECT_EQ((*b)->note, "second");
    EXPECT_FALSE((*b)->fd);
}

TEST(FdPassing, AClosedSenderAndAnOverlongNoteAreErrors) {
    auto pair = fd_socketpair();
    ASSERT_TRUE(pair);
    EXPECT_FALSE(send_fd(pair->first.get(), -1, std::string(kMaxNote + 1, 'x')));
    pair->first.reset();
    auto got = receive_fd(pair->second.get());
    ASSERT_FALSE(got);
    EXPECT_NE(got.error().message.find("closed"), std::string::npos) << got.error().message;
}

}  // namespace
}  // namespace ne::ipc
