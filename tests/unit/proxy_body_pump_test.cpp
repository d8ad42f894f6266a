#include <gtest/gtest.h>

#include <string>

#include "ipc/event_ptr.h"
#include "proxy/upstream/relay.h"
#include "unit/evbuffer_text.h"

namespace ne::proxy {
namespace {

class BodyPumpTest : public ::testing::Test {
protected:
    EvbufferPtr in{evbuffer_new()};
    EvbufferPtr out{evbuffer_new()};
    BodyPump pump;
};

TEST_F(BodyPumpTest, NoBodyIsDoneAtOnce) {
    pump.start(Framing::none, 0, Framing::none);
    EXPECT_TRUE(pump.done());
    put(in.get(), "next");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(evbuffer_get_length(out.get()), 0u);
}

TEST_F(BodyPumpTest, LengthMovesExactlyTheBody) {
    pump.start(Framing::length, 8, Framing::length);
    put(in.get(), "abcde");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    EXPECT_EQ(pump.consumed(), 5u);
    put(in.get(), "fghGET /next");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), "abcdefgh");
    EXPECT_EQ(drain(in.get()), "GET /next");
}

TEST_F(BodyPumpTest, ZeroLengthIsDoneOnFirstPump) {
    pump.start(Framing::length, 0, Framing::length);
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(pump.consumed(), 0u);
}

TEST_F(BodyPumpTest, ChunkedIsReencoded) {
    pump.start(Framing::chunked, 0, Framing::chunked);
    put(in.get(), "3\r\nabc\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    put(in.get(), "2\r\nde\r\n0\r\n\r\nGET");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    EXPECT_EQ(drain(in.get()), "GET");
}

TEST_F(BodyPumpTest, ChunkedTrailersPassToAChunkedOutput) {
    pump.start(Framing::chunked, 0, Framing::chunked);
    put(in.get(), "2\r\nab\r\n0\r\ngrpc-status: 0\r\nx-b: 2\r\n\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), "2\r\nab\r\n0\r\ngrpc-status: 0\r\nx-b: 2\r\n\r\n");
    EXPECT_EQ(pump.trailers(), "grpc-status: 0\r\nx-b: 2\r\n");
}

TEST_F(BodyPumpTest, ChunkedTrailersAreKeptForALengthOutput) {
    pump.start(Framing::chunked, 0, Framing::length);
    put(in.get(), "2\r\nab\r\n0\r\nx-c: 3\r\n\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), "ab");
    EXPECT_EQ(pump.trailers(), "x-c: 3\r\n");
}

TEST_F(BodyPumpTest, ChunkedToHttp10ClientIsRaw) {
    pump.start(Framing::chunked, 0, Framing::until_close);
    put(in.get(), "3\r\nabc\r\n0\r\n\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), "abc");
}

TEST_F(BodyPumpTest, ChunkedSpreadOverManySegments) {
    pump.start(Framing::chunked, 0, Framing::until_close);
    std::string expect;
    // Many small evbuffer chains: more than one peek's worth of segments.
    for (int i = 0; i < 40; ++i) {
        evbuffer_add_reference(in.get(), "1\r\nx\r\n", 6, nullptr, nullptr);
        expect += "x";
    }
    evbuffer_add_reference(in.get(), "0\r\n\r\n", 5, nullptr, nullptr);
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), expect);
}

TEST_F(BodyPumpTest, UntilCloseBecomesChunkedAndEndsAtEof) {
    pump.start(Framing::until_close, 0, Framing::chunked);
    put(in.get(), "hello");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    EXPECT_EQ(pump.finish_at_eof(out.get()), BodyPump::Step::done);
    EXPECT_EQ(drain(out.get()), "5\r\nhello\r\n0\r\n\r\n");
}

TEST_F(BodyPumpTest, EofInsideALengthBodyIsATruncation) {
    pump.start(Framing::length, 10, Framing::length);
    put(in.get(), "abc");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    EXPECT_EQ(pump.finish_at_eof(out.get()), BodyPump::Step::failed);
}

TEST_F(BodyPumpTest, ChunkedOverLimitIsTooLarge) {
    pump.start(Framing::chunked, 0, Framing::chunked, 4);
    put(in.get(), "3\r\nabc\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    put(in.get(), "2\r\nde\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::too_large);
}

TEST_F(BodyPumpTest, ChunkDataMustEndWithCrlf) {
    pump.start(Framing::chunked, 0, Framing::chunked);
    put(in.get(), "3\r\nabcXX1\r\nz\r\n0\r\n\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::failed);
}

TEST_F(BodyPumpTest, ChunkCrlfSplitAcrossReads) {
    pump.start(Framing::chunked, 0, Framing::until_close);
    // Every split point, including between CR and LF and right after the data.
    for (const char* piece : {"3\r\nab", "c", "\r", "\n", "2\r\nde", "\r\n0\r\n\r\n"}) {
        put(in.get(), piece);
        auto step = pump.pump(in.get(), out.get());
        ASSERT_NE(step, BodyPump::Step::failed) << piece;
    }
    EXPECT_TRUE(pump.done());
    EXPECT_EQ(drain(out.get()), "abcde");
}

TEST_F(BodyPumpTest, ChunkCrlfBrokenAcrossReads) {
    pump.start(Framing::chunked, 0, Framing::until_close);
    put(in.get(), "3\r\nabc\r");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::more);
    put(in.get(), "X0\r\n\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::failed);
}

TEST_F(BodyPumpTest, BadChunkSizeFails) {
    pump.start(Framing::chunked, 0, Framing::chunked);
    put(in.get(), "3 \r\nabc\r\n");
    EXPECT_EQ(pump.pump(in.get(), out.get()), BodyPump::Step::failed);
}

}  // namespace
}  // namespace ne::proxy
