// The `[metrics] listen` endpoint, served by the master on its own loop: GET /metrics (the
// Prometheus text format) and GET /health (200 when every started app has a ready worker,
// 503 with the reason otherwise: a Kubernetes readiness probe). libevent's evhttp does the
// HTTP/1.1; nothing of the proxy's request path is involved, so a scrape works while the proxy
// workers are being re-forked and costs them nothing.
#pragma once

#include <event2/http.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ipc/result.h"

namespace ne::supervisor {

class MetricsServer {
public:
    struct Handlers {
        std::function<std::string()> metrics;                  // the exposition text
        std::function<std::optional<std::string>()> unready;   // why /health is 503; nullopt: 200
    };
    MetricsServer(event_base* base, Handlers h);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    // Serves on "host:port", replacing the previous address ("" stops serving). On error (the
    // message names the address) the previous address keeps being served.
    Status listen(const std::string& address);
    const std::string& address() const { return address_; }

private:
    struct HttpFree { void operator()(evhttp* h) const { evhttp_free(h); } };
    static void on_request(evhttp_request* req, void* self);
    void respond(evhttp_request* req);

    event_base* base_;
    Handlers h_;
    std::string address_;
    std::unique_ptr<evhttp, HttpFree> http_;
};

}  // namespace ne::supervisor
