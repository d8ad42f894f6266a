#include "proxy/h2/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "proxy/conn/local_response.h"
#include "proxy/h2/stream.h"
#include "proxy/http/forward_headers.h"
#include "proxy/http/parser.h"
#include "proxy/upstream/relay.h"
#include "proxy/runtime.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

// The TLS output is filled up to this much from nghttp2, then again below a quarter of it.
constexpr size_t kOutputHigh = 64 * 1024;
// A client may reset this many streams at once, then this many per second (nginx and
// nghttp2's defaults against the 2023 "rapid reset" attack).
constexpr uint64_t kResetBurst = 1000;
constexpr uint64_t kResetRate = 33;

}  // namespace

H2Session::H2Session(Runtime& rt, BuffereventPtr bev, const ConnFacts& facts)
    : rt_(rt), bev_(std::move(bev)), facts_(facts) {
    std::memcpy(&peer_, facts.peer, facts.peer->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    facts_.peer = reinterpret_cast<const sockaddr*>(&peer_);
    facts_.output_high = h2::kStreamHigh;

    nghttp2_session_callbacks* cbs = nullptr;
    nghttp2_option* opt = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
        throw std::runtime_error("HTTP/2: out of memory");
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_stream_reset_rate_limit(opt, kResetBurst, kResetRate);
    nghttp2_option_set_max_settings(opt, NGHTTP2_DEFAULT_MAX_SETTINGS);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_continuations(opt, 8);
    nghttp2_session* s = nullptr;
    const int rv = nghttp2_session_server_new2(&s, cbs, this, opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rv != 0) throw std::runtime_error(std::string("HTTP/2 session: ") + nghttp2_strerror(rv));
    session_.reset(s);
    idle_timer_.reset(evtimer_new(rt_.base, idle_cb, this));
}

H2Session::~H2Session() {
    for (auto& [id, s] : streams_)
        if (s->end) end_pair(s->end.get());
}

const config::Server& H2Session::server() const {
    static const config::Server fallback{};
    const Snapshot* snap = rt_.snapshot.get();
    const int d = snap ? snap->routes.default_server(facts_.listen) : -1;
    return d >= 0 ? *snap->server(d) : fallback;
}

void H2Session::start() {
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, static_cast<uint32_t>(server().http2_max_concurrent_streams)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, h2::kMaxRequestHeaderBlock},
    };
    nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings));
    bufferevent_setcb(bev_.get(), read_cb, write_cb, event_cb, this);
    bufferevent_setwatermark(bev_.get(), EV_WRITE, kOutputHigh / 4, 0);
    // A client that stops reading is cut off: with its output full, nothing queued for it (a
    // RST_STREAM, the idle GOAWAY) would ever go out, and the connection would stay forever.
    const timeval send_timeout = to_timeval(server().send_timeout);
    bufferevent_set_timeouts(bev_.get(), nullptr, &send_timeout);
    bufferevent_enable(bev_.get(), EV_READ | EV_WRITE);
    arm_idle_timer();
    on_read();  // bytes that came with the end of the handshake
}

void H2Session::quit() {
    if (closed_) return;
    nghttp2_submit_goaway(session_.get(), NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(session_.get()),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    flush();
}

// ---- the TLS connection -------------------------------------------------------------------

void H2Session::read_cb(bufferevent*, void* self) {
    auto* h = static_cast<H2Session*>(self);
    try {
        h->on_read();
    } catch (const std::exception& e) {
        spdlog::error("HTTP/2 client on {}: {}", h->facts_.listen, e.what());
        h->close();
    }
}

void H2Session::write_cb(bufferevent*, void* self) {
    auto* h = static_cast<H2Session*>(self);
    try {
        h->flush();
    } catch (const std::exception& e) {
        spdlog::error("HTTP/2 client on {}: {}", h->facts_.listen, e.what());
        h->close();
    }
}

void H2Session::event_cb(bufferevent*, short, void* self) { static_cast<H2Session*>(self)->close(); }

void H2Session::idle_cb(evutil_socket_t, short, void* self) {
    auto* h = static_cast<H2Session*>(self);
    if (h->ending_) h->close();
    else if (h->streams_.empty()) h->quit();
}

void H2Session::arm_idle_timer() {
    timeval tv = to_timeval(server().keepalive_timeout);
    evtimer_add(idle_timer_.get(), &tv);
}

void H2Session::on_read() {
    if (closed_) return;
    evbuffer* in = bufferevent_get_input(bev_.get());
    if (lingering_) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    while (size_t n = evbuffer_get_contiguous_space(in)) {
        const auto* p = evbuffer_pullup(in, static_cast<ev_ssize_t>(n));
        const ssize_t used = nghttp2_session_mem_recv(session_.get(), p, n);
        if (used < 0) {
            const int err = static_cast<int>(used);
            spdlog::debug("HTTP/2 client on {}: {}", facts_.listen, nghttp2_strerror(err));
            // nghttp2 queues a GOAWAY for the protocol errors it answers itself but not for the
            // floods it gives up on (unanswered ACKs, endless CONTINUATIONs): the client is
            // told why either way (a no-op when a GOAWAY is already queued), then closed.
            uint32_t code = NGHTTP2_PROTOCOL_ERROR;
            if (err == NGHTTP2_ERR_FLOODED || err == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS) code = NGHTTP2_ENHANCE_YOUR_CALM;
            else if (err == NGHTTP2_ERR_CALLBACK_FAILURE) code = NGHTTP2_INTERNAL_ERROR;
            nghttp2_session_terminate_session(session_.get(), code);
            flush();
            // The GOAWAY did not even fit: the client is not reading, nothing is waited for.
            if (!ending_) close();
            return;
        }
        evbuffer_drain(in, static_cast<size_t>(used));
        if (closed_) return;
    }
    flush();
}

void H2Session::flush() {
    if (closed_ || lingering_) return;
    evbuffer* out = bufferevent_get_output(bev_.get());
    while (evbuffer_get_length(out) < kOutputHigh) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
        if (n < 0) {
            spdlog::debug("HTTP/2 client on {}: {}", facts_.listen, nghttp2_strerror(static_cast<int>(n)));
            close();
            return;
        }
        if (n == 0) break;
        evbuffer_add(out, data, static_cast<size_t>(n));
    }
    if (!nghttp2_session_want_read(session_.get()) && !nghttp2_session_want_write(session_.get())) {
        // Done both ways (after a GOAWAY): let the last frames out, then linger. A client
        // that does not take them within lingering_timeout is not waited for.
        if (evbuffer_get_length(out) == 0) {
            linger();
            return;
        }
        if (ending_) return;
        ending_ = true;
        bufferevent_disable(bev_.get(), EV_READ);
        bufferevent_setwatermark(bev_.get(), EV_WRITE, 0, 0);
        const timeval tv = to_timeval(server().lingering_timeout);
        evtimer_add(idle_timer_.get(), &tv);
    }
}

void H2Session::linger() {
    ending_ = lingering_ = true;
    shut_write(bev_.get());
    evbuffer* in = bufferevent_get_input(bev_.get());
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_enable(bev_.get(), EV_READ);
    const timeval tv = to_timeval(server().lingering_timeout);
    evtimer_add(idle_timer_.get(), &tv);
}

void H2Session::close() {
    if (closed_) return;
    closed_ = true;
    evtimer_del(idle_timer_.get());
    keep_tls_session(bev_.get());
    bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
    for (auto& [id, s] : streams_) {
        if (!s->end) continue;
        end_pair(s->end.get());
        bufferevent_setcb(s->end.get(), nullptr, nullptr, nullptr, nullptr);
    }
    rt_.close(*this);
}

H2Session::Stream* H2Session::find(int32_t id) {
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

// ---- requests -----------------------------------------------------------------------------

int H2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* f, void* self) {
    auto* h = static_cast<H2Session*>(self);
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    h->streams_.emplace(f->hd.stream_id, std::make_unique<Stream>(*h, f->hd.stream_id));
    evtimer_del(h->idle_timer_.get());
    // keepalive_requests, as nginx applies it to HTTP/2: this stream is served, and the
    // GOAWAY naming it as the last tells the client to open a new connection for the next.
    if (++h->requests_ >= static_cast<uint64_t>(std::max(1, h->server().keepalive_requests)) && !h->goaway_sent_) {
        h->goaway_sent_ = true;
        nghttp2_submit_goaway(h->session_.get(), NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR, nullptr, 0);
    }
    return 0;
}

int H2Session::on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name_p, size_t namelen,
                         const uint8_t* value_p, size_t valuelen, uint8_t, void* self) {
    auto* h = static_cast<H2Session*>(self);
    Stream* s = h->find(f->hd.stream_id);
    if (!s || s->oversized) return 0;
    s->header_bytes += namelen + valuelen + 32;
    if (s->header_bytes > h2::kMaxRequestHeaderBlock) {
        // The rest of the block is decoded (HPACK state is the connection's) but not kept.
        s->oversized = true;
        std::string().swap(s->headers);
        std::string().swap(s->cookies);
        std::string().swap(s->trailers);   // trailers over the limit: none are passed on
        return 0;
    }
    const std::string_view name(reinterpret_cast<const char*>(name_p), namelen);
    const std::string_view value(reinterpret_cast<const char*>(value_p), valuelen);
    if (s->end) {
        // Trailers (a second HEADERS, nghttp2 refuses pseudo-headers there): the chunked
        // body's trailer section, which end_request() writes.
        s->trailers.append(name).append(": ").append(value).append("\r\n");
        return 0;
    }
    // nghttp2 has checked the names (lower case, no connection-specific ones), the values
    // (no CR, LF or NUL) and the pseudo-headers.
    if (name == ":method") s->method = value;
    else if (name == ":path") s->path = value;
    else if (name == ":authority") s->authority = value;
    else if (name.starts_with(':')) return 0;   // :scheme (ours is https), :protocol
    else if (name == "host") s->host = value;
    else if (name == "cookie") {
        // HTTP/2 splits cookies into fields; HTTP/1.1 wants one line (RFC 9113 8.2.3).
        if (!s->cookies.empty()) s->cookies += "; ";
        s->cookies += value;
    } else {
        s->has_length = s->has_length || name == "content-length";
        s->headers.append(name).append(": ").append(value).append("\r\n");
    }
    return 0;
}

int H2Session::on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* self) {
    auto* h = static_cast<H2Session*>(self);
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
    Stream* s = h->find(f->hd.stream_id);
    if (!s) return 0;
    const bool end_stream = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (f->hd.type == NGHTTP2_HEADERS && !s->end) h->start_request(*s, end_stream);
    else if (end_stream) h->end_request(*s);
    return 0;
}

void H2Session::start_request(Stream& s, bool end_stream) {
    bufferevent* pair[2] = {nullptr, nullptr};
    if (bufferevent_pair_new(rt_.base, 0, pair) != 0) {
        reset(s, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    s.end.reset(pair[0]);
    BuffereventPtr theirs(pair[1]);
    s.chunked = !end_stream && !s.has_length;
    std::string head;
    head.reserve(s.method.size() + s.path.size() + s.headers.size() + s.cookies.size() + 96);
    head.append(s.method).append(" ").append(s.path).append(" HTTP/1.1\r\nHost: ");
    head.append(s.authority.empty() ? s.host : s.authority).append("\r\n");
    if (!s.cookies.empty()) head.append("Cookie: ").append(s.cookies).append("\r\n");
    head.append(s.headers);
    if (s.chunked) head.append("Transfer-Encoding: chunked\r\n");
    head.append("\r\n");
    std::string().swap(s.headers);
    std::string().swap(s.cookies);
    s.response.begin(s.method == "HEAD");

    bufferevent* end = s.end.get();
    if (s.oversized) {
        // No ClientConn: its end of the pair writes the answer a ClientConn gives a head over
        // its own limit, which is read back as any response, and the request body is dropped
        // as it comes.
        LocalResponse too_large;
        too_large.status = 431;
        too_large.head_request = s.method == "HEAD";
        std::string answer;
        write_local_response(too_large, answer);
        bufferevent_enable(end, EV_READ);   // the pair moves the bytes across only then
        evbuffer_add(bufferevent_get_output(theirs.get()), answer.data(), answer.size());
        s.request_done = end_stream;
        s.client_gone = true;
        read_response(s);
        return;
    }
    bufferevent_setcb(end, stream_read_cb, stream_write_cb, stream_event_cb, &s);
    // Called back once the ClientConn has taken everything: the window is credited then.
    bufferevent_setwatermark(end, EV_WRITE, 0, 0);
    bufferevent_setwatermark(end, EV_READ, 0, h2::kStreamHigh);
    bufferevent_enable(end, EV_READ | EV_WRITE);
    evbuffer_add(bufferevent_get_output(end), head.data(), head.size());
    if (end_stream) s.request_done = true;
    rt_.adopt_http1(std::move(theirs), facts_);
}

int H2Session::on_data_chunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                             void* self) {
    auto* h = static_cast<H2Session*>(self);
    Stream* s = h->find(id);
    if (!s) {
        nghttp2_session_consume_connection(session, len);  // nobody takes it: free the window
        return 0;
    }
    if (!s->end || s->request_done || s->client_gone) {
        nghttp2_session_consume(session, id, len);
        return 0;
    }
    evbuffer* out = bufferevent_get_output(s->end.get());
    if (s->chunked) {
        char size[24];
        const int n = std::snprintf(size, sizeof size, "%zx\r\n", len);
        evbuffer_add(out, size, static_cast<size_t>(n));
    }
    evbuffer_add(out, data, len);
    if (s->chunked) evbuffer_add(out, "\r\n", 2);
    s->unconsumed += len;
    return 0;
}

void H2Session::end_request(Stream& s) {
    if (s.request_done || !s.end) return;
    s.request_done = true;
    if (!s.chunked) return;  // a body with a length has no place for trailers: they are dropped
    evbuffer* out = bufferevent_get_output(s.end.get());
    evbuffer_add(out, "0\r\n", 3);
    evbuffer_add(out, s.trailers.data(), s.trailers.size());
    evbuffer_add(out, "\r\n", 2);
}

void H2Session::stream_write_cb(bufferevent*, void* stream) {
    auto* s = static_cast<Stream*>(stream);
    H2Session& h = s->session;
    if (h.closed_ || s->unconsumed == 0) return;
    nghttp2_session_consume(h.session_.get(), s->id, s->unconsumed);
    s->unconsumed = 0;
    h.flush();
}

}  // namespace ne::proxy
