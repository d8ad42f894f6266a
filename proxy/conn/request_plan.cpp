#include "proxy/conn/request_plan.h"

#include <charconv>

#include "proxy/http/forward_headers.h"
#include "proxy/route/router.h"
#include "proxy/route/uri.h"
#include "proxy/tls/acme_answers.h"

namespace ne::proxy {

const config::Server kUnclaimedServer{};

namespace {

bool idempotent_method(llhttp_method_t m) {
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_PUT || m == HTTP_DELETE;
}

StaticRequest static_request(const MessageParser& p) {
    return {p.method_name(), p.target(), p.header("if-none-match"), p.header("if-modified-since"),
            p.header("range"), p.header("if-range")};
}

void answer(RequestPlan& plan, int status) {
    plan.action = RequestPlan::Action::respond;
    plan.status = status;
}

// CONNECT and an announced body over the limit: what follows the head is not a request whose
// start can be found, so the connection closes after the answer.
void refuse(RequestPlan& plan, int status) {
    answer(plan, status);
    plan.keep_alive = false;
}

// nginx checks client_max_body_size in each location the request enters (the server's when it
// enters none); a body announced larger is refused before a byte of it is read.
bool announced_too_large(const MessageParser& head, const config::Server& srv, const config::Location* loc) {
    return head.framing() == Framing::length && head.content_length() > config::body_limit(srv, loc);
}

}  // namespace

void RequestPlan::clear() {
    action = Action::respond;
    status = 0;
    text.clear();
    files.reset();
    server = -1;
    location = nullptr;
    route = {};
    authority = {};
    delay_ms = 0;
    rate = RequestRecord::RateLimit::none;
    keep_alive = head_request = http10 = idempotent = expect_continue = cache = false;
    uri = {};
    captures.clear();
    redirects = 0;
    header_ = {};
}

RequestVars request_vars(const RequestFacts& facts, const config::Server& server, std::string_view authority,
                         HostBuffer& host_buf) {
    std::string_view host = authority.empty() ? facts.head->header("host") : authority;
    if (host.empty()) host = server.server_name.empty() ? std::string_view{} : std::string_view(server.server_name.front());
    RequestVars v;
    v.scheme = facts.scheme;
    v.host = normalize_host(host, host_buf.data(), host_buf.size());
    v.target = split_target(facts.head->target()).origin;
    v.remote_addr = facts.remote_addr;
    v.request_id = facts.request_id;
    const size_t colon = facts.listen.rfind(':');
    v.server_port = colon == std::string_view::npos ? std::string_view{} : facts.listen.substr(colon + 1);
    return v;
}

namespace {

// Counts the request in its location's bucket: false when it is rejected (planned as such).
bool admit(const RequestFacts& f, const RateRule& rule, PlanContext& context, RequestPlan& plan,
           Header& retry_after) {
    const std::string_view key = rule.header.empty() ? f.remote_addr : f.head->header(rule.header);
    if (key.empty()) return true;  // nginx: an empty key is not limited
    const std::optional<Decision> d = context.rate(rule, key);
    if (!d) return true;
    if (d->reject) {
        plan.rate = RequestRecord::RateLimit::rejected;
        auto [end, ec] = std::to_chars(plan.retry_after.data(), plan.retry_after.data() + plan.retry_after.size() - 1,
                                       d->retry_after_s);
        *end = '\0';
        retry_after = {"Retry-After", plan.retry_after.data()};
        answer(plan, rule.status);
        return false;
    }
    plan.delay_ms = d->delay_ms;
    plan.rate = d->delay_ms > 0 ? RequestRecord::RateLimit::delayed : RequestRecord::RateLimit::passed;
    return true;
}

}  // namespace

// The steps of plan_request() after the server is known: the location (again after a try_files
// redirect or fallback), its limits, `return`, try_files, static files, the proxy.
struct Planner {
    const RequestFacts& f;
    const Snapshot& snap;
    const config::Server& srv;
    PlanContext& context;
    RequestPlan& plan;

    RequestVars vars(HostBuffer& host) const {
        RequestVars v = request_vars(f, srv, plan.authority, host);
        v.uri = plan.uri;
        v.captures = &plan.captures;
        return v;
    }

    // Expands `t` into plan.scratch_.
    std::string_view expand_scratch(const config::Template& t) {
        HostBuffer host;
        plan.scratch_.clear();
        expand(t, vars(host), plan.scratch_);
        return plan.scratch_;
    }

    void enter(int li) {
        plan.location = &srv.locations[static_cast<size_t>(li)];
        plan.route = snap.locations[static_cast<size_t>(plan.server)][static_cast<size_t>(li)];
    }

    // What try_files decides. True when the plan is made; false: go on with the location that
    // enter() chose (a redirect or a named fallback).
    bool try_files(const MessageParser& head, bool readable, int normalize_status) {
        const LocationPlan& lp = *plan.route.plan;
        if (normalize_status != 0) {
            answer(plan, normalize_status);  // no file can be tried for a path that does not decode
            return true;
        }
        // Other methods than GET and HEAD skip the files, as with root + app.
        if (plan.route.files && readable) {
            for (const auto& element : lp.try_files) {
                const std::string_view uri = expand_scratch(element);
                plan.files = plan.route.files->plan_uri(static_request(head), uri, context.now());
                if (!plan.files->missing) {
                    plan.action = RequestPlan::Action::static_file;
                    return true;
                }
            }
            plan.files.reset();
        }
        const TryFallback& fb = *lp.fallback;
        if (fb.kind == TryFallback::Kind::status) {
            answer(plan, fb.status);
            return true;
        }
        // A named location counts as nginx counts it: "@a" falling back to itself ends too.
        if (++plan.redirects > RequestPlan::kMaxRedirects) {
            answer(plan, 500);  // nginx: "rewrite or internal redirection cycle"
            return true;
        }
        if (fb.kind == TryFallback::Kind::named) {
            plan.captures.clear();
            enter(fb.named);
            return false;
        }
        const std::string_view next = expand_scratch(fb.uri);
        // The query is the app's business, not routing's. The path is made of decoded parts
        // ($uri, captures) and config text: its dots are resolved, it is not decoded again.
        plan.redirected_.assign(next.substr(0, next.find('?')));
        if (plan.redirected_.find('\0') != std::string::npos || !resolve_dots(plan.redirected_)) {
            answer(plan, 400);
            return true;
        }
        plan.uri = plan.redirected_;
        const int li = snap.routes.location_for(plan.server, plan.uri, &plan.captures);
        if (li < 0) {
            answer(plan, 404);
            return true;
        }
        enter(li);
        return false;
    }

    void run(int li, int normalize_status) {
        const MessageParser& head = *f.head;
        const llhttp_method_t method = head.method();
        const bool readable = method == HTTP_GET || method == HTTP_HEAD;
        enter(li);
        for (bool first = true;; first = false) {
            if (announced_too_large(head, srv, plan.location)) return refuse(plan, 413);
            const LocationPlan& lp = *plan.route.plan;
            if (first && lp.rate && !admit(f, *lp.rate, context, plan, plan.header_)) return;
            if (lp.ret) {
                plan.action = RequestPlan::Action::ret;
                plan.status = lp.ret->code;
                HostBuffer host;
                RequestVars v = request_vars(f, srv, plan.authority, host);
                v.captures = &plan.captures;
                expand(lp.ret->text, v, plan.text);
                if (lp.ret->redirect()) plan.header_ = {"Location", plan.text};
                return;
            }
            if (!lp.fallback) break;
            if (try_files(head, readable, normalize_status)) return;
        }
        if (plan.route.files && (readable || !plan.route.pool)) {
            const LocationPlan& lp = *plan.route.plan;
            const StaticRequest req = static_request(head);
            if (lp.alias)
                plan.files = plan.route.files->plan_file(req, expand_scratch(*lp.alias), context.now());
            else if (plan.redirects > 0)
                plan.files = plan.route.files->plan_uri(req, plan.uri, context.now());
            else
                plan.files = plan.route.files->plan(req, context.now());
            // Files and an app: like nginx's `try_files $uri @app`, only a file that exists is
            // served here; a missing one (or a directory) is the app's.
            if (!plan.route.pool || !plan.files->missing) {
                plan.action = RequestPlan::Action::static_file;
                return;
            }
            plan.files.reset();
        }
        if (!plan.route.pool) return answer(plan, 500);  // a `return` that did not parse (logged when the config came)

        // HTTP/2 to a gRPC backend has no Upgrade; neither is a gRPC call cached.
        const config::Location& loc = *plan.location;
        plan.action = head.upgrade() && loc.websocket && !loc.grpc && method == HTTP_GET ? RequestPlan::Action::tunnel
                                                                                        : RequestPlan::Action::proxy;
        plan.expect_continue = head.framing() != Framing::none && !plan.http10 &&
                               header_is(trim_ows(head.header("expect")), "100-continue");
        plan.cache = loc.cache.enabled && !loc.grpc;
    }
};

void plan_request(const RequestFacts& f, const Snapshot* snap, PlanContext& context, RequestPlan& plan) {
    plan.clear();
    const MessageParser& head = *f.head;
    const llhttp_method_t method = head.method();
    plan.http10 = head.http_minor() == 0;
    plan.head_request = method == HTTP_HEAD;
    plan.idempotent = idempotent_method(method);
    plan.keep_alive = head.keep_alive() && !f.quitting;
    if (!snap) return answer(plan, 503);

    plan.authority = split_target(head.target()).authority;
    plan.server = snap->routes.server_for(f.listen, plan.authority.empty() ? head.header("host") : plan.authority);
    const config::Server& srv = plan.server >= 0 ? *snap->server(plan.server) : kUnclaimedServer;
    if (f.served + 1 >= srv.keepalive_requests) plan.keep_alive = false;
    if (method == HTTP_CONNECT) return refuse(plan, 405);
    // ACME http-01 comes on port 80 for any name the daemon orders, before redirect_https
    // and any location could send it elsewhere (RFC 8555 8.3).
    if (f.scheme != "https" && (method == HTTP_GET || method == HTTP_HEAD)) {
        const std::string_view path = target_path(head.target());
        if (path.starts_with(kAcmeHttpPrefix)) {
            const std::string_view key_authorization = context.acme_http01(path.substr(kAcmeHttpPrefix.size()));
            if (!key_authorization.empty()) {
                plan.action = RequestPlan::Action::ret;
                plan.status = 200;
                plan.text.assign(key_authorization);
                return;
            }
        }
    }
    if (srv.redirect_https && f.scheme != "https") {
        HostBuffer host;
        const RequestVars v = request_vars(f, srv, plan.authority, host);
        const int port = snap->tls.https_port(plan.server);
        plan.text.assign("https://").append(v.host);
        if (port != 443) plan.text.append(":").append(std::to_string(port));
        plan.text.append(v.target);
        plan.header_ = {"Location", plan.text};
        return answer(plan, 301);
    }
    // nginx matches locations against the decoded, normalised path; one that does not decode
    // is matched as received (static files then refuse it, an app gets to judge it).
    const std::string_view raw = target_path(head.target());
    const NormalizedUri uri = normalize_uri(raw, plan.normalized_);
    plan.uri = uri.status == 0 ? uri.path : raw;
    const int li = snap->routes.location_for(plan.server, plan.uri, &plan.captures);
    if (li < 0) {
        if (announced_too_large(head, srv, nullptr)) return refuse(plan, 413);
        return answer(plan, 404);
    }
    Planner{f, *snap, srv, context, plan}.run(li, uri.status);
}

}  // namespace ne::proxy
