// Length-prefixed frames (4-byte big-endian length, then the payload) over a stream socket.
// The same framing serves the master<->proxy socketpair and the CLI<->daemon control socket.
#pragma once

#include <event2/bufferevent.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ipc/event_ptr.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace ne::ipc {

// Frames larger than this are refused: a peer cannot make us allocate without bound.
constexpr uint32_t kMaxFrame = 16u << 20;

// An event-driven channel owned by one loop. Callbacks run on that loop.
class Channel {
public:
    using OnFrame = std::function<void(std::string payload)>;
    using OnClose = std::function<void(const std::string& why)>;

    // Takes ownership of fd (closed with the channel).
    Channel(event_base* base, UniqueFd fd, OnFrame on_frame, OnClose on_close);
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    void send(const std::string& payload);
    // Bytes queued but not yet written to the socket.
    size_t pending() const;
    // Calls fn once everything queued has been written (at once when nothing is queued).
    void on_flushed(std::function<void()> fn);
    int fd() const;

private:
    static void read_cb(bufferevent*, void* self);
    static void write_cb(bufferevent*, void* self);
    static void event_cb(bufferevent*, short what, void* self);
    void on_read();
    void fail(const std::string& why);

    BuffereventPtr bev_;
    OnFrame on_frame_;
    OnClose on_close_;
    std::function<void()> on_flushed_;
    bool closed_ = false;
    // Cleared by the destructor: a frame callback may destroy the channel it came from.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Blocking helpers for simple clients (the CLI): whole frame or an error.
Status write_frame(int fd, const std::string& payload);
// Waits at most timeout_ms (-1: forever) for a frame to begin; one that has begun is read whole
// (within 5 s more), so a timeout never leaves the stream mid-frame. An orderly close before
// any byte is an error "closed".
Result<std::string> read_frame(int fd, int timeout_ms = -1);

}  // namespace ne::ipc
