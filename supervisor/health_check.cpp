#include "supervisor/health_check.h"

#include <event2/buffer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <exception>

#include "ipc/net.h"
#include "ipc/result.h"

namespace ne::supervisor {

namespace {

// A status line is short; more bytes without a CRLF mean whatever answers is not HTTP.
constexpr size_t kMaxStatusLine = 1024;

timeval to_timeval(config::Duration d) {
    return timeval{static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<int> parse_status_line(std::string_view line) {
    // "HTTP/1.x NNN[ reason]"
    constexpr std::string_view kVersion = "HTTP/1.";
    if (line.size() < 12 || line.substr(0, kVersion.size()) != kVersion) return std::nullopt;
    if (!is_digit(line[7]) || line[8] != ' ') return std::nullopt;
    if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) return std::nullopt;
    if (line.size() > 12 && line[12] != ' ') return std::nullopt;
    int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (code < 100) return std::nullopt;
    return code;
}

// ---- HealthState ------------------------------------------------------------------------

HealthState::HealthState(int fails) : fails_(std::max(fails, 1)) {}

HealthState::Action HealthState::on_result(bool ok) {
    if (ok) {
        failures_ = 0;
        if (!out_) return Action::None;
        out_ = false;
        return Action::PutBack;
    }
    ++failures_;
    if (failures_ % (fails_ * 3) == 0) return Action::Replace;
    if (failures_ == fails_) {
        out_ = true;
        return Action::TakeOut;
    }
    return Action::None;
}

// ---- HealthCheck ------------------------------------------------------------------------

HealthCheck::HealthCheck(event_base* base, std::string host, int port, config::HealthCheck cfg,
                         OnResult on_result)
    : base_(base), host_(std::move(host)), port_(port), cfg_(std::move(cfg)), on_result_(std::move(on_result)) {
    interval_timer_.reset(evtimer_new(base_, &HealthCheck::on_interval, this));
    deadline_timer_.reset(evtimer_new(base_, &HealthCheck::on_deadline, this));
    timeval tv = to_timeval(cfg_.interval);
    evtimer_add(interval_timer_.get(), &tv);
}

HealthCheck::~HealthCheck() = default;

void HealthCheck::on_interval(evutil_socket_t, short, void* self) {
    try {
        static_cast<HealthCheck*>(self)->begin();
    } catch (const std::exception& e) {
        spdlog::error("health check: {}", e.what());
    }
}

void HealthCheck::on_deadline(evutil_socket_t, short, void* self) {
    auto* h = static_cast<HealthCheck*>(self);
    try {
        h->finish(false, "no answer within " + std::to_string(h->cfg_.timeout.count()) + " ms");
    } catch (const std::exception& e) {
        spdlog::error("health check: {}", e.what());
    }
}

void HealthCheck::on_connect(evutil_socket_t, short, void* self) {
    try {
        static_cast<HealthCheck*>(self)->connected();
    } catch (const std::exception& e) {
        spdlog::error("health check: {}", e.what());
    }
}

void HealthCheck::on_read(bufferevent*, void* self) {
    try {
        static_cast<HealthCheck*>(self)->read_status();
    } catch (const std::exception& e) {
        spdlog::error("health check: {}", e.what());
    }
}

void HealthCheck::on_event(bufferevent*, short what, void* self) {
    try {
        static_cast<HealthCheck*>(self)->closed(what);
    } catch (const std::exception& e) {
        spdlog::error("health check: {}", e.what());
    }
}

void HealthCheck::begin() {
    timeval tv = to_timeval(cfg_.timeout);
    evtimer_add(deadline_timer_.get(), &tv);
    auto fd = net::connect_tcp_nonblocking(host_, port_);
    if (!fd) {  // refused at once: nothing listens on the port
        finish(false, fd.error().message);
        return;
    }
    // The request is written only once the connect is known to have succeeded, so a refused
    // connect is reported as such (a write would only say "Broken pipe").
    connecting_ = std::move(*fd);
    connect_ev_.reset(event_new(base_, connecting_.get(), EV_WRITE, &HealthCheck::on_connect, this));
    event_add(connect_ev_.get(), nullptr);
}

void HealthCheck::connected() {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(connecting_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    connect_ev_.reset();
    if (err != 0) {
        finish(false, Error::from_errno("connect to " + host_ + ":" + std::to_string(port_), err).message);
        return;
    }
    conn_.reset(bufferevent_socket_new(base_, connecting_.get(), BEV_OPT_CLOSE_ON_FREE));
    if (!conn_) {
        finish(false, "cannot create a bufferevent for the check");
        return;
    }
    connecting_.release();  // closed by the bufferevent now
    bufferevent_setcb(conn_.get(), &HealthCheck::on_read, nullptr, &HealthCheck::on_event, this);
    // Only the status line is read; the rest of the answer is never buffered.
    bufferevent_setwatermark(conn_.get(), EV_READ, 0, kMaxStatusLine + 2);
    std::string request = "GET " + cfg_.path + " HTTP/1.1\r\nHost: " + host_ + ":" + std::to_string(port_) +
                          "\r\nUser-Agent: nodeedge-health-check\r\nConnection: close\r\n\r\n";
    bufferevent_write(conn_.get(), request.data(), request.size());
    bufferevent_enable(conn_.get(), EV_READ | EV_WRITE);
}

void HealthCheck::read_status() {
    evbuffer* in = bufferevent_get_input(conn_.get());
    size_t len = 0;
    evbuffer_ptr eol = evbuffer_search_eol(in, nullptr, &len, EVBUFFER_EOL_CRLF_STRICT);
    if (eol.pos < 0) {
        if (evbuffer_get_length(in) > kMaxStatusLine) finish(false, "answered without an HTTP status line");
        return;
    }
    std::string line(static_cast<size_t>(eol.pos), '\0');
    evbuffer_copyout(in, line.data(), line.size());
    auto code = parse_status_line(line);
    if (!code) {
        finish(false, "answered without an HTTP status line");
        return;
    }
    finish(*code >= 200 && *code < 400, "answered " + std::to_string(*code));
}

void HealthCheck::closed(short what) {
    if (what & BEV_EVENT_ERROR) {
        finish(false, Error::from_errno("GET " + cfg_.path + " on " + host_ + ":" + std::to_string(port_),
                                        EVUTIL_SOCKET_ERROR())
                          .message);
    } else if (what & BEV_EVENT_EOF) {
        finish(false, "closed the connection without a status line");
    }
}

void HealthCheck::finish(bool ok, const std::string& detail) {
    conn_.reset();
    connect_ev_.reset();
    connecting_.reset();
    evtimer_del(deadline_timer_.get());
    timeval tv = to_timeval(cfg_.interval);
    evtimer_add(interval_timer_.get(), &tv);
    // From a copy, and last: the callback may destroy this HealthCheck.
    OnResult report = on_result_;
    report(ok, detail);
}

}  // namespace ne::supervisor
