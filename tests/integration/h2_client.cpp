#include "integration/h2_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "integration/harness.h"

namespace ne::itest::h2 {

namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kSendStall = std::chrono::seconds(5);

void put32(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

uint32_t get32(std::string_view s, size_t at) {
    if (s.size() < at + 4) return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data() + at);
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

std::string openssl_error(const std::string& what) {
    char buf[256] = "";
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    return what + ": " + buf;
}

}  // namespace

uint32_t Frame::error_code() const { return get32(payload, type == NGHTTP2_GOAWAY ? 4 : 0); }

int32_t Frame::last_stream() const { return static_cast<int32_t>(get32(payload, 0) & 0x7fffffffu); }

std::string frame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload) {
    std::string out;
    out.reserve(9 + payload.size());
    const auto len = static_cast<uint32_t>(payload.size());
    out.push_back(static_cast<char>(len >> 16));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len));
    out.push_back(static_cast<char>(type));
    out.push_back(static_cast<char>(flags));
    put32(out, static_cast<uint32_t>(stream));
    out.append(payload);
    return out;
}

std::string settings_frame(const Settings& settings) {
    std::string payload;
    for (const auto& [id, value] : settings) {
        payload.push_back(static_cast<char>(id >> 8));
        payload.push_back(static_cast<char>(id));
        put32(payload, value);
    }
    return frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_NONE, 0, payload);
}

std::string rst_stream(int32_t stream, uint32_t error_code) {
    std::string payload;
    put32(payload, error_code);
    return frame(NGHTTP2_RST_STREAM, NGHTTP2_FLAG_NONE, stream, payload);
}

std::string window_update(int32_t stream, uint32_t increment) {
    std::string payload;
    put32(payload, increment);
    return frame(NGHTTP2_WINDOW_UPDATE, NGHTTP2_FLAG_NONE, stream, payload);
}

std::string data(int32_t stream, std::string_view bytes, bool end_stream) {
    return frame(NGHTTP2_DATA, end_stream ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE, stream, bytes);
}

Fields get(const std::string& path, const std::string& authority) {
    return {{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}};
}

Client::Client(int port, const std::string& host, int rcvbuf) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_) {
        fail(std::string("socket: ") + std::strerror(errno));
        return;
    }
    if (rcvbuf > 0) ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!connect_loopback(fd_.get(), port)) {
        fail("connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
        return;
    }
    ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);

    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) {
        fail(openssl_error("SSL_CTX_new"));
        return;
    }
    static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx_.get(), kAlpn, sizeof kAlpn);
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_) {
        fail(openssl_error("SSL_new"));
        return;
    }
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    if (!rbio_ || !wbio_) {
        BIO_free(rbio_);
        BIO_free(wbio_);
        fail(openssl_error("BIO_new"));
        return;
    }
    SSL_set_bio(ssl_.get(), rbio_, wbio_);
    SSL_set_tlsext_host_name(ssl_.get(), host.c_str());
    SSL_set_connect_state(ssl_.get());

    const auto deadline = Clock::now() + std::chrono::seconds(5);
    for (;;) {
        const int r = SSL_do_handshake(ssl_.get());
        if (!flush_tls(deadline)) {
            fail("TLS handshake: the proxy closed the connection");
            return;
        }
        if (r == 1) break;
        if (SSL_get_error(ssl_.get(), r) != SSL_ERROR_WANT_READ) {
            fail(openssl_error("TLS handshake"));
            return;
        }
        if (fill(deadline) != Fill::got) {
            fail("TLS handshake: no answer");
            return;
        }
    }
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &alpn, &alpn_len);
    if (std::string_view(reinterpret_cast<const char*>(alpn), alpn_len) != "h2") {
        fail("ALPN: the proxy did not select h2");
        return;
    }

    nghttp2_hd_deflater* d = nullptr;
    nghttp2_hd_inflater* i = nullptr;
    if (nghttp2_hd_deflate_new(&d, 4096) != 0 || nghttp2_hd_inflate_new(&i) != 0) {
        fail("HPACK: out of memory");
        return;
    }
    deflater_.reset(d);
    inflater_.reset(i);
}

void Client::fail(std::string what) {
    if (error_.empty()) error_ = std::move(what);
    closed_ = true;
}

bool Client::start(const Settings& settings, bool ack_settings) {
    ack_settings_ = ack_settings;
    return send(std::string(NGHTTP2_CLIENT_MAGIC, NGHTTP2_CLIENT_MAGIC_LEN) + settings_frame(settings));
}

std::string Client::header_block(const Fields& fields) {
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : fields)
        nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                       reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                       NGHTTP2_NV_FLAG_NONE});
    std::string out(nghttp2_hd_deflate_bound(deflater_.get(), nva.data(), nva.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(deflater_.get(), reinterpret_cast<uint8_t*>(out.data()), out.size(),
                                            nva.data(), nva.size());
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
}

std::string Client::headers(int32_t stream, const Fields& fields, bool end_stream) {
    const uint8_t flags = NGHTTP2_FLAG_END_HEADERS | (end_stream ? NGHTTP2_FLAG_END_STREAM : 0);
    return frame(NGHTTP2_HEADERS, flags, stream, header_block(fields));
}

bool Client::send(std::string_view bytes) {
    if (closed_) return false;
    const auto deadline = Clock::now() + kSendStall;
    // Record-sized pieces, each out on the socket before the next is encrypted: a flood of
    // megabytes is never held whole.
    for (size_t at = 0; at < bytes.size();) {
        const size_t n = std::min<size_t>(bytes.size() - at, 16384);
        if (SSL_write(ssl_.get(), bytes.data() + at, static_cast<int>(n)) <= 0) {
            fail(openssl_error("SSL_write"));
            return false;
        }
        at += n;
        if (!flush_tls(deadline)) return false;
    }
    return true;
}

bool Client::flush_tls(Clock::time_point deadline) {
    char buf[16384 + 512];
    for (;;) {
        const int n = BIO_read(wbio_, buf, sizeof buf);
        if (n <= 0) return true;
        for (int sent = 0; sent < n;) {
            const ssize_t w = ::send(fd_.get(), buf + sent, static_cast<size_t>(n - sent), MSG_NOSIGNAL);
            if (w > 0) {
                sent += static_cast<int>(w);
                continue;
            }
            if (w < 0 && errno == EINTR) continue;
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                pollfd p{fd_.get(), POLLOUT, 0};
                if (::poll(&p, 1, remaining_ms(deadline)) > 0) continue;
            }
            closed_ = true;  // reset, EPIPE, or a proxy that stopped reading for good
            return false;
        }
    }
}

Client::Fill Client::fill(Clock::time_point deadline) {
    if (eof_) return Fill::eof;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n > 0) {
            BIO_write(rbio_, buf, static_cast<int>(n));
            return Fill::got;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_.get(), POLLIN, 0};
            const int ms = remaining_ms(deadline);
            if (ms == 0 || ::poll(&p, 1, ms) == 0) return Fill::timeout;
            continue;
        }
        eof_ = true;  // EOF or reset
        return Fill::eof;
    }
}

bool Client::read_until(const std::function<bool(const Frame&)>& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        // Whole frames first: they may already satisfy `done`.
        while (plain_.size() >= 9) {
            const size_t len = (size_t{static_cast<unsigned char>(plain_[0])} << 16) |
                               (size_t{static_cast<unsigned char>(plain_[1])} << 8) |
                               static_cast<unsigned char>(plain_[2]);
            if (plain_.size() < 9 + len) break;
            Frame f;
            f.type = static_cast<uint8_t>(plain_[3]);
            f.flags = static_cast<uint8_t>(plain_[4]);
            f.stream = static_cast<int32_t>(get32(plain_, 5) & 0x7fffffffu);
            f.payload = plain_.substr(9, len);
            plain_.erase(0, 9 + len);
            const size_t before = frames.size();
            take(std::move(f));
            for (size_t k = before; k < frames.size(); ++k)
                if (done(frames[k])) return true;
        }
        if (closed_ && eof_) return false;
        char buf[16384];
        const int n = SSL_read(ssl_.get(), buf, sizeof buf);
        if (n > 0) {
            plain_.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (SSL_get_error(ssl_.get(), n) != SSL_ERROR_WANT_READ) {
            closed_ = eof_ = true;  // close_notify, or an error
            continue;
        }
        switch (fill(deadline)) {
        case Fill::got: break;
        case Fill::timeout: return false;
        case Fill::eof: closed_ = true; break;
        }
    }
}

void Client::take(Frame f) {
    if (f.type == NGHTTP2_SETTINGS && !(f.flags & NGHTTP2_FLAG_ACK) && ack_settings_)
        send(frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, {}));
    if (f.type == NGHTTP2_PING && !(f.flags & NGHTTP2_FLAG_ACK)) send(frame(NGHTTP2_PING, NGHTTP2_FLAG_ACK, 0, f.payload));
    if (f.type == NGHTTP2_HEADERS) {
        std::string_view p = f.payload;
        size_t pad = 0;
        if ((f.flags & NGHTTP2_FLAG_PADDED) && !p.empty()) {
            pad = static_cast<unsigned char>(p[0]);
            p.remove_prefix(1);
        }
        if (f.flags & NGHTTP2_FLAG_PRIORITY) p.remove_prefix(std::min<size_t>(5, p.size()));
        block_.assign(p.substr(0, p.size() - std::min(pad, p.size())));
        if (!(f.flags & NGHTTP2_FLAG_END_HEADERS)) {
            open_headers_ = std::move(f);
            return;
        }
        f.fields = decode(block_);
    } else if (f.type == NGHTTP2_CONTINUATION && open_headers_) {
        block_.append(f.payload);
        if (!(f.flags & NGHTTP2_FLAG_END_HEADERS)) return;
        f = std::move(*open_headers_);
        open_headers_.reset();
        f.flags |= NGHTTP2_FLAG_END_HEADERS;
        f.fields = decode(block_);
    }
    frames.push_back(std::move(f));
}

Fields Client::decode(std::string_view block) {
    Fields out;
    const auto* in = reinterpret_cast<const uint8_t*>(block.data());
    size_t left = block.size();
    for (;;) {
        nghttp2_nv nv;
        int flags = 0;
        const ssize_t n = nghttp2_hd_inflate_hd2(inflater_.get(), &nv, &flags, in, left, 1);
        if (n < 0) {
            out.emplace_back(":hpack-error", nghttp2_strerror(static_cast<int>(n)));
            return out;
        }
        in += n;
        left -= static_cast<size_t>(n);
        if (flags & NGHTTP2_HD_INFLATE_EMIT)
            out.emplace_back(std::string(reinterpret_cast<const char*>(nv.name), nv.namelen),
                             std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen));
        if (flags & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(inflater_.get());
            return out;
        }
        if (n == 0 && left == 0) return out;
    }
}

Exchange Client::exchange(int32_t stream) const {
    Exchange e;
    for (const Frame& f : frames) {
        if (f.stream != stream) continue;
        if (f.type == NGHTTP2_HEADERS) {
            for (const auto& [name, value] : f.fields) {
                if (name != ":status") continue;
                const int status = std::atoi(value.c_str());
                if (status < 200) e.informational.push_back(status);
                else e.status = status;
            }
        } else if (f.type == NGHTTP2_DATA) {
            std::string_view p = f.payload;
            if ((f.flags & NGHTTP2_FLAG_PADDED) && !p.empty()) {
                const size_t pad = static_cast<unsigned char>(p[0]);
                p.remove_prefix(1);
                p.remove_suffix(std::min(pad, p.size()));
            }
            e.body.append(p);
        } else if (f.type == NGHTTP2_RST_STREAM) {
            e.reset = f.error_code();
        }
        if ((f.type == NGHTTP2_HEADERS || f.type == NGHTTP2_DATA) && (f.flags & NGHTTP2_FLAG_END_STREAM)) e.ended = true;
    }
    return e;
}

Exchange Client::read_exchange(int32_t stream, std::chrono::milliseconds timeout) {
    const Exchange so_far = exchange(stream);
    if (!so_far.ended && !so_far.reset)
        read_until(
            [&](const Frame& f) {
                if (f.stream != stream) return false;
                if (f.type == NGHTTP2_RST_STREAM) return true;
                return (f.type == NGHTTP2_HEADERS || f.type == NGHTTP2_DATA) && (f.flags & NGHTTP2_FLAG_END_STREAM);
            },
            timeout);
    return exchange(stream);
}

bool Client::wait_closed(std::chrono::milliseconds timeout) {
    read_until([](const Frame&) { return false; }, timeout);
    return closed_;
}

const Frame* Client::goaway() const {
    for (const Frame& f : frames)
        if (f.type == NGHTTP2_GOAWAY) return &f;
    return nullptr;
}

}  // namespace ne::itest::h2
