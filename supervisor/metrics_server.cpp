#include "supervisor/metrics_server.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <exception>

#include "ipc/net.h"

namespace ne::supervisor {

MetricsServer::MetricsServer(event_base* base, Handlers h) : base_(base), h_(std::move(h)) {}

MetricsServer::~MetricsServer() = default;

Status MetricsServer::listen(const std::string& address) {
    if (address == address_ && (http_ || address.empty())) return {};
    if (address.empty()) {
        http_.reset();
        address_.clear();
        return {};
    }
    auto hp = net::split_host_port(address);
    if (!hp) return hp.error().wrap("[metrics] listen");
    auto fd = net::listen_tcp(hp->host, hp->port, 64);
    if (!fd) return fd.error().wrap("[metrics] listen");
    std::unique_ptr<evhttp, HttpFree> http(evhttp_new(base_));
    if (!http) return Error{"[metrics] listen " + address + ": cannot create the HTTP server"};
    evhttp_set_allowed_methods(http.get(), EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(http.get(), on_request, this);
    evhttp_set_timeout(http.get(), 10);
    if (!evhttp_accept_socket_with_handle(http.get(), fd->get()))
        return Error{"[metrics] listen " + address + ": cannot accept on the socket"};
    (void)fd->release();  // the evhttp's listener closes it
    http_ = std::move(http);
    address_ = address;
    spdlog::info("metrics: serving /metrics and /health on {}", address);
    return {};
}

void MetricsServer::on_request(evhttp_request* req, void* self) {
    // No exception may cross libevent's frame.
    try {
        static_cast<MetricsServer*>(self)->respond(req);
    } catch (const std::exception& e) {
        spdlog::error("metrics: {}", e.what());
        evhttp_send_error(req, HTTP_INTERNAL, nullptr);
    }
}

void MetricsServer::respond(evhttp_request* req) {
    const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    std::string_view p = path ? path : "";
    evkeyvalq* headers = evhttp_request_get_output_headers(req);
    std::unique_ptr<evbuffer, void (*)(evbuffer*)> body(evbuffer_new(), evbuffer_free);
    if (p == "/metrics") {
        std::string text = h_.metrics();
        evhttp_add_header(headers, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        evbuffer_add(body.get(), text.data(), text.size());
        evhttp_send_reply(req, HTTP_OK, "OK", body.get());
    } else if (p == "/health") {
        auto why = h_.unready();
        std::string text = why ? "unready: " + *why + "\n" : "ok\n";
        evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8");
        evhttp_add_header(headers, "Cache-Control", "no-store");
        evbuffer_add(body.get(), text.data(), text.size());
        evhttp_send_reply(req, why ? 503 : HTTP_OK, why ? "Service Unavailable" : "OK", body.get());
    } else {
        evhttp_send_error(req, HTTP_NOTFOUND, "try /metrics or /health");
    }
}

}  // namespace ne::supervisor
