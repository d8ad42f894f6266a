// Responses the proxy makes itself (400, 404, 413, 502, 503, 504, ..., and `return`): a small
// HTML page (or the given body), the server's `headers`, X-Request-ID echoed, like every
// proxied response. 204 and 304 carry no body.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/parser.h"

namespace ne::proxy {

struct LocalResponse {
    int status = 500;
    std::string_view request_id;
    const std::map<std::string, std::string>* extra = nullptr;  // the server's `headers`
    bool keep_alive = false;
    bool client_http10 = false;
    bool head_request = false;           // HEAD: the headers of the page, no body
    std::string_view page;               // [proxy] error_page for 502/503/504, a `return` text; "" = built in
    std::string_view content_type = "text/html; charset=utf-8";  // of `page`
    std::span<const Header> headers;     // besides the page's own (a static 405's Allow, ...)
    bool no_store = true;                // errors are not cached; a `return` answer may be
};

void write_local_response(const LocalResponse& r, std::string& out);

// The same answer to a gRPC client (a location with `grpc = true`): `r.status` becomes a
// trailers-only response, HTTP 200 with grpc-status (grpc_status_for) and grpc-message, so the
// client reports a status rather than a protocol error. No page.
void write_grpc_error(const LocalResponse& r, std::string& out);

// gRPC's mapping of an HTTP status to its own codes (grpc's doc/http-grpc-status-mapping.md):
// 400 INTERNAL (13), 401 UNAUTHENTICATED (16), 403 PERMISSION_DENIED (7), 404 UNIMPLEMENTED
// (12), 429, 502, 503 and 504 UNAVAILABLE (14), anything else UNKNOWN (2).
int grpc_status_for(int http_status);

// Whether [proxy] error_page replaces the built-in page for this status.
inline bool uses_error_page(int status) { return status == 502 || status == 503 || status == 504; }

}  // namespace ne::proxy
