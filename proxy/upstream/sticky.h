// nginx's `sticky cookie` (1.29.6): the first answer to a client names the backend that served
// it in a cookie; a request carrying the cookie goes back to that backend while it is
// eligible (ready, up, not yet tried by this request). A drained, removed or failing backend
// is not, so its clients go to whichever backend the location's balancer picks, and get a
// cookie naming the new one. Socket.IO behind a NAT needs this where ip_hash would send a
// whole office to one worker.
//
// The value is a hash of the backend's address, the same in every proxy worker and across
// restarts of the proxy: a client keeps its backend whichever proxy worker accepts it.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "proxy/upstream/balancer.h"
#include "proxy/upstream/pool.h"

namespace ne::proxy {

// 16 hex digits naming `b` (nginx: the MD5 of its address).
std::string sticky_value(const Backend& b);
// The value of cookie `name` in a Cookie header ("a=1; route=xyz"), "" when absent.
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);
// The eligible backend of `pool` whose sticky_value() is `value`, or null.
Backend* sticky_backend(Pool& pool, std::string_view value, const PickContext& ctx);
// The Set-Cookie value naming `value` with the location's attributes:
// "route=<value>; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax".
std::string sticky_set_cookie(const config::Sticky& s, std::string_view value);

}  // namespace ne::proxy
