// A stage between a response body's decoded bytes and their framing on the way to the client
// (gzip, the cache's copy to disk). Stages pass their output on to a ByteSink, which is the
// next stage or the framing into the client's output, so a body streams through all of them
// and none holds it whole.
#pragma once

#include <string>
#include <string_view>

#include "ipc/result.h"

namespace ne::proxy {

// Where a stage's output goes.
class ByteSink {
public:
    virtual void write(std::string_view bytes) = 0;

protected:
    ~ByteSink() = default;
};

// Collects everything (tests, small bodies).
class StringSink final : public ByteSink {
public:
    explicit StringSink(std::string& out) : out_(out) {}
    void write(std::string_view bytes) override { out_.append(bytes); }

private:
    std::string& out_;
};

class BodyFilter {
public:
    // Takes `in`; output may lag behind input until flush() or finish().
    virtual Status feed(std::string_view in, ByteSink& out) = 0;
    // The body paused (the sender has nothing more for now): everything fed so far must
    // reach `out`, so a client of a stream (server-sent events) is not kept waiting.
    virtual Status flush(ByteSink& out) = 0;
    // The body is complete.
    virtual Status finish(ByteSink& out) = 0;

protected:
    ~BodyFilter() = default;
};

}  // namespace ne::proxy
