// A location's proxy_headers with their templates expanded for one request, as views for the
// upstream request head. The storage is kept from request to request: once it has grown, a
// request expands its headers without allocating.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "proxy/http/parser.h"
#include "proxy/route/variables.h"
#include "proxy/snapshot.h"

namespace ne::proxy {

class ExpandedHeaders {
public:
    // Valid until the next call.
    std::span<const Header> expand(const std::vector<ProxyHeader>& wanted, const RequestVars& vars);

private:
    std::string text_;              // every value, one after the other
    std::vector<size_t> ends_;      // where each value ends in text_
    std::vector<Header> views_;
};

}  // namespace ne::proxy
