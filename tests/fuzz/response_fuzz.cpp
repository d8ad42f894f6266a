// libFuzzer target for the proxy's response path: the bytes an upstream sends, through what
// UpstreamConn and ClientConn do with them: the response head parser (interim 1xx skipped),
// the head written to the client (forward_headers) and the body re-framed for the client
// (BodyPump: Content-Length kept, chunked and read-until-close bodies chunked for an HTTP/1.1
// client, passed raw until the close for an HTTP/1.0 one). The input ends as the upstream's
// connection does. The first byte picks the request it answers: bit 0 a HEAD request, bit 1
// an HTTP/1.0 client. Properties: http_fuzz_support.h.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/forward_headers.h"
#include "tests/fuzz/http_fuzz_support.h"

namespace {

using namespace ne::proxy;
using ne::fuzz::require;

// UpstreamConn's limits: upstream heads may carry more and larger headers than clients'.
constexpr MessageParser::Limits kResponseLimits{8192, 64 * 1024, 200};
constexpr size_t kMaxInterim = 8;

// The head the client gets must parse back, alone, to the response it stands for.
void check_client_head(const ClientResponse& r, bool head_request, std::string_view head) {
    MessageParser back(MessageParser::Type::response, MessageParser::Limits{1 << 16, 1 << 20, 1000});
    back.begin(head_request);
    require(back.parse_head(head) == MessageParser::Progress::head_complete, "the client response head does not parse");
    require(back.head_size() == head.size(), "the client response head ends early");
    require(back.status() == r.status, "the client response has another status");
    require(back.header_count("x-request-id") == 1, "the client response has no single X-Request-ID");
    require(back.header_count("content-length") <= 1 && back.header_count("transfer-encoding") <= 1,
            "the client response repeats its framing headers");
    if (head_request) return;  // framing none, whatever the headers say
    require(back.framing() == r.framing, "the client response is framed otherwise");
    require(back.framing() != Framing::length || back.content_length() == r.content_length,
            "the client response has another Content-Length");
    require(back.keep_alive() == (r.keep_alive && r.framing != Framing::until_close),
            "the client response keeps the connection otherwise");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const bool head_request = data[0] & 1;
    const bool client_http10 = data[0] & 2;
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    MessageParser whole(MessageParser::Type::response, kResponseLimits);
    MessageParser pieces(MessageParser::Type::response, kResponseLimits);

    for (size_t interim = 0;; ++interim) {
        whole.begin(head_request);
        const auto progress = whole.parse_head(rest);
        ne::fuzz::require_same_by_pieces(whole, progress, pieces, rest, head_request);
        if (progress != MessageParser::Progress::head_complete) return 0;  // 502
        const int status = whole.status();
        if (status < 100 || status >= 200) break;
        // 101 starts a tunnel (for upgrade requests only); endless interim heads only stall.
        if (status == 101 || interim == kMaxInterim) return 0;
        rest.remove_prefix(whole.head_size());  // interim responses are not passed on
    }

    // ClientConn::upstream_head's choices.
    const Framing in = whole.framing();
    Framing out = in;
    if (in == Framing::chunked || in == Framing::until_close) out = client_http10 ? Framing::until_close : Framing::chunked;
    ClientResponse r;
    r.status = whole.status();
    r.reason = whole.reason();
    r.headers = whole.headers();
    r.request_id = "0123456789abcdef0123456789abcdef";
    r.client_http10 = client_http10;
    r.framing = out;
    r.has_length = in == Framing::length || (in == Framing::none && whole.has_content_length() && r.status != 204);
    r.content_length = whole.content_length();
    r.keep_alive = out != Framing::until_close;
    std::string client_head;
    write_client_response(r, client_head);
    check_client_head(r, head_request, client_head);

    rest.remove_prefix(whole.head_size());
    if (in != Framing::none) ne::fuzz::pump_and_check(rest, in, whole.content_length(), out, true);
    return 0;
}
