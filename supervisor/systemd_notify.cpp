#include "supervisor/systemd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace ne::supervisor {

SystemdNotifier::SystemdNotifier(event_base* base) {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    watchdog_ = std::chrono::microseconds(usec);
    watchdog_timer_.reset(event_new(base, -1, EV_PERSIST, on_watchdog, this));
    // Half the deadline, as sd_watchdog_enabled(3) recommends: one late ping is not fatal.
    auto half = watchdog_ / 2;
    timeval tv{static_cast<time_t>(half.count() / 1000000), static_cast<suseconds_t>(half.count() % 1000000)};
    evtimer_add(watchdog_timer_.get(), &tv);
    spdlog::info("systemd watchdog: {} ms; pinging every {} ms", usec / 1000, half.count() / 1000);
}

void SystemdNotifier::on_watchdog(evutil_socket_t, short, void*) { sd_notify(0, "WATCHDOG=1"); }

void SystemdNotifier::ready(const std::string& status) {
    last_status_ = status;
    sd_notify(0, ("READY=1\nSTATUS=" + status).c_str());
}

void SystemdNotifier::status(const std::string& status) {
    if (status == last_status_) return;
    last_status_ = status;
    sd_notify(0, ("STATUS=" + status).c_str());
}

void SystemdNotifier::stopping(const std::string& status) {
    last_status_ = status;
    sd_notify(0, ("STOPPING=1\nSTATUS=" + status).c_str());
}

std::string status_line(size_t apps, size_t online_workers) {
    return std::to_string(apps) + (apps == 1 ? " app, " : " apps, ") + std::to_string(online_workers) +
           (online_workers == 1 ? " worker online" : " workers online");
}

}  // namespace ne::supervisor
