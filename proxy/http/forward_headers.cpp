#include "proxy/http/forward_headers.h"

#include <array>

#include "proxy/http/append_number.h"

namespace ne::proxy {

namespace {

// The header names listed in Connection headers: hop-by-hop by declaration (RFC 9110 7.6.1).
class ConnectionTokens {
public:
    explicit ConnectionTokens(std::span<const Header> headers) {
        for (const auto& h : headers)
            if (header_is(h.name, "connection")) add_list(h.value);
    }
    bool listed(std::string_view name) const {
        for (size_t i = 0; i < n_; ++i)
            if (header_is(name, tokens_[i])) return true;
        return false;
    }

private:
    void add_list(std::string_view v) {
        while (!v.empty()) {
            size_t comma = v.find(',');
            std::string_view t = trim_ows(v.substr(0, comma));
            if (!t.empty() && n_ < tokens_.size()) tokens_[n_++] = t;
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    std::array<std::string_view, 16> tokens_;
    size_t n_ = 0;
};

bool hop_by_hop(std::string_view name) {
    return header_is(name, "connection") || header_is(name, "keep-alive") || header_is(name, "te") ||
           header_is(name, "trailer") || header_is(name, "transfer-encoding") ||
           header_is(name, "upgrade") || header_is(name, "proxy-connection");
}

void add_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

// Whether a Vary value already covers Accept-Encoding.
bool varies_on_encoding(std::string_view vary) {
    while (!vary.empty()) {
        size_t comma = vary.find(',');
        std::string_view t = trim_ows(vary.substr(0, comma));
        if (t == "*" || header_is(t, "accept-encoding")) return true;
        if (comma == std::string_view::npos) break;
        vary.remove_prefix(comma + 1);
    }
    return false;
}

void add_framing(std::string& out, Framing f, bool has_length, uint64_t length) {
    if (f == Framing::chunked) {
        out.append("Transfer-Encoding: chunked\r\n");
    } else if (f == Framing::length || (f == Framing::none && has_length)) {
        out.append("Content-Length: ");
        append_number(out, length);
        out.append("\r\n");
    }
}

}  // namespace

void write_upstream_request(const UpstreamRequest& r, std::string& out) {
    ConnectionTokens tokens(r.headers);
    auto configured = [&](std::string_view name) {
        for (const auto& s : r.set_headers)
            if (header_is(s.name, name)) return true;
        return false;
    };
    out.append(r.method).append(" ").append(r.target).append(" HTTP/1.1\r\n");
    bool has_host = false;
    for (const auto& h : r.headers) {
        if (!r.set_headers.empty() && configured(h.name)) continue;
        const bool is_host = header_is(h.name, "host");
        if (is_host && !r.host_override.empty()) continue;
        bool passed_upgrade = r.upgrade && header_is(h.name, "upgrade");
        // Host is for every recipient: a Connection option naming it does not remove it (the
        // backend would get a request without Host; found by request_fuzz).
        if (!passed_upgrade && (hop_by_hop(h.name) || (!is_host && tokens.listed(h.name)))) continue;
        has_host = has_host || is_host;
        // Regenerated below, or answered by the proxy itself (Expect).
        if (header_is(h.name, "content-length") || header_is(h.name, "x-real-ip") ||
            header_is(h.name, "x-forwarded-for") || header_is(h.name, "x-forwarded-proto") ||
            header_is(h.name, "x-request-id") || header_is(h.name, "expect"))
            continue;
        add_header(out, h.name, h.value);
    }
    // HTTP/1.1 requires a Host, and Node answers 400 without one.
    const bool own = r.set_headers.empty();
    if (own || !configured("host")) {
        if (!r.host_override.empty()) add_header(out, "Host", r.host_override);
        else if (!has_host) add_header(out, "Host", r.default_host);
    }
    if (own || !configured("x-real-ip")) add_header(out, "X-Real-IP", r.client_ip);
    if (own || !configured("x-forwarded-for")) {
        out.append("X-Forwarded-For: ");
        for (const auto& h : r.headers) {
            if (!header_is(h.name, "x-forwarded-for")) continue;
            std::string_view v = trim_ows(h.value);
            if (!v.empty()) out.append(v).append(", ");
        }
        out.append(r.client_ip).append("\r\n");
    }
    if (own || !configured("x-forwarded-proto")) add_header(out, "X-Forwarded-Proto", r.proto);
    if (own || !configured("x-request-id")) add_header(out, "X-Request-ID", r.request_id);
    for (const auto& s : r.set_headers)
        if (!s.value.empty()) add_header(out, s.name, s.value);
    if (r.upgrade) out.append("Connection: upgrade\r\n");
    add_framing(out, r.framing, false, r.content_length);
    out.append("\r\n");
}

void write_client_response(const ClientResponse& r, std::string& out) {
    ConnectionTokens tokens(r.headers);
    out.append("HTTP/1.1 ");
    append_number(out, static_cast<uint64_t>(r.status));
    out.append(" ").append(r.reason.empty() ? status_text(r.status) : r.reason).append("\r\n");
    bool vary_named = false;
    for (const auto& h : r.headers) {
        bool passed_upgrade = r.upgrade && header_is(h.name, "upgrade");
        if (!passed_upgrade && (hop_by_hop(h.name) || tokens.listed(h.name))) continue;
        if (header_is(h.name, "content-length") || header_is(h.name, "x-request-id")) continue;
        if (r.gzip && header_is(h.name, "accept-ranges")) continue;
        if (r.gzip && header_is(h.name, "etag") && !trim_ows(h.value).starts_with("W/")) {
            out.append(h.name).append(": W/").append(trim_ows(h.value)).append("\r\n");
            continue;
        }
        if (header_is(h.name, "vary") && varies_on_encoding(h.value)) vary_named = true;
        add_header(out, h.name, h.value);
    }
    if (r.gzip) out.append("Content-Encoding: gzip\r\n");
    if (r.vary_accept_encoding && !vary_named) out.append("Vary: Accept-Encoding\r\n");
    if (!r.cache_status.empty()) add_header(out, "X-Cache-Status", r.cache_status);
    if (!r.set_cookie.empty()) add_header(out, "Set-Cookie", r.set_cookie);
    if (r.extra)
        for (const auto& [name, value] : *r.extra) add_header(out, name, value);
    add_header(out, "X-Request-ID", r.request_id);
    add_framing(out, r.framing, r.has_length, r.content_length);
    if (r.upgrade)
        out.append("Connection: upgrade\r\n");
    else if (!r.keep_alive)
        out.append("Connection: close\r\n");
    else if (r.client_http10)
        out.append("Connection: keep-alive\r\n");
    out.append("\r\n");
}

std::string_view status_text(int status) {
    switch (status) {
        case 100: return "Continue";
        case 101: return "Switching Protocols";
        case 200: return "OK";
        case 201: return "Created";
        case 202: return "Accepted";
        case 204: return "No Content";
        case 206: return "Partial Content";
        case 301: return "Moved Permanently";
        case 302: return "Found";
        case 303: return "See Other";
        case 304: return "Not Modified";
        case 307: return "Temporary Redirect";
        case 308: return "Permanent Redirect";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 410: return "Gone";
        case 411: return "Length Required";
        case 413: return "Content Too Large";
        case 414: return "URI Too Long";
        case 415: return "Unsupported Media Type";
        case 429: return "Too Many Requests";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        case 505: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

}  // namespace ne::proxy
