// ClientConn's own answers: error pages, `return`, static files and cached responses.
#include <spdlog/spdlog.h>

#include <vector>

#include "proxy/conn/client_conn.h"
#include "proxy/http/forward_headers.h"
#include "proxy/runtime.h"

namespace ne::proxy {

namespace {

std::vector<Header> header_views(const StaticPlan& plan) {
    std::vector<Header> out;
    out.reserve(plan.headers.size());
    for (const auto& [name, value] : plan.headers) out.push_back({name, value});
    return out;
}

}  // namespace

void ClientConn::respond(int status, bool may_keep_alive, std::span<const Header> headers) {
    const Snapshot* snap = snap_ ? snap_.get() : rt_.snapshot.get();
    LocalResponse r;
    r.status = status;
    r.headers = headers;
    if (snap && uses_error_page(status)) r.page = snap->error_page;
    send_local(r, may_keep_alive);
}

void ClientConn::send_local(LocalResponse& r, bool may_keep_alive) {
    if (req_id_len_ == 0) {
        rt_.ids.next(req_id_.data());
        req_id_len_ = RequestIds::kLength;
        record_.request_id(request_id());
    }
    r.request_id = request_id();
    r.extra = &config::response_headers(*server(), plan_.location);
    r.keep_alive = settle_keep_alive(may_keep_alive);
    r.client_http10 = plan_.http10;
    r.head_request = plan_.head_request;
    client_head_.clear();
    // The log keeps the status the proxy meant (a 502), not the 200 carrying grpc-status.
    if (plan_.location && plan_.location->grpc)
        write_grpc_error(r, client_head_);
    else
        write_local_response(r, client_head_);
    record_.answered(r.status, client_head_.find("\r\n\r\n") + 4);
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    end_local_response();
}

bool ClientConn::settle_keep_alive(bool may_keep_alive) {
    keep_alive_ = keep_alive_ && may_keep_alive && body_done_;
    return keep_alive_ && !quit_ && !rt_.quitting;
}

void ClientConn::end_local_response() {
    send_now(bev_.get());
    response_started_ = true;
    finish_request();
}

void ClientConn::answer_return() {
    LocalResponse r;
    r.status = plan_.status;
    r.no_store = false;
    r.headers = plan_.headers();  // a redirect's Location
    if (r.headers.empty() && !plan_.text.empty()) {
        r.page = plan_.text;
        r.content_type = "text/plain; charset=utf-8";
    } else if (r.headers.empty() && uses_error_page(plan_.status)) {
        r.page = snap_->error_page;
    }
    // The request body, if any, is not read: like any local answer, keep the connection
    // only when there is none.
    send_local(r, true);
}

void ClientConn::serve_static(StaticPlan& plan) {
    const std::vector<Header> headers = header_views(plan);
    if (plan.status >= 400) {
        if (!plan.error.empty()) spdlog::warn("static file for {}: {} ({})", request_id(), plan.error, plan.status);
        respond(plan.status, true, headers);
        return;
    }
    // 200/206 state the file's length (HEAD too); a 301 has an empty body; a 304 says nothing.
    send_file_answer(plan.status, headers, std::move(plan.fd), plan.path, plan.offset, plan.length, plan.body,
                     plan.status != 304);
}

void ClientConn::send_file_answer(int status, std::span<const Header> headers, UniqueFd fd, std::string_view path,
                                  uint64_t offset, uint64_t length, bool body, bool has_length,
                                  std::string_view preread) {
    const GzipDecision gz =
        gzip_.response(response_query(status, headers, length), config::gzip_for(*server(), plan_.location), rt_.gzip);
    const bool compress = gz.compress && body;
    ClientResponse r;
    r.status = status;
    r.headers = headers;
    r.request_id = request_id();
    r.extra = &config::response_headers(*server(), plan_.location);
    r.client_http10 = plan_.http10;
    r.keep_alive = settle_keep_alive(!(compress && plan_.http10));
    r.gzip = compress;
    r.vary_accept_encoding = gz.vary;
    r.cache_status = cache_status_name(cache_.status());
    // Compressed, the length is known only at the end.
    r.framing = compress ? (plan_.http10 ? Framing::until_close : Framing::chunked)
                         : body ? Framing::length : Framing::none;
    r.has_length = !compress && has_length;
    r.content_length = length;
    client_head_.clear();
    write_client_response(r, client_head_);
    record_.answered(status, client_head_.size());
    evbuffer_add(output(), client_head_.data(), client_head_.size());
    if (compress) {
        file_body_.start(std::move(fd), path, offset, length, *gzip_.filter(), r.framing);
        phase_ = Phase::file;
        response_started_ = true;
        pump_file();
        return;
    }
    if (body && preread.size() == length) {
        evbuffer_add(output(), preread.data(), preread.size());
    } else if (body && length <= kCopiedFileBytes) {
        if (Status s = append_file_range(output(), fd.get(), path, offset, length); !s) {
            spdlog::error("{} for {}", s.error().message, request_id());
            close_now();  // the head is queued already; only a close can tell the client
            return;
        }
    } else if (body) {
        // sendfile(2) from the page cache; the evbuffer closes the fd once it is sent.
        if (evbuffer_add_file(output(), fd.get(), static_cast<ev_off_t>(offset), static_cast<ev_off_t>(length)) != 0) {
            spdlog::error("file {} for {}: cannot queue it for sending", path, request_id());
            close_now();  // the head went out already; only a close can tell the client
            return;
        }
        fd.release();
    }
    end_local_response();
}

void ClientConn::serve_cached() {
    auto cached = cache_.open();
    if (!cached) {
        spdlog::warn("{} (for {}); asking the app", cached.error().message, request_id());
        start_proxying();
        return;
    }
    send_file_answer(cached->status, cached->headers, std::move(cached->fd), "cache file", cached->body_offset,
                     cached->body_length, !plan_.head_request, true, cached->body);
}

void ClientConn::pump_file() {
    switch (file_body_.pump(output(), output_high_)) {
        case FileBody::Step::more:
            send_now(bev_.get());  // on_write() comes back once the client took most of it
            return;
        case FileBody::Step::done:
            end_local_response();
            return;
        case FileBody::Step::failed:
            spdlog::error("static file for {}: {}", request_id(), file_body_.error());
            close_now();  // the head went out already; only a close can tell the client
            return;
    }
}

}  // namespace ne::proxy
