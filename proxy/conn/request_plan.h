// What happens to one request, decided from its parsed head, the snapshot's routing and the
// connection's facts before a byte is answered: the whole policy of a request (limits,
// redirects, rate limiting, `return`, static files, proxying, upgrades, keep-alive) in one
// pure function, so that every rule is unit-tested without sockets. Locations are matched and
// try_files followed here too (redirects and named fallbacks included). ClientConn executes the
// plan. State that lives outside the request (the shared rate-limit zone, the clock) comes
// in through PlanContext. The one look outside is a static file's: StaticFiles::plan opens
// the file, so that the plan holds the very file it answers with (no window between the
// check and the use).
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/http/parser.h"
#include "proxy/limits/rate_limit.h"
#include "proxy/log/request_record.h"
#include "proxy/route/variables.h"
#include "proxy/snapshot.h"
#include "proxy/static/static_files.h"

namespace ne::proxy {

// The connection's part of a request.
struct RequestFacts {
    const MessageParser* head = nullptr;  // a complete request head
    std::string_view listen;              // the listener's address string
    std::string_view scheme = "http";     // "https" behind TLS
    std::string_view remote_addr;         // $remote_addr; the default rate_limit key
    std::string_view request_id;          // $request_id (given or made)
    int served = 0;                       // requests answered on this connection before this one
    bool quitting = false;                // the connection or its worker is quitting
};

// What the planner asks of the world around the request.
class PlanContext {
public:
    // Counts one request of `key` in `rule`'s bucket. nullopt when it cannot be counted (no
    // zone, a lock error): the request passes, as nginx lets it through.
    virtual std::optional<Decision> rate(const RateRule& rule, std::string_view key) = 0;
    // For a static file's Expires. Asked only when a file is planned.
    virtual std::time_t now() = 0;
    // The key authorization of an ACME http-01 challenge being validated; "" when `token` is
    // not one.
    virtual std::string_view acme_http01(std::string_view) { return {}; }

protected:
    ~PlanContext() = default;
};

struct RequestPlan {
    enum class Action : uint8_t {
        respond,      // the proxy's own answer: `status` with headers() (Location, Retry-After)
        ret,          // the location's `return`: `status` is its code; `text` the expanded
                      // body, or for a redirect the Location in headers()
        static_file,  // `files` says which answer (the file, a 304, or its own 4xx/5xx)
        proxy,        // to route.pool (from the cache first when `cache`)
        tunnel,       // proxy asking for the WebSocket upgrade; a 101 turns it into a tunnel
    };

    RequestPlan() = default;
    RequestPlan(const RequestPlan&) = delete;  // headers() views its own text
    RequestPlan& operator=(const RequestPlan&) = delete;

    Action action = Action::respond;
    int status = 0;                         // respond: the answer; ret: the code
    std::string text;                       // ret / redirect_https; reused across requests
    std::array<char, 12> retry_after{};     // a rate_limit rejection's Retry-After
    std::optional<StaticPlan> files;
    int server = -1;                        // the server answering (its headers, limits), -1: none
    const config::Location* location = nullptr;
    LocationRoute route{};
    std::string_view authority;             // an absolute-form target's: the Host to forward
    uint64_t delay_ms = 0;                  // rate_limit: hold the request this long first
    RequestRecord::RateLimit rate = RequestRecord::RateLimit::none;
    bool keep_alive = false;                // the connection may stay open after the answer
    bool head_request = false;              // HEAD: the answer has no body
    bool http10 = false;
    bool idempotent = false;                // may be retried on another backend
    bool expect_continue = false;           // proxy: send 100 Continue once a backend is connected
    bool cache = false;                     // proxy/tunnel: the location caches responses
    // The path locations were matched against (decoded, normalised; after a try_files
    // redirect, the new one), and the groups of the regex location that matched it.
    std::string_view uri;
    config::Captures captures;
    int redirects = 0;                      // try_files redirects and named fallbacks taken

    // Location (redirect_https, a `return` redirect) or Retry-After, else empty.
    std::span<const Header> headers() const { return {&header_, header_.name.empty() ? 0u : 1u}; }
    // Forgets the last request, keeping the text's capacity.
    void clear();

    // nginx's limit on internal redirects: the 11th is a 500 (a try_files loop).
    static constexpr int kMaxRedirects = 10;

private:
    friend void plan_request(const RequestFacts&, const Snapshot*, PlanContext&, RequestPlan&);
    friend struct Planner;
    Header header_{};
    // Reused across requests, so that planning allocates only on the uncommon paths.
    std::string normalized_;                // normalize_uri's buffer
    std::string scratch_;                   // a template being expanded (try_files, alias)
    std::string redirected_;                // the uri after an internal redirect
};

// The timeouts and limits of a request no server claims (no config yet, an address no server
// listens on).
extern const config::Server kUnclaimedServer;

// Fills `plan` for the request `facts.head`. `snap` null: no config yet (503).
void plan_request(const RequestFacts& facts, const Snapshot* snap, PlanContext& context, RequestPlan& plan);

// Where request_vars() writes the normalised $host.
using HostBuffer = std::array<char, 256>;

// $host, $request_uri, ... of a request on `server`, for `return` and `proxy_headers`.
// `host_buf` must outlive the result.
RequestVars request_vars(const RequestFacts& facts, const config::Server& server, std::string_view authority,
                         HostBuffer& host_buf);

}  // namespace ne::proxy
