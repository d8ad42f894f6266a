#include "proxy/route/variables.h"

namespace ne::proxy {

void expand(const config::Template& t, const RequestVars& v, std::string& out) {
    const size_t q = v.target.find('?');
    const std::string_view path = v.target.substr(0, q);
    const std::string_view args = q == std::string_view::npos ? std::string_view{} : v.target.substr(q + 1);
    for (const auto& piece : t.pieces) {
        if (!piece.var) {
            out.append(piece.literal);
            continue;
        }
        using config::Var;
        switch (*piece.var) {
            case Var::scheme: out.append(v.scheme); break;
            case Var::host: out.append(v.host); break;
            case Var::request_uri: out.append(v.target); break;
            case Var::uri: out.append(v.uri.data() ? v.uri : path); break;
            case Var::args: out.append(args); break;
            case Var::is_args: out.append(q == std::string_view::npos ? "" : "?"); break;
            case Var::remote_addr: out.append(v.remote_addr); break;
            case Var::request_id: out.append(v.request_id); break;
            case Var::server_port: out.append(v.server_port); break;
            case Var::capture:
                if (v.captures) out.append(v.captures->group(static_cast<size_t>(piece.group)));
                break;
        }
    }
}

}  // namespace ne::proxy
