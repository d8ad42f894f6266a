#include "proxy/upstream/relay.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

#include "proxy/to_timeval.h"

namespace ne::proxy {

// ---- optimistic writes ---------------------------------------------------------------------

namespace {

bool plain_socket(bufferevent* bev) {
    return bufferevent_getfd(bev) >= 0 && bufferevent_openssl_get_ssl(bev) == nullptr;
}

}  // namespace

void start_writes(bufferevent* bev) {
    if (plain_socket(bev))
        bufferevent_disable(bev, EV_WRITE);
    else
        bufferevent_enable(bev, EV_WRITE);
}

void send_now(bufferevent* bev) {
    evbuffer* out = bufferevent_get_output(bev);
    if (evbuffer_get_length(out) == 0) return;
    if (bufferevent_get_enabled(bev) & EV_WRITE) return;  // libevent is already on it
    if (!plain_socket(bev)) {
        bufferevent_enable(bev, EV_WRITE);
        return;
    }
    // A socket bufferevent keeps its output's start frozen except while it writes itself;
    // we write the same way. A failure (EPIPE, ECONNRESET) leaves the bytes in place, and
    // libevent's own attempt then reports it through the event callback, from the loop.
    // One evbuffer_write stops where memory chains meet a file chain (writev, then sendfile):
    // a response head and its file body need two, and a second here costs less than a trip
    // through epoll for the body.
    evbuffer_unfreeze(out, 1);
    while (evbuffer_get_length(out) > 0 && evbuffer_write(out, bufferevent_getfd(bev)) > 0) {
    }
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out) > 0) bufferevent_enable(bev, EV_WRITE);
}

void unwatch_write_if_drained(bufferevent* bev) {
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && plain_socket(bev))
        bufferevent_disable(bev, EV_WRITE);
}

void shut_write(bufferevent* bev) {
    if (bufferevent_pair_get_partner(bev)) {
        end_pair(bev);
        return;
    }
    // close_notify goes straight to the socket: the bufferevent's output is already empty.
    if (SSL* ssl = bufferevent_openssl_get_ssl(bev)) SSL_shutdown(ssl);
    ::shutdown(bufferevent_getfd(bev), SHUT_WR);
}

void end_pair(bufferevent* bev) {
    if (bufferevent_pair_get_partner(bev)) bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
}

void keep_tls_session(bufferevent* bev) {
    if (SSL* ssl = bufferevent_openssl_get_ssl(bev)) SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
}

// ---- FramedSink ----------------------------------------------------------------------------

void FramedSink::chunk_size(size_t n) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 2, n, 16);
    *end++ = '\r';
    *end++ = '\n';
    evbuffer_add(out_, buf, static_cast<size_t>(end - buf));
}

void FramedSink::write(std::string_view bytes) {
    if (bytes.empty()) return;  // an empty chunk would end the body
    if (framing_ == Framing::chunked) chunk_size(bytes.size());
    evbuffer_add(out_, bytes.data(), bytes.size());
    if (framing_ == Framing::chunked) evbuffer_add(out_, "\r\n", 2);
}

void FramedSink::move(evbuffer* in, size_t n) {
    if (n == 0) return;
    if (framing_ == Framing::chunked) chunk_size(n);
    evbuffer_remove_buffer(in, out_, n);
    if (framing_ == Framing::chunked) evbuffer_add(out_, "\r\n", 2);
}

void FramedSink::end(std::string_view trailers) {
    if (framing_ != Framing::chunked) return;
    evbuffer_add(out_, "0\r\n", 3);
    evbuffer_add(out_, trailers.data(), trailers.size());
    evbuffer_add(out_, "\r\n", 2);
}

// ---- BodyPump ------------------------------------------------------------------------------

void BodyPump::start(Framing in, uint64_t length, Framing out, uint64_t limit) {
    in_ = in;
    out_ = out;
    decoder_.reset();
    remaining_ = length;
    limit_ = limit;
    body_bytes_ = consumed_ = 0;
    filter_ = nullptr;
    filter_failed_.clear();
    state_ = in == Framing::none ? Step::done : Step::more;
}

bool BodyPump::filtered(const Status& s) {
    if (s) return true;
    filter_failed_ = s.error().message;
    return false;
}

BodyPump::Step BodyPump::finish(evbuffer* out) {
    framed_.aim(out, out_);
    if (filter_ && !filtered(filter_->finish(framed_))) return state_ = Step::failed;
    framed_.end(trailers());
    return state_ = Step::done;
}

BodyPump::Step BodyPump::move_filtered(evbuffer* in, size_t n, evbuffer* out) {
    framed_.aim(out, out_);
    constexpr int kSegments = 16;
    while (n > 0) {
        evbuffer_iovec seg[kSegments];
        const int count = std::min(evbuffer_peek(in, static_cast<ev_ssize_t>(n), nullptr, seg, kSegments), kSegments);
        size_t used = 0;
        for (int i = 0; i < count && used < n; ++i) {
            const size_t len = std::min(seg[i].iov_len, n - used);
            if (!filtered(filter_->feed({static_cast<const char*>(seg[i].iov_base), len}, framed_)))
                return state_ = Step::failed;
            used += len;
        }
        evbuffer_drain(in, used);
        n -= used;
    }
    return state_;
}

BodyPump::Step BodyPump::pump(evbuffer* in, evbuffer* out) {
    if (state_ != Step::more) return state_;
    const uint64_t before = body_bytes_;
    if (in_ == Framing::length || in_ == Framing::until_close) {
        size_t n = evbuffer_get_length(in);
        if (in_ == Framing::length) n = static_cast<size_t>(std::min<uint64_t>(n, remaining_));
        if (n > 0) {
            if (filter_) {
                if (move_filtered(in, n, out) == Step::failed) return state_;
            } else {
                framed_.aim(out, out_);
                framed_.move(in, n);
            }
            if (in_ == Framing::length) remaining_ -= n;
            consumed_ += n;
            body_bytes_ += n;
        }
        if (body_bytes_ > limit_) return state_ = Step::too_large;
        if (in_ == Framing::length && remaining_ == 0) return finish(out);
    } else {
        // Chunked: the decoder walks the input segments in place; on_data() re-frames the data.
        constexpr int kSegments = 8;
        while (evbuffer_get_length(in) > 0) {
            evbuffer_iovec seg[kSegments];
            int n = evbuffer_peek(in, -1, nullptr, seg, kSegments);
            size_t used = 0;
            bool complete = false;
            bool failed = false;
            framed_.aim(out, out_);
            for (int i = 0; i < std::min(n, kSegments) && !complete && !failed; ++i) {
                auto step = decoder_.feed({static_cast<const char*>(seg[i].iov_base), seg[i].iov_len}, *this);
                used += step.consumed;
                complete = step.status == ChunkedDecoder::Status::done;
                failed = step.status == ChunkedDecoder::Status::error || !filter_failed_.empty();
            }
            evbuffer_drain(in, used);
            consumed_ += used;
            if (failed) return state_ = Step::failed;
            if (body_bytes_ > limit_) return state_ = Step::too_large;
            if (complete) return finish(out);
        }
    }
    // The input ran dry mid-body: what the filter holds goes out now.
    if (filter_ && body_bytes_ > before) {
        framed_.aim(out, out_);
        if (!filtered(filter_->flush(framed_))) return state_ = Step::failed;
    }
    return state_;
}

BodyPump::Step BodyPump::finish_at_eof(evbuffer* out) {
    if (state_ != Step::more) return state_;
    if (in_ == Framing::until_close) return finish(out);
    return state_ = Step::failed;
}

void BodyPump::on_data(std::string_view data) {
    body_bytes_ += data.size();
    if (!filter_) {
        framed_.write(data);
    } else if (filter_failed_.empty()) {
        filtered(filter_->feed(data, framed_));
    }
}

// ---- Tunnel --------------------------------------------------------------------------------

Tunnel::Tunnel(event_base* base, BuffereventPtr client, BuffereventPtr upstream,
               std::chrono::milliseconds idle, OnClosed on_closed)
    : idle_(idle), last_activity_(Clock::now()), on_closed_(std::move(on_closed)) {
    client_ = {this, std::move(client), &upstream_};
    upstream_ = {this, std::move(upstream), &client_};
    timer_.reset(evtimer_new(base, timer_cb, this));
    arm_timer(idle_);
    for (Side* s : {&client_, &upstream_}) {
        bufferevent* bev = s->bev.get();
        bufferevent_setcb(bev, read_cb, write_cb, event_cb, s);
        bufferevent_set_timeouts(bev, nullptr, nullptr);
        bufferevent_setwatermark(bev, EV_WRITE, kLowWatermark, 0);
        bufferevent_setwatermark(bev, EV_READ, 0, 0);  // on_read() takes everything anyway
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        // Bytes that came in with the handshake are relayed from the loop, not from inside
        // the constructor (the owner is still setting the tunnel up).
        if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
            bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
}

void Tunnel::read_cb(bufferevent*, void* side) {
    auto* s = static_cast<Side*>(side);
    s->tunnel->on_read(*s);
}

void Tunnel::write_cb(bufferevent*, void* side) {
    auto* s = static_cast<Side*>(side);
    s->tunnel->on_writable(*s);
}

void Tunnel::event_cb(bufferevent*, short what, void* side) {
    auto* s = static_cast<Side*>(side);
    s->tunnel->on_event(*s, what);
}

void Tunnel::timer_cb(evutil_socket_t, short, void* self) { static_cast<Tunnel*>(self)->on_timer(); }

void Tunnel::on_read(Side& s) {
    if (closed_) return;
    last_activity_ = Clock::now();
    evbuffer* dst = bufferevent_get_output(s.peer->bev.get());
    evbuffer_add_buffer(dst, bufferevent_get_input(s.bev.get()));
    if (evbuffer_get_length(dst) >= kHighWatermark) bufferevent_disable(s.bev.get(), EV_READ);
}

void Tunnel::on_writable(Side& s) {
    if (closed_) return;
    if (closing_) {
        if (evbuffer_get_length(bufferevent_get_output(client_.bev.get())) == 0 &&
            evbuffer_get_length(bufferevent_get_output(upstream_.bev.get())) == 0)
            close();
        return;
    }
    // s's output fell below the low watermark: its peer, which feeds it, may send again.
    bufferevent_enable(s.peer->bev.get(), EV_READ);
}

void Tunnel::on_event(Side& s, short what) {
    if (closed_) return;
    if (what & BEV_EVENT_EOF) {
        on_read(s);  // what arrived with the close still goes through
        start_closing();
    } else if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        close();
    }
}

void Tunnel::start_closing() {
    closing_ = true;
    for (Side* side : {&client_, &upstream_}) {
        bufferevent_disable(side->bev.get(), EV_READ);
        // Called back once the output is empty, to finish closing.
        bufferevent_setwatermark(side->bev.get(), EV_WRITE, 0, 0);
    }
    on_writable(client_);
}

void Tunnel::on_timer() {
    if (closed_) return;
    auto quiet = Clock::now() - last_activity_;
    if (quiet >= idle_) {
        spdlog::debug("tunnel idle for {} ms: closing", idle_.count());
        close();
        return;
    }
    arm_timer(idle_ - quiet);
}

void Tunnel::arm_timer(std::chrono::steady_clock::duration in) {
    timeval tv = to_timeval(in);
    evtimer_add(timer_.get(), &tv);
}

void Tunnel::close() {
    if (closed_) return;
    closed_ = true;
    evtimer_del(timer_.get());
    for (Side* side : {&client_, &upstream_}) bufferevent_disable(side->bev.get(), EV_READ | EV_WRITE);
    on_closed_();
}

}  // namespace ne::proxy
