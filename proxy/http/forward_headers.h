// The heads the proxy writes (pure): the request to the upstream and the response to the
// client. Hop-by-hop headers (Connection and every header it names, Keep-Alive, TE, Trailer,
// Transfer-Encoding, Upgrade unless tunnelling, Proxy-Connection) never cross; framing is
// regenerated for the next hop (Content-Length when known, else chunked encoded by us).
// Output is appended to a caller-owned string that is reused from request to request.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/parser.h"

namespace ne::proxy {

struct UpstreamRequest {
    std::string_view method;
    std::string_view target;
    std::span<const Header> headers;      // as the client sent them
    std::string_view host_override;       // Host replacing the client's (absolute-form target)
    std::string_view default_host;        // Host to send when the client sent none (HTTP/1.0)
    std::string_view client_ip;           // X-Real-IP, appended to X-Forwarded-For
    std::string_view proto = "http";      // X-Forwarded-Proto
    std::string_view request_id;          // X-Request-ID (kept or generated)
    bool upgrade = false;                 // tunnel: pass Upgrade, send "Connection: upgrade"
    Framing framing = Framing::none;      // none, length or chunked
    uint64_t content_length = 0;
    // The location's `proxy_headers`, expanded (nginx's proxy_set_header): each replaces the
    // client's header of that name and the one the proxy would add (Host, X-Real-IP, ...);
    // an empty value removes the header.
    std::span<const Header> set_headers;
};

// "GET /x HTTP/1.1" + kept headers + X-Real-IP, X-Forwarded-For, X-Forwarded-Proto,
// X-Request-ID + set_headers + framing + blank line. Always HTTP/1.1, keep-alive (the default). Expect is
// dropped: the proxy answers 100-continue itself when it starts reading the body.
void write_upstream_request(const UpstreamRequest& r, std::string& out);

struct ClientResponse {
    int status = 200;
    std::string_view reason;              // empty: the standard phrase
    std::span<const Header> headers;      // as the upstream sent them
    std::string_view request_id;
    const std::map<std::string, std::string>* extra = nullptr;  // the server's `headers`
    Framing framing = Framing::none;      // none, length, chunked or until_close
    // With framing none (HEAD, 304), a Content-Length the upstream sent is passed on as-is:
    // it describes the representation, not this message.
    bool has_length = false;
    uint64_t content_length = 0;
    bool keep_alive = true;               // false: "Connection: close"
    bool client_http10 = false;           // a kept-alive 1.0 client needs it said
    bool upgrade = false;                 // 101: pass Upgrade, send "Connection: upgrade"
    // The proxy compresses the body (gzip.h): "Content-Encoding: gzip", a strong ETag made
    // weak (W/), no Accept-Ranges (ranges of the identity body no longer apply).
    bool gzip = false;
    // "Vary: Accept-Encoding" unless the response's own Vary already names it (or is "*").
    bool vary_accept_encoding = false;
    std::string_view cache_status;        // X-Cache-Status (cache_policy.h), "" for none
    std::string_view set_cookie;          // one more Set-Cookie (the sticky cookie), "" for none
};

void write_client_response(const ClientResponse& r, std::string& out);

// The reason phrase for status codes the proxy produces or passes on; "Unknown" otherwise.
std::string_view status_text(int status);

}  // namespace ne::proxy
