#include "proxy/conn/local_response.h"

#include <vector>

#include "proxy/http/forward_headers.h"

namespace ne::proxy {

void write_local_response(const LocalResponse& r, std::string& out) {
    const std::string_view text = status_text(r.status);
    const std::string code = std::to_string(r.status);
    const bool bodiless = r.status == 204 || r.status == 304;
    std::string builtin;
    std::string_view body = r.page;
    std::string_view type = r.content_type;
    if (body.empty() && !bodiless) {
        type = "text/html; charset=utf-8";
        builtin = "<html><head><title>" + code + " " + std::string(text) + "</title></head><body><h1>" +
                  code + " " + std::string(text) + "</h1></body></html>\n";
        body = builtin;
    }
    std::vector<Header> headers;
    if (!bodiless) headers.push_back(Header{"Content-Type", type});
    if (r.no_store) headers.push_back(Header{"Cache-Control", "no-store"});
    headers.insert(headers.end(), r.headers.begin(), r.headers.end());
    ClientResponse head;
    head.status = r.status;
    head.headers = headers;
    head.request_id = r.request_id;
    head.extra = r.extra;
    head.framing = r.head_request || bodiless ? Framing::none : Framing::length;
    head.has_length = !bodiless;
    head.content_length = body.size();
    head.keep_alive = r.keep_alive;
    head.client_http10 = r.client_http10;
    write_client_response(head, out);
    if (!r.head_request && !bodiless) out.append(body);
}

int grpc_status_for(int http_status) {
    switch (http_status) {
        case 400: return 13;
        case 401: return 16;
        case 403: return 7;
        case 404: return 12;
        case 429:
        case 502:
        case 503:
        case 504: return 14;
        default: return 2;
    }
}

void write_grpc_error(const LocalResponse& r, std::string& out) {
    const std::string code = std::to_string(grpc_status_for(r.status));
    // grpc-message is percent-encoded text; the status phrase needs none.
    const std::string message = std::to_string(r.status) + " " + std::string(status_text(r.status));
    const std::vector<Header> headers{{"Content-Type", "application/grpc"}, {"grpc-status", code},
                                      {"grpc-message", message}};
    ClientResponse head;
    head.status = 200;
    head.headers = headers;
    head.request_id = r.request_id;
    head.extra = r.extra;
    head.framing = Framing::length;
    head.has_length = true;
    head.content_length = 0;
    head.keep_alive = r.keep_alive;
    head.client_http10 = r.client_http10;
    write_client_response(head, out);
}

}  // namespace ne::proxy
