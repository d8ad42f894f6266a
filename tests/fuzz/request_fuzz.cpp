// libFuzzer target for the proxy's request path: the bytes a client sends, through what
// ClientConn does with them: the request head parser and its checks (MessageParser), the
// target split (router), the head written to the upstream (forward_headers) and the body
// re-framed for the upstream (BodyPump over the chunked decoder); pipelined requests follow
// until one is refused, asks to close, or the input ends. Properties: http_fuzz_support.h.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/http/forward_headers.h"
#include "proxy/http/request_id.h"
#include "proxy/route/router.h"
#include "tests/fuzz/http_fuzz_support.h"

namespace {

using namespace ne::proxy;
using ne::fuzz::require;

constexpr size_t kMaxPipelined = 8;

// The head the proxy forwards must parse back, alone, to the request it stands for.
void check_upstream_head(const MessageParser& client, const UpstreamRequest& req, std::string_view head) {
    MessageParser back(MessageParser::Type::request, MessageParser::Limits{1 << 16, 1 << 20, 1000});
    back.begin();
    require(back.parse_head(head) == MessageParser::Progress::head_complete, "the upstream request head does not parse");
    require(back.head_size() == head.size(), "the upstream request head ends early");
    require(back.method() == client.method(), "the upstream request has another method");
    require(back.target() == req.target, "the upstream request has another target");
    require(back.http_minor() == 1, "the upstream request is not HTTP/1.1");
    require(back.header_count("host") == 1, "the upstream request has no single Host");
    require(back.framing() == req.framing, "the upstream request is framed otherwise");
    require(back.framing() != Framing::length || back.content_length() == req.content_length,
            "the upstream request has another Content-Length");
    require(back.upgrade() == req.upgrade, "the upstream request upgrades otherwise");
    require(back.keep_alive(), "the upstream request asks to close");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const ne::config::Server server{};  // the defaults: limits as a fresh config has them
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    MessageParser whole(MessageParser::Type::request, MessageParser::Limits{});
    MessageParser pieces(MessageParser::Type::request, MessageParser::Limits{});
    std::string upstream_head;
    RequestIds ids(1, 2);
    char generated_id[RequestIds::kLength];

    for (size_t n = 0; n < kMaxPipelined && !rest.empty(); ++n) {
        whole.begin();
        const auto progress = whole.parse_head(rest);
        ne::fuzz::require_same_by_pieces(whole, progress, pieces, rest, false);
        if (progress != MessageParser::Progress::head_complete) return 0;  // 4xx and close, or waiting
        if (whole.method() == HTTP_CONNECT) return 0;                        // 405 and close
        if (whole.framing() == Framing::length && whole.content_length() > server.client_max_body_size) return 0;

        const TargetParts parts = split_target(whole.target());
        require(!target_path(whole.target()).empty(), "an accepted target has no path");
        std::string_view id = whole.header("x-request-id");
        if (!sane_request_id(id)) {
            ids.next(generated_id);
            id = {generated_id, RequestIds::kLength};
        }
        UpstreamRequest req;
        req.method = whole.method_name();
        req.target = parts.origin;
        req.headers = whole.headers();
        req.host_override = parts.authority;
        req.default_host = "127.0.0.1:8080";
        req.client_ip = "192.0.2.1";
        req.request_id = id;
        req.upgrade = whole.upgrade() && whole.method() == HTTP_GET;  // a websocket location
        req.framing = whole.framing();
        req.content_length = whole.content_length();
        upstream_head.clear();
        write_upstream_request(req, upstream_head);
        check_upstream_head(whole, req, upstream_head);

        rest.remove_prefix(whole.head_size());
        if (req.upgrade) return 0;  // a tunnel from here on
        if (whole.framing() != Framing::none) {
            size_t used = ne::fuzz::pump_and_check(rest, whole.framing(), whole.content_length(), whole.framing(), false);
            if (used == std::string_view::npos) return 0;
            rest.remove_prefix(used);
        }
        if (!whole.keep_alive()) return 0;
    }
    return 0;
}
