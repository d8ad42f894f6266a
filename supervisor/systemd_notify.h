// What the daemon tells systemd (Type=notify) beyond READY/STOPPING: a STATUS= line that
// `systemctl status` shows ("2 apps, 5 workers online"), sent when it changes, and WATCHDOG=1
// pings at half of WatchdogSec when the unit sets one. The pings come from a timer on the
// master's loop, so a wedged loop stops them and systemd restarts the daemon. Without
// $NOTIFY_SOCKET every call is a no-op.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <string>

#include "ipc/event_ptr.h"

namespace ne::supervisor {

class SystemdNotifier {
public:
    explicit SystemdNotifier(event_base* base);
    void ready(const std::string& status);
    void status(const std::string& status);   // sent only when it differs from the last one
    void stopping(const std::string& status);
    // The WatchdogSec systemd asked for (0: none).
    std::chrono::microseconds watchdog() const { return watchdog_; }

private:
    static void on_watchdog(evutil_socket_t, short, void* self);

    std::string last_status_;
    std::chrono::microseconds watchdog_{0};
    EventPtr watchdog_timer_;
};

// "1 app, 3 workers online" (the workers counted are those online).
std::string status_line(size_t apps, size_t online_workers);

}  // namespace ne::supervisor
