// The deadline of each draining worker. The proxy workers answer a drain once nothing is in
// flight, but a request may never end (a WebSocket, a stuck upload): past the deadline the
// worker is stopped anyway, so a reload or stop cannot hang on one client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "ipc/event_ptr.h"

namespace ne::supervisor {

class DrainTracker {
public:
    // Called on the loop when worker `id` is still draining `deadline` after start(id).
    using OnExpired = std::function<void(uint64_t id)>;

    DrainTracker(event_base* base, std::chrono::milliseconds deadline, OnExpired on_expired);
    DrainTracker(const DrainTracker&) = delete;
    DrainTracker& operator=(const DrainTracker&) = delete;

    // [proxy] drain_timeout: drains started from now on get this deadline.
    void set_deadline(std::chrono::milliseconds deadline) { deadline_ = deadline; }
    void start(uint64_t id);     // (re)arms the deadline of worker `id`
    void finish(uint64_t id);    // drained or removed: the deadline no longer applies

private:
    struct Timer {
        DrainTracker* tracker;
        uint64_t id;
        EventPtr ev;
    };
    static void on_timer(evutil_socket_t, short, void* arg);

    event_base* base_;
    std::chrono::milliseconds deadline_;
    OnExpired on_expired_;
    std::map<uint64_t, std::unique_ptr<Timer>> timers_;
};

}  // namespace ne::supervisor
