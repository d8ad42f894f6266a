// Shared by the back-pressure tests (slow clients, gzip): how far a backend got writing a
// large answer to a client that reads nothing, from the app's GET /progress counters.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "integration/harness.h"

namespace ne::itest {

struct BackendStall {
    bool settled = false;  // the count held still (or the answer finished) before the timeout
    size_t written = 0;    // bytes the backend had written at the last sample
    bool done = false;     // the backend wrote the whole answer
};

// Samples GET /progress on `app_port` every 0.5 s until its `written_key` count is the same in
// two samples in a row, or `done_key` turns true, for at most `timeout`.
inline BackendStall wait_for_backend_stall(int app_port, const std::string& written_key,
                                           const std::string& done_key, std::chrono::milliseconds timeout) {
    BackendStall s;
    s.settled = wait_until(
        [&] {
            json p = get_json(app_port, "/progress");
            const size_t now = p.value(written_key, size_t{0});
            s.done = p.value(done_key, false);
            const bool same = now == s.written && now > 0;
            s.written = now;
            std::this_thread::sleep_for(450ms);  // with wait_until's 50 ms: a sample every 0.5 s
            return same || s.done;
        },
        timeout);
    return s;
}

}  // namespace ne::itest
