// Active health checks of one online Node worker (`health_check` on [[apps]]): every
// `interval`, `GET <path>` to 127.0.0.1:<worker port>, answered within `timeout` by a 2xx or
// 3xx status, or the check failed. The master runs them because it is the only writer of pool
// membership; HealthState turns the stream of results into what the worker must do about it.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "ipc/event_ptr.h"
#include "ipc/unique_fd.h"

namespace ne::supervisor {

// The status code of an HTTP/1.x status line ("HTTP/1.1 503 Service Unavailable", without
// the CRLF); nullopt when the line is not one (e.g. our own request echoed by a self-connect).
std::optional<int> parse_status_line(std::string_view line);

// Pure counting over consecutive results, so every path is a table in a unit test:
//  - `fails` failures in a row take the worker out of the pool (once);
//  - the first success after that puts it back; any success resets the count;
//  - every further `fails` * 3 failures in a row ask for a replacement (a replacement that
//    could not start leaves the worker here, so it is asked for again later).
class HealthState {
public:
    enum class Action { None, TakeOut, PutBack, Replace };

    explicit HealthState(int fails);
    Action on_result(bool ok);

    bool out() const { return out_; }            // taken out of the pool by us
    int failures() const { return failures_; }   // consecutive failed checks so far

private:
    int fails_;
    int failures_ = 0;
    bool out_ = false;
};

// Runs one check every `interval` on the loop (the first one `interval` after construction),
// never two at once, and reports each result. Destroying it cancels any check in flight.
// Like every libevent writer in the daemon, it needs SIGPIPE ignored (Master::init does).
class HealthCheck {
public:
    // ok: healthy answer. detail: what happened, for events ("answered 200",
    // "connect to 127.0.0.1:3001: Connection refused", "no answer within 2000 ms").
    // Called last in a libevent callback: it may destroy the HealthCheck.
    using OnResult = std::function<void(bool ok, const std::string& detail)>;

    HealthCheck(event_base* base, std::string host, int port, config::HealthCheck cfg, OnResult on_result);
    ~HealthCheck();
    HealthCheck(const HealthCheck&) = delete;
    HealthCheck& operator=(const HealthCheck&) = delete;

private:
    static void on_interval(evutil_socket_t, short, void* self);
    static void on_deadline(evutil_socket_t, short, void* self);
    static void on_connect(evutil_socket_t, short, void* self);
    static void on_read(bufferevent*, void* self);
    static void on_event(bufferevent*, short what, void* self);
    void begin();
    void connected();
    void read_status();
    void closed(short what);
    void finish(bool ok, const std::string& detail);

    event_base* base_;
    std::string host_;
    int port_;
    config::HealthCheck cfg_;
    OnResult on_result_;
    EventPtr interval_timer_;
    EventPtr deadline_timer_;
    // The check in flight, if any: first the connect (fd + its event), then the exchange.
    UniqueFd connecting_;
    EventPtr connect_ev_;
    BuffereventPtr conn_;
};

}  // namespace ne::supervisor
