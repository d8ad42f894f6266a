// H2Session's responses: a stream's HTTP/1.1 answer from its ClientConn read back as HEADERS,
// DATA and trailing HEADERS, and the stream's end. The connection and the requests are in
// session.cpp.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "proxy/h2/stream.h"

namespace ne::proxy {

// ---- responses ----------------------------------------------------------------------------

void H2Session::stream_read_cb(bufferevent*, void* stream) {
    auto* s = static_cast<Stream*>(stream);
    H2Session& h = s->session;
    if (h.closed_) return;
    try {
        h.read_response(*s);
        h.flush();
    } catch (const std::exception& e) {
        spdlog::error("HTTP/2 stream {} on {}: {}", s->id, h.facts_.listen, e.what());
        h.reset(*s, NGHTTP2_INTERNAL_ERROR);
        h.flush();
    }
}

void H2Session::read_response(Stream& s) {
    evbuffer* in = bufferevent_get_input(s.end.get());
    while (!s.head_sent) {
        const size_t len = evbuffer_get_length(in);
        if (len == 0) return;
        const size_t n = std::min(len, h2::kResponseLimits.max_target + h2::kResponseLimits.max_header_bytes);
        const char* base = reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ev_ssize_t>(n)));
        const auto progress = s.response.parse_head({base, n});
        if (progress == MessageParser::Progress::need_more && n == len) return;  // more arrives
        if (progress != MessageParser::Progress::head_complete) {
            reset(s, NGHTTP2_INTERNAL_ERROR);  // malformed, or larger than any head we write
            return;
        }
        if (s.response.status() < 200) {
            // The ClientConn's answer to `expect: 100-continue` (it sends it once the backend
            // is reached): the client waits for it before sending the body. Other 1xx carry
            // nothing HTTP/2 needs.
            if (s.response.status() == 100) {
                const nghttp2_nv status = h2::nv(":status", "100");
                nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, s.id, nullptr, &status, 1, nullptr);
            }
            evbuffer_drain(in, s.response.head_size());
            s.response.begin(s.method == "HEAD");
            continue;
        }
        if (!submit_response_head(s)) return;
    }
    if (!s.body_done) {
        const BodyPump::Step step = s.pump.pump(in, s.body.get());
        if (step == BodyPump::Step::failed || step == BodyPump::Step::too_large) {
            reset(s, NGHTTP2_INTERNAL_ERROR);
            return;
        }
        s.body_done = step == BodyPump::Step::done;
    }
    if (!s.paused && evbuffer_get_length(s.body.get()) >= h2::kStreamHigh) {
        s.paused = true;  // read_body() resumes below the low watermark
        bufferevent_disable(s.end.get(), EV_READ);
    }
    if (evbuffer_get_length(s.body.get()) > 0 || s.body_done) nghttp2_session_resume_data(session_.get(), s.id);
}

bool H2Session::submit_response_head(Stream& s) {
    const MessageParser& r = s.response;
    const int status = r.status();
    // llhttp accepts only three-digit status codes; the modulo tells the compiler so.
    std::snprintf(s.status, sizeof s.status, "%03u", static_cast<unsigned>(status) % 1000u);
    const auto headers = r.headers();
    size_t names = 0;
    for (const Header& hd : headers) names += hd.name.size();
    scratch_.clear();
    scratch_.reserve(names);  // the views below point into it: no reallocation after this
    std::vector<nghttp2_nv> nva;
    nva.reserve(headers.size() + 1);
    nva.push_back(h2::nv(":status", s.status));
    for (const Header& hd : headers) {
        if (h2::connection_specific(hd.name)) continue;
        const size_t at = scratch_.size();
        for (char c : hd.name) scratch_.push_back(ascii_lower(c));
        nva.push_back(h2::nv(std::string_view(scratch_).substr(at, hd.name.size()), hd.value));
    }
    const Framing framing = r.framing();
    // An empty body ends the stream with the HEADERS: a gRPC "trailers-only" response must
    // be that one frame.
    const bool has_body = (framing == Framing::length && r.content_length() > 0) || framing == Framing::chunked ||
                          framing == Framing::until_close;
    s.pump.start(framing, r.content_length(), Framing::length);
    s.head_sent = true;
    s.body_done = !has_body;
    nghttp2_data_provider body{};
    body.read_callback = read_body;
    // nghttp2 copies the fields; the values are views into the head, drained only after.
    const int rv = nghttp2_submit_response(session_.get(), s.id, nva.data(), nva.size(), has_body ? &body : nullptr);
    evbuffer_drain(bufferevent_get_input(s.end.get()), r.head_size());
    if (rv != 0) {
        spdlog::debug("HTTP/2 stream {}: {}", s.id, nghttp2_strerror(rv));
        reset(s, NGHTTP2_INTERNAL_ERROR);
        return false;
    }
    return true;
}

ssize_t H2Session::read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t len, uint32_t* flags,
                             nghttp2_data_source*, void* self) {
    auto* h = static_cast<H2Session*>(self);
    Stream* s = h->find(id);
    if (!s) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const int n = evbuffer_remove(s->body.get(), buf, len);
    if (n < 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const size_t left = evbuffer_get_length(s->body.get());
    if (s->paused && left < h2::kStreamLow && s->end) {
        s->paused = false;
        bufferevent_enable(s->end.get(), EV_READ);
    }
    if (left == 0 && s->body_done) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (!s->pump.trailers().empty() && h->submit_trailers(*s)) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        return n;
    }
    return n == 0 ? NGHTTP2_ERR_DEFERRED : n;
}

bool H2Session::submit_trailers(Stream& s) {
    // The ClientConn wrote them (chunked.h checked each line).
    const std::vector<Header> fields = trailer_fields(s.pump.trailers());
    size_t names = 0;
    for (const Header& f : fields) names += f.name.size();
    scratch_.clear();
    scratch_.reserve(names);  // the views below point into it: no reallocation after this
    std::vector<nghttp2_nv> nva;
    nva.reserve(fields.size());
    for (const Header& f : fields) {
        const size_t at = scratch_.size();
        for (char c : f.name) scratch_.push_back(ascii_lower(c));
        nva.push_back(h2::nv(std::string_view(scratch_).substr(at, f.name.size()), f.value));
    }
    return !nva.empty() && nghttp2_submit_trailer(session_.get(), s.id, nva.data(), nva.size()) == 0;
}

void H2Session::stream_event_cb(bufferevent*, short what, void* stream) {
    auto* s = static_cast<Stream*>(stream);
    H2Session& h = s->session;
    if (h.closed_) return;
    // The ClientConn closed its end: what it sent before closing is read first. After a whole
    // response that is its keep-alive close; before, the client must not wait for the rest.
    // Request bytes it will never read are credited back, or the connection's window shrinks.
    s->client_gone = true;
    if (s->unconsumed > 0) {
        nghttp2_session_consume(h.session_.get(), s->id, s->unconsumed);
        s->unconsumed = 0;
    }
    h.read_response(*s);
    if (s->head_sent && s->body_done) {
        h.flush();
        return;
    }
    if (s->head_sent) {
        if (s->pump.finish_at_eof(s->body.get()) == BodyPump::Step::done) {
            s->body_done = true;
            nghttp2_session_resume_data(h.session_.get(), s->id);
            h.flush();
            return;
        }
    }
    h.reset(*s, NGHTTP2_INTERNAL_ERROR);
    h.flush();
}

void H2Session::reset(Stream& s, uint32_t error_code) {
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, s.id, error_code);
}

int H2Session::on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* self) {
    auto* h = static_cast<H2Session*>(self);
    auto it = h->streams_.find(id);
    if (it == h->streams_.end()) return 0;
    std::unique_ptr<Stream> s = std::move(it->second);
    h->streams_.erase(it);
    if (s->unconsumed > 0) nghttp2_session_consume_connection(h->session_.get(), s->unconsumed);
    if (s->end) {
        // The ClientConn learns the exchange is over (a keep-alive wait ends, a request still
        // in progress is abandoned); our end is freed from the loop, outside its callbacks.
        end_pair(s->end.get());
        bufferevent_setcb(s->end.get(), nullptr, nullptr, nullptr, nullptr);
        bufferevent_disable(s->end.get(), EV_READ | EV_WRITE);
    }
    h->rt_.reaper.dispose(std::move(s));
    if (h->streams_.empty() && !h->closed_ && !h->ending_) h->arm_idle_timer();
    return 0;
}

}  // namespace ne::proxy
