#include "proxy/upstream/h2c_bridge.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "proxy/http/forward_headers.h"
#include "proxy/to_timeval.h"

namespace ne::proxy {

namespace {

// The request head is ours (write_upstream_request): the client's limits plus what the proxy
// adds.
constexpr MessageParser::Limits kBridgeRequestLimits{16384, 96 * 1024, 256};
// Request body read from the pair waits for DATA frames in at most about this much.
constexpr size_t kBodyHigh = 64 * 1024;
constexpr size_t kBodyLow = kBodyHigh / 2;
// The socket's output is filled from nghttp2 up to this much.
constexpr size_t kSocketHigh = 64 * 1024;
constexpr size_t kMaxResponseHeaders = 64 * 1024;

// Headers of an HTTP/1.1 message that HTTP/2 forbids or expresses otherwise.
bool not_for_h2(std::string_view name) {
    return header_is(name, "connection") || header_is(name, "keep-alive") || header_is(name, "proxy-connection") ||
           header_is(name, "transfer-encoding") || header_is(name, "upgrade") || header_is(name, "te") ||
           header_is(name, "host");
}

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
    return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
            reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
            NGHTTP2_NV_FLAG_NONE};
}

// Lower-case copies of the names go to `names`, reserved first so the views stay put.
std::vector<nghttp2_nv> h2_fields(const std::vector<Header>& fields, std::string& names) {
    size_t total = 0;
    for (const Header& f : fields) total += f.name.size();
    names.clear();
    names.reserve(total);
    std::vector<nghttp2_nv> out;
    out.reserve(fields.size());
    for (const Header& f : fields) {
        const size_t at = names.size();
        for (char c : f.name) names.push_back(ascii_lower(c));
        out.push_back(make_nv(std::string_view(names).substr(at, f.name.size()), f.value));
    }
    return out;
}

}  // namespace

H2cBridge::H2cBridge(event_base* base, BuffereventPtr end, const Backend& backend,
                     std::chrono::milliseconds connect_timeout)
    : base_(base), end_(std::move(end)), backend_(backend), connect_timeout_(connect_timeout),
      request_(MessageParser::Type::request, kBridgeRequestLimits) {
    request_.begin();
}

H2cBridge::~H2cBridge() {
    if (end_) bufferevent_setcb(end_.get(), nullptr, nullptr, nullptr, nullptr);
    if (sock_) bufferevent_setcb(sock_.get(), nullptr, nullptr, nullptr, nullptr);
}

Status H2cBridge::connect() {
    const std::string what = "connect to " + backend_.pool + " backend " + backend_.address + " (h2c)";
    int fd = ::socket(backend_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error::from_errno(what);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sock_.reset(bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE));
    if (!sock_) {
        ::close(fd);
        return Error{what + ": cannot create a bufferevent"};
    }
    bufferevent_setcb(sock_.get(), sock_read_cb, sock_write_cb, sock_event_cb, this);
    bufferevent_setwatermark(sock_.get(), EV_WRITE, kSocketHigh / 4, 0);
    const timeval tv = to_timeval(connect_timeout_);  // libevent times a connect with the write timeout
    bufferevent_set_timeouts(sock_.get(), nullptr, &tv);
    if (bufferevent_socket_connect(sock_.get(), reinterpret_cast<const sockaddr*>(&backend_.addr),
                                   static_cast<int>(backend_.addr_len)) != 0)
        return Error::from_errno(what);
    bufferevent_enable(sock_.get(), EV_READ);
    // The request is read once the partner knows it is connected (it writes nothing before).
    bufferevent_setcb(end_.get(), end_read_cb, end_write_cb, end_event_cb, this);
    bufferevent_setwatermark(end_.get(), EV_WRITE, 0, 0);  // credited once all is taken
    bufferevent_enable(end_.get(), EV_READ | EV_WRITE);
    return {};
}

// ---- the backend's socket ------------------------------------------------------------------

void H2cBridge::sock_read_cb(bufferevent*, void* self) { static_cast<H2cBridge*>(self)->on_sock_read(); }

void H2cBridge::sock_write_cb(bufferevent*, void* self) { static_cast<H2cBridge*>(self)->flush(); }

void H2cBridge::sock_event_cb(bufferevent*, short what, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (what & BEV_EVENT_CONNECTED) {
        b->on_connected();
        return;
    }
    if (b->failed_) return;
    if (!b->connected_) {
        spdlog::warn("connect to {} backend {} (h2c): {}", b->backend_.pool, b->backend_.address,
                     (what & BEV_EVENT_TIMEOUT) ? "timed out" : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        b->fail(BEV_EVENT_ERROR | (what & BEV_EVENT_TIMEOUT));
        return;
    }
    // The backend closed: the last frames it sent (the trailers, a GOAWAY) are read first.
    b->on_sock_read();
    if (!b->response_done_) {
        spdlog::warn("{} backend {} (h2c): connection closed before the response ended", b->backend_.pool,
                     b->backend_.address);
        b->fail(BEV_EVENT_EOF);
    }
}

void H2cBridge::on_connected() {
    connected_ = true;
    bufferevent_set_timeouts(sock_.get(), nullptr, nullptr);  // the partner times the exchange
    nghttp2_session_callbacks* cbs = nullptr;
    if (nghttp2_session_callbacks_new(&cbs) != 0) throw std::runtime_error("HTTP/2: out of memory");
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_option* opt = nullptr;
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        throw std::runtime_error("HTTP/2: out of memory");
    }
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_max_reserved_remote_streams(opt, 0);
    nghttp2_session* s = nullptr;
    const int rv = nghttp2_session_client_new2(&s, cbs, this, opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_option_del(opt);
    if (rv != 0) throw std::runtime_error(std::string("HTTP/2 session: ") + nghttp2_strerror(rv));
    session_.reset(s);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, kMaxResponseHeaders},
    };
    nghttp2_submit_settings(session_.get(), NGHTTP2_FLAG_NONE, settings, std::size(settings));
    flush();
    // Deferred: the partner's callbacks never run inside ours.
    bufferevent_trigger_event(bufferevent_pair_get_partner(end_.get()), BEV_EVENT_CONNECTED, BEV_TRIG_DEFER_CALLBACKS);
}

void H2cBridge::on_sock_read() {
    if (!session_ || failed_) return;
    evbuffer* in = bufferevent_get_input(sock_.get());
    while (size_t n = evbuffer_get_contiguous_space(in)) {
        const auto* p = evbuffer_pullup(in, static_cast<ev_ssize_t>(n));
        const ssize_t used = nghttp2_session_mem_recv(session_.get(), p, n);
        if (used < 0) {
            spdlog::warn("{} backend {} (h2c): {}", backend_.pool, backend_.address,
                         nghttp2_strerror(static_cast<int>(used)));
            fail(BEV_EVENT_EOF);
            return;
        }
        evbuffer_drain(in, static_cast<size_t>(used));
        if (failed_) return;
    }
    flush();
}

void H2cBridge::flush() {
    if (!session_ || failed_) return;
    evbuffer* out = bufferevent_get_output(sock_.get());
    while (evbuffer_get_length(out) < kSocketHigh) {
        const uint8_t* data = nullptr;
        const ssize_t n = nghttp2_session_mem_send(session_.get(), &data);
        if (n < 0) {
            fail(BEV_EVENT_EOF);
            return;
        }
        if (n == 0) break;
        evbuffer_add(out, data, static_cast<size_t>(n));
    }
}

void H2cBridge::fail(short what) {
    if (failed_) return;
    failed_ = true;
    bufferevent_disable(sock_.get(), EV_READ | EV_WRITE);
    bufferevent_disable(end_.get(), EV_READ);
    if (what & BEV_EVENT_EOF)
        end_pair(end_.get());
    else
        bufferevent_trigger_event(bufferevent_pair_get_partner(end_.get()), what, BEV_TRIG_DEFER_CALLBACKS);
}

// ---- the request, from our end of the pair --------------------------------------------------

void H2cBridge::end_read_cb(bufferevent*, void* self) { static_cast<H2cBridge*>(self)->read_request(); }

void H2cBridge::end_write_cb(bufferevent*, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (!b->session_ || b->failed_ || b->unconsumed_ == 0 || b->stream_ < 0) return;
    nghttp2_session_consume(b->session_.get(), b->stream_, b->unconsumed_);
    b->unconsumed_ = 0;
    b->flush();
}

// The partner never shuts its side; an event here is its end of the pair going away, after
// which nothing it would read matters.
void H2cBridge::end_event_cb(bufferevent*, short, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (b->session_ && b->stream_ >= 0 && !b->response_done_) {
        nghttp2_submit_rst_stream(b->session_.get(), NGHTTP2_FLAG_NONE, b->stream_, NGHTTP2_CANCEL);
        b->flush();
    }
}

void H2cBridge::read_request() {
    if (failed_ || !session_) return;
    if (!request_head_done_) {
        evbuffer* in = bufferevent_get_input(end_.get());
        const size_t len = evbuffer_get_length(in);
        if (len == 0) return;
        const char* base = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(len)));
        const auto progress = request_.parse_head({base, len});
        if (progress == MessageParser::Progress::need_more) return;
        if (progress == MessageParser::Progress::error || !submit_request()) {
            spdlog::warn("{} backend {} (h2c): cannot send the request: {}", backend_.pool, backend_.address,
                         progress == MessageParser::Progress::error ? request_.failure().reason : "refused by nghttp2");
            fail(BEV_EVENT_EOF);
            return;
        }
    }
    read_request_body();
    flush();
}

bool H2cBridge::submit_request() {
    std::vector<Header> kept;
    kept.reserve(request_.headers().size());
    for (const Header& h : request_.headers())
        if (!not_for_h2(h.name)) kept.push_back(h);
    std::string names;
    std::vector<nghttp2_nv> nva = h2_fields(kept, names);
    const nghttp2_nv pseudo[] = {make_nv(":method", request_.method_name()), make_nv(":scheme", "http"),
                                 make_nv(":authority", request_.header("host")), make_nv(":path", request_.target()),
                                 make_nv("te", "trailers")};
    nva.insert(nva.begin(), std::begin(pseudo), std::end(pseudo));
    const Framing framing = request_.framing();
    request_pump_.start(framing, request_.content_length(), Framing::length);
    nghttp2_data_provider body{};
    body.read_callback = read_body;
    // nghttp2 copies the fields: the head may leave the buffer after this call.
    stream_ = nghttp2_submit_request(session_.get(), nullptr, nva.data(), nva.size(),
                                     framing == Framing::none ? nullptr : &body, this);
    evbuffer_drain(bufferevent_get_input(end_.get()), request_.head_size());
    request_head_done_ = true;
    request_done_ = framing == Framing::none;
    return stream_ > 0;
}

void H2cBridge::read_request_body() {
    if (request_done_) return;
    evbuffer* in = bufferevent_get_input(end_.get());
    const BodyPump::Step step = request_pump_.pump(in, request_body_.get());
    if (step == BodyPump::Step::failed || step == BodyPump::Step::too_large) {
        spdlog::warn("{} backend {} (h2c): bad request body: {}", backend_.pool, backend_.address, request_pump_.error());
        fail(BEV_EVENT_EOF);
        return;
    }
    if (step == BodyPump::Step::done) {
        request_done_ = true;
        request_trailers_ = request_pump_.trailers();
    }
    // Stop taking the body while the backend's window is shut; read_body() resumes it.
    if (evbuffer_get_length(request_body_.get()) >= kBodyHigh) bufferevent_disable(end_.get(), EV_READ);
    nghttp2_session_resume_data(session_.get(), stream_);
}

ssize_t H2cBridge::read_body(nghttp2_session* session, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source*, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    const int n = evbuffer_remove(b->request_body_.get(), buf, len);
    if (n < 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const size_t left = evbuffer_get_length(b->request_body_.get());
    if (!b->request_done_ && left < kBodyLow) bufferevent_enable(b->end_.get(), EV_READ);
    if (left > 0 || !b->request_done_) return n == 0 ? NGHTTP2_ERR_DEFERRED : n;
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!b->request_trailers_.empty()) {
        std::string names;
        const std::vector<nghttp2_nv> fields = h2_fields(trailer_fields(b->request_trailers_), names);
        if (!fields.empty() && nghttp2_submit_trailer(session, id, fields.data(), fields.size()) == 0)
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    return n;
}

// ---- the response, into our end of the pair --------------------------------------------------

int H2cBridge::on_header(nghttp2_session*, const nghttp2_frame* f, const uint8_t* name_p, size_t namelen,
                         const uint8_t* value_p, size_t valuelen, uint8_t, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (f->hd.stream_id != b->stream_ || f->hd.type != NGHTTP2_HEADERS) return 0;
    const std::string_view name(reinterpret_cast<const char*>(name_p), namelen);
    const std::string_view value(reinterpret_cast<const char*>(value_p), valuelen);
    // nghttp2 has checked names (lower case, no connection-specific ones) and values (no CR,
    // LF or NUL), so they are safe in an HTTP/1.1 head.
    if (name == ":status") {
        int status = 0;
        for (char c : value) status = status * 10 + (c - '0');
        b->status_ = status;
        return 0;
    }
    if (name.starts_with(':') || header_is(name, "content-length")) return 0;
    std::string& out = b->head_written_ ? b->trailers_ : b->response_head_;
    out.append(name).append(": ").append(value).append("\r\n");
    return 0;
}

int H2cBridge::on_frame_recv(nghttp2_session*, const nghttp2_frame* f, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (f->hd.stream_id != b->stream_ || b->failed_) return 0;
    const bool end_stream = f->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (f->hd.type == NGHTTP2_HEADERS) {
        if (!b->head_written_) {
            if (b->status_ >= 100 && b->status_ < 200) {  // interim: nothing to pass on
                b->response_head_.clear();
                return 0;
            }
            b->write_response_head(end_stream);
        } else if (end_stream) {
            b->end_response(b->trailers_);
        }
    } else if (f->hd.type == NGHTTP2_DATA && end_stream && b->head_written_) {
        b->end_response({});
    }
    return 0;
}

void H2cBridge::write_response_head(bool end_stream) {
    std::string head = "HTTP/1.1 " + std::to_string(status_) + " " + std::string(status_text(status_)) + "\r\n";
    head += response_head_;
    head += end_stream ? "Content-Length: 0\r\n\r\n" : "Transfer-Encoding: chunked\r\n\r\n";
    std::string().swap(response_head_);
    evbuffer_add(bufferevent_get_output(end_.get()), head.data(), head.size());
    head_written_ = true;
    response_done_ = end_stream;
}

void H2cBridge::end_response(std::string_view trailers) {
    evbuffer* out = bufferevent_get_output(end_.get());
    evbuffer_add(out, "0\r\n", 3);
    evbuffer_add(out, trailers.data(), trailers.size());
    evbuffer_add(out, "\r\n", 2);
    response_done_ = true;
}

int H2cBridge::on_data_chunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data, size_t len,
                             void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (id != b->stream_ || !b->head_written_ || b->response_done_ || b->failed_) {
        nghttp2_session_consume(session, id, len);
        return 0;
    }
    evbuffer* out = bufferevent_get_output(b->end_.get());
    char size[24];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", len);
    evbuffer_add(out, size, static_cast<size_t>(n));
    evbuffer_add(out, data, len);
    evbuffer_add(out, "\r\n", 2);
    b->unconsumed_ += len;
    return 0;
}

int H2cBridge::on_stream_close(nghttp2_session*, int32_t id, uint32_t error_code, void* self) {
    auto* b = static_cast<H2cBridge*>(self);
    if (id != b->stream_ || b->response_done_) return 0;
    spdlog::warn("{} backend {} (h2c): stream closed before the response ended ({})", b->backend_.pool,
                 b->backend_.address, nghttp2_http2_strerror(error_code));
    b->fail(BEV_EVENT_EOF);
    return 0;
}

}  // namespace ne::proxy
