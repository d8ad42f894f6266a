// Expands config templates ($host, $request_uri, ...; config/template.h) for one request.
// Pure: the request's parts come in as views, the text is appended to a reused string.
#pragma once

#include <string>
#include <string_view>

#include "config/regex.h"
#include "config/template.h"

namespace ne::proxy {

struct RequestVars {
    std::string_view scheme = "http";
    std::string_view host;          // already normalised (router.h's normalize_host)
    std::string_view target;        // origin-form, as received: "/a/b?x=1"
    std::string_view remote_addr;
    std::string_view request_id;
    std::string_view server_port;
    // $uri when set: the decoded, normalised path the location matched (try_files, alias);
    // unset, $uri is the target's path as received (return, proxy_headers).
    std::string_view uri;
    const config::Captures* captures = nullptr;  // the matched regex location's groups
};

void expand(const config::Template& t, const RequestVars& vars, std::string& out);

}  // namespace ne::proxy
