#include <gtest/gtest.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <thread>

#include "ipc/channel.h"
#include "ipc/event_ptr.h"

using namespace ne;

namespace {

struct Pair {
    UniqueFd a, b;
    Pair() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
};

}  // namespace

TEST(IpcChannel, FramesArriveWholeAndInOrder) {
    EventBasePtr base(event_base_new());
    Pair p;
    std::vector<std::string> got;
    ipc::Channel ch(base.get(), std::move(p.a), [&](std::string f) { got.push_back(std::move(f)); }, {});
    // An empty frame, and one larger than a socket buffer so it arrives in many reads.
    std::string big(300000, 'x');
    ASSERT_TRUE(ipc::write_frame(p.b.get(), "one").ok());
    ASSERT_TRUE(ipc::write_frame(p.b.get(), "").ok());
    std::thread writer([&] { ASSERT_TRUE(ipc::write_frame(p.b.get(), big).ok()); });
    while (got.size() < 3) event_base_loop(base.get(), EVLOOP_ONCE);
    writer.join();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], "one");
    EXPECT_EQ(got[1], "");
    EXPECT_EQ(got[2], big);
}

TEST(IpcChannel, SendIsReadByTheBlockingReader) {
    EventBasePtr base(event_base_new());
    Pair p;
    ipc::Channel ch(base.get(), std::move(p.a), [](std::string) {}, {});
    ch.send("hello");
    bool flushed = false;
    ch.on_flushed([&] { flushed = true; });
    while (!flushed) event_base_loop(base.get(), EVLOOP_ONCE);
    auto r = ipc::read_frame(p.b.get(), 2000);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, "hello");
}

TEST(IpcChannel, OversizedFrameClosesTheChannel) {
    EventBasePtr base(event_base_new());
    Pair p;
    std::string why;
    ipc::Channel ch(base.get(), std::move(p.a), [](std::string) { ADD_FAILURE() << "frame delivered"; },
                    [&](const std::string& w) { why = w; });
    uint32_t len = htonl(ipc::kMaxFrame + 1);
    ASSERT_EQ(::write(p.b.get(), &len, sizeof len), static_cast<ssize_t>(sizeof len));
    while (why.empty()) event_base_loop(base.get(), EVLOOP_ONCE);
    EXPECT_NE(why.find("exceeds"), std::string::npos) << why;
}

TEST(IpcChannel, PeerCloseIsReportedAfterPendingFrames) {
    EventBasePtr base(event_base_new());
    Pair p;
    std::vector<std::string> got;
    std::string why;
    ipc::Channel ch(base.get(), std::move(p.a), [&](std::string f) { got.push_back(f); },
                    [&](const std::string& w) { why = w; });
    ASSERT_TRUE(ipc::write_frame(p.b.get(), "last words").ok());
    p.b.reset();
    while (why.empty()) event_base_loop(base.get(), EVLOOP_ONCE);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0], "last words");
}

// A frame cut by the deadline would leave the stream out of step: the next read would take
// payload bytes for a length.
TEST(IpcChannel, ReadFrameFinishesAFrameThatBeganBeforeItsTimeout) {
    Pair p;
    const std::string payload = "late half";
    const uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
    ASSERT_EQ(::send(p.b.get(), &len, sizeof len, 0), static_cast<ssize_t>(sizeof len));
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));   // past the reader's timeout
        ::send(p.b.get(), payload.data(), payload.size(), 0);
    });
    auto r = ipc::read_frame(p.a.get(), 50);
    writer.join();
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, payload);
    ASSERT_TRUE(ipc::write_frame(p.b.get(), "next"));
    auto next = ipc::read_frame(p.a.get(), 1000);
    ASSERT_TRUE(next.ok()) << next.error().message;
    EXPECT_EQ(*next, "next");
}

TEST(IpcChannel, ReadFrameTimesOut) {
    Pair p;
    auto r = ipc::read_frame(p.a.get(), 50);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
}
