// nginx-style variables in config text ("https://$host$request_uri"): parsed once when the file
// loads, so a typo is a file:line:col error rather than a literal "$hots" sent to clients, and
// expanded per request by the proxy (proxy/route/variables.h). Used by `return`, `proxy_headers`,
// `try_files` and a regex location's `alias`, which may also use its captures ($1, $name).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/result.h"

namespace ne::config {

enum class Var : uint8_t {
    scheme,        // "http" (or "https" behind TLS)
    host,          // request-line host, else Host, else the first server_name; lower case, no port
    request_uri,   // the target as received, with its query: "/a/b?x=1"
    uri,           // the path only: "/a/b" (not percent-decoded: the bytes as received)
    args,          // the query without '?': "x=1" ("" when none); also $query_string
    is_args,       // "?" when the target has a query, else ""
    remote_addr,   // the client's address
    request_id,    // X-Request-ID as echoed to the client
    server_port,   // the port the request came in on
    capture,       // $1..$9 or a named group (?<name>...) of the location's regex ("" if none)
};

struct TemplatePiece {
    std::string literal;             // used when var is empty
    std::optional<Var> var;
    int group = 0;                   // Var::capture: which group


    bool operator==(const TemplatePiece&) const = default;
};

struct Template {
    std::vector<TemplatePiece> pieces;

    bool has_vars() const;
    bool operator==(const Template&) const = default;
};

// A regex's named groups: {"year", 1} for (?<year>\d+).
using CaptureNames = std::vector<std::pair<std::string, int>>;

// "$name" and "${name}" are variables; "$1".."$9" are the location regex's groups, and the
// names in `captures` its named ones. A '$' not followed by a letter, a digit 1-9, '_' or '{'
// is literal. The error names the unknown variable and lists the known ones.
Result<Template> parse_template(std::string_view text, const CaptureNames& captures = {});

// `return` as nginx writes it: "CODE", "CODE text", "CODE URL" (301/302/303/307/308 need the
// URL), or a bare "http(s)://..." / "$scheme://..." URL meaning 302. Codes 200-599.
struct ReturnSpec {
    int code = 0;
    Template text;                   // the Location of a redirect, else the body ("" = the standard page)

    bool redirect() const;
};
Result<ReturnSpec> parse_return(std::string_view written, const CaptureNames& captures = {});

bool is_redirect(int code);

}  // namespace ne::config
