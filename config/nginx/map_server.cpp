// server {} -> [[servers]]: listen, server_name, TLS, HTTP/2, gzip, headers, limits; then its
// locations (config/nginx/map_location.cpp).
#include <charconv>

#include "config/nginx/mapping.h"

namespace ne::config::nginx {
namespace {

namespace tt = toml_text;

struct Listens {
    std::vector<std::string> plain, tls;
    std::vector<std::string> plain_comments, tls_comments;
    bool http2 = false;
    bool default_server = false;
};

bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// nginx's listen address -> nodeedge's "host:port": `80`, `*:80`, `127.0.0.1`, `[::]:443`.
std::optional<std::string> listen_address(const std::string& written) {
    if (all_digits(written)) return "0.0.0.0:" + written;
    if (written.starts_with("[")) {
        const size_t close = written.find(']');
        if (close == std::string::npos) return std::nullopt;
        const std::string host = written.substr(0, close + 1);
        const std::string rest = written.substr(close + 1);
        if (rest.empty()) return host + ":80";
        if (rest.starts_with(":") && all_digits(rest.substr(1))) return host + rest;
        return std::nullopt;
    }
    const size_t colon = written.rfind(':');
    std::string host = colon == std::string::npos ? written : written.substr(0, colon);
    const std::string port = colon == std::string::npos ? "80" : written.substr(colon + 1);
    if (!all_digits(port) || host.empty() || host.starts_with("unix")) return std::nullopt;
    if (host == "*") host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    return host + ":" + port;
}

Listens map_listens(const Scope& s, tt::Table& t, Ledger& ledger) {
    Listens l;
    for (const Directive* d : s.all("listen")) {
        if (!s.own("listen") || d->args.empty()) break;
        auto address = listen_address(d->args[0]);
        if (!address) {
            t.trailing.push_back(ledger.left_out(*d, "nodeedge listens on TCP host:port addresses only"));
            continue;
        }
        bool ssl = false;
        std::string ignored;
        for (size_t i = 1; i < d->args.size(); ++i) {
            const std::string& a = d->args[i];
            if (a == "ssl") ssl = true;
            else if (a == "http2") l.http2 = true;
            else if (a == "default_server" || a == "default") l.default_server = true;
            else ignored += " " + a;  // ipv6only=, backlog=, reuseport, deferred, ...
        }
        std::string comment = ledger.from(*d);
        if (!ignored.empty()) comment += " (socket options" + ignored + " are nodeedge's own)";
        (ssl ? l.tls : l.plain).push_back(*address);
        (ssl ? l.tls_comments : l.plain_comments).push_back(comment);
    }
    if (l.plain.empty() && l.tls.empty()) {
        l.plain.push_back("0.0.0.0:80");
        l.plain_comments.push_back("nginx's default when a server has no listen: *:80");
    }
    return l;
}

std::vector<std::string> server_names(const Scope& s, tt::Table& t, Ledger& ledger, std::string& comment) {
    std::vector<std::string> names;
    const Directive* d = s.own("server_name") ? s.last("server_name") : nullptr;
    if (!d) return names;
    comment = ledger.from(*d);
    for (const Directive* each : s.all("server_name")) {
        if (each != d) comment += "; " + ledger.from(*each);
        for (const std::string& n : each->args) {
            if (n.empty() || n == "_") continue;  // nginx's catch-all spellings: any host
            if (n.starts_with("~")) {
                t.trailing.push_back(ledger.left_out(*each, "nodeedge matches names exactly or by *.domain; list the names the regex " + n + " stands for"));
                continue;
            }
            if (n.starts_with(".")) {
                names.push_back(n.substr(1));
                names.push_back("*" + n);
            } else {
                names.push_back(n);
            }
        }
    }
    return names;
}

void map_limits(const Scope& s, tt::Table& t, Ledger& ledger) {
    if (const Directive* d = s.last("client_max_body_size"); d && d->args.size() == 1) {
        auto size = nginx_size(d->args[0]);
        // nginx: 0 turns the check off.
        if (size && *size == 0) t.set("client_max_body_size", tt::quote("1000G"), ledger.from(*d) + " (0: no limit)");
        else if (size) t.set("client_max_body_size", tt::size(*size), ledger.from(*d));
    }
    if (const Directive* d = s.last("keepalive_timeout"); d && !d->args.empty()) {
        if (auto time = nginx_time(d->args[0])) t.set("keepalive_timeout", tt::duration(*time), ledger.from(*d));
        if (d->args.size() > 1)
            t.trailing.push_back(ledger.left_out(*d, "nodeedge sends no Keep-Alive: timeout= header; only the first value is used"));
    }
    for (const char* name : {"keepalive_requests", "http2_max_concurrent_streams"})
        if (const Directive* d = s.last(name); d && d->args.size() == 1 && all_digits(d->args[0]))
            t.set(name, d->args[0], ledger.from(*d));
    for (const char* name : {"client_header_timeout", "client_body_timeout", "send_timeout", "lingering_timeout"}) {
        if (const Directive* d = s.last(name); d && d->args.size() == 1)
            if (auto time = nginx_time(d->args[0])) t.set(name, tt::duration(*time), ledger.from(*d));
    }
}

void map_tls(const Scope& s, tt::Table& t, Ledger& ledger) {
    std::vector<std::pair<std::string, std::string>> fields;
    std::vector<std::string> comments;
    const Directive* cert = s.last("ssl_certificate");
    const Directive* key = s.last("ssl_certificate_key");
    fields.emplace_back("cert", tt::quote(absolute_path(*cert, cert->args.at(0))));
    comments.push_back(ledger.from(*cert));
    fields.emplace_back("key", tt::quote(absolute_path(*key, key->args.at(0))));
    comments.push_back(ledger.from(*key));
    if (const Directive* d = s.last("ssl_protocols")) {
        std::vector<std::string> protocols;
        for (const std::string& p : d->args)
            if (p == "TLSv1" || p == "TLSv1.1" || p == "TLSv1.2" || p == "TLSv1.3") protocols.push_back(p);
        if (protocols.size() == d->args.size()) {
            fields.emplace_back("protocols", tt::array(protocols));
            comments.push_back(ledger.from(*d));
        } else {
            if (!protocols.empty()) fields.emplace_back("protocols", tt::array(protocols));
            t.trailing.push_back(ledger.left_out(*d, "nodeedge speaks TLSv1 to TLSv1.3 only (no SSLv2/SSLv3)"));
        }
    }
    if (const Directive* d = s.last("ssl_ciphers"); d && !d->args.empty()) {
        fields.emplace_back("ciphers", tt::quote(d->args[0]));
        comments.push_back(ledger.from(*d));
    }
    if (const Directive* d = s.last("ssl_session_timeout"); d && d->args.size() == 1)
        if (auto time = nginx_time(d->args[0])) {
            fields.emplace_back("session_timeout", tt::duration(*time));
            comments.push_back(ledger.from(*d));
        }
    for (const char* name : {"ssl_prefer_server_ciphers", "ssl_session_tickets"}) {
        const Directive* d = s.last(name);
        if (!d || d->args.size() != 1 || (d->args[0] != "on" && d->args[0] != "off")) continue;
        fields.emplace_back(std::string(name).substr(4), d->args[0] == "on" ? "true" : "false");
        comments.push_back(ledger.from(*d));
    }
    const Directive* stapling = s.last("ssl_stapling");
    const Directive* file = s.last("ssl_stapling_file");
    if (file && !file->args.empty()) {
        fields.emplace_back("ocsp", tt::quote(absolute_path(*file, file->args[0])));
        comments.push_back(ledger.from(*file));
        if (stapling) comments.push_back(ledger.from(*stapling));
    } else if (stapling && !stapling->args.empty() && stapling->args[0] == "on") {
        t.trailing.push_back(ledger.left_out(*stapling,
            "nodeedge staples an OCSP response from a file and queries no responder: fetch one with "
            "`openssl ocsp -issuer chain.pem -cert cert.pem -url URL -respout ocsp.der`, refresh it daily and set tls.ocsp = \"ocsp.der\""));
        // The resolver only served the OCSP queries that are now the file's job.
        if (const Directive* r = s.last("resolver")) t.trailing.push_back(ledger.built_in(*r, "used for OCSP queries only, which nodeedge does not make"));
    } else if (stapling) {
        ledger.from(*stapling);
    }
    tt::Entry& e = t.set("tls", tt::inline_table(fields));
    e.comments = comments;
}

void map_gzip(const Scope& s, tt::Table& t, Ledger& ledger) {
    const Directive* gzip = s.last("gzip");
    if (!gzip || gzip->args.empty() || gzip->args[0] != "on") {
        if (gzip) ledger.from(*gzip);
        return;
    }
    std::vector<std::string> comments{ledger.from(*gzip)};
    // nginx's own defaults where nodeedge's differ: level 1, min_length 20.
    std::string level = "1", min_length = "20";
    if (const Directive* d = s.last("gzip_comp_level"); d && d->args.size() == 1 && all_digits(d->args[0])) {
        level = d->args[0];
        comments.push_back(ledger.from(*d));
    }
    if (const Directive* d = s.last("gzip_min_length"); d && d->args.size() == 1) {
        if (auto size = nginx_size(d->args[0])) {
            min_length = std::to_string(*size);
            comments.push_back(ledger.from(*d));
        }
    }
    std::vector<std::pair<std::string, std::string>> fields{{"level", level}, {"min_length", min_length}};
    if (const Directive* d = s.last("gzip_types")) {
        fields.emplace_back("types", tt::array(d->args));
        comments.push_back(ledger.from(*d) + " (text/html is always compressed, as in nginx)");
    }
    for (const char* name : {"gzip_vary", "gzip_proxied", "gzip_http_version", "gzip_buffers"})
        if (const Directive* d = s.last(name)) t.trailing.push_back(account(*d, ledger));
    tt::Entry& e = t.set("gzip", tt::inline_table(fields));
    e.comments = comments;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> header_entries(const std::vector<const Directive*>& adds, Ledger& ledger,
                                                                std::vector<std::string>& comments,
                                                                const std::set<std::string>& skip) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Directive* d : adds) {
        if (d->args.size() < 2) continue;
        std::string lower = d->args[0];
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (skip.contains(lower)) continue;
        if (d->args[1].find('$') != std::string::npos) {
            comments.push_back(ledger.left_out(*d, "nodeedge adds headers with fixed values; send this one from the app"));
            continue;
        }
        const bool always = d->args.size() > 2 && d->args[2] == "always";
        out.emplace_back(d->args[0], tt::quote(d->args[1]));
        comments.push_back(ledger.from(*d) + (always ? "" : " (nodeedge adds it to every answer; nginx without `always` only to 200, 201, 204, 206, 301-304, 307, 308)"));
    }
    return out;
}

void map_error_page(const Directive& d, const Scope& scope, Http& http) {
    std::vector<std::string> codes(d.args.begin(), d.args.end() - (d.args.empty() ? 0 : 1));
    const std::string target = d.args.empty() ? "" : d.args.back();
    bool fivexx = !codes.empty();
    for (const std::string& c : codes) fivexx = fivexx && (c == "500" || c == "502" || c == "503" || c == "504");
    const Directive* root = scope.last("root");
    if (!fivexx || !target.starts_with("/") || (!http.error_page.empty())) {
        http.ledger.left_out(d, "nodeedge has one error page, [proxy] error_page, for the 502, 503 and 504 answers it makes itself; "
                                "other codes and targets are the app's to render");
        return;
    }
    const std::string base = root && !root->args.empty() ? absolute_path(*root, root->args[0]) : "/usr/share/nginx/html";
    http.error_page = base + target;
    http.error_page_comments.push_back(http.ledger.from(d));
    if (root) http.error_page_comments.push_back(http.ledger.from(*root));
}

ServerTables map_server(const Directive& server, const Scope& http_scope, Http& http) {
    Ledger& ledger = http.ledger;
    const Scope s = http_scope.child(server.children);
    tt::Table t;
    t.header = "[[servers]]";
    t.comments.push_back(ledger.from(server));
    Listens listens = map_listens(s, t, ledger);
    std::string names_comment;
    const std::vector<std::string> names = server_names(s, t, ledger, names_comment);
    if (!names.empty()) t.set("server_name", tt::array(names), names_comment);
    {
        std::vector<std::string> comments;
        auto headers = header_entries(s.all("add_header"), ledger, comments);
        if (!headers.empty()) t.set("headers", tt::inline_table(headers)).comments = comments;
        else t.trailing.insert(t.trailing.end(), comments.begin(), comments.end());
    }
    map_limits(s, t, ledger);
    map_gzip(s, t, ledger);

    const bool has_cert = s.last("ssl_certificate") && s.last("ssl_certificate_key");
    if (!listens.tls.empty() && !has_cert) {
        for (const Directive* d : s.all("listen"))
            t.trailing.push_back(ledger.left_out(*d, "a TLS listener needs ssl_certificate and ssl_certificate_key; add them"));
        listens.tls.clear();
    }
    for (const Directive* d : s.all("error_page"))
        if (!ledger.seen(*d)) map_error_page(*d, s, http);

    std::vector<tt::Table> locations;
    if (const Directive* ret = s.own("return") ? s.last("return") : nullptr) {
        // nginx answers a server-level return before it looks at locations.
        tt::Table l;
        l.header = "[[servers.locations]]";
        l.set("path", tt::quote("/"), "nginx: the server-level return answers every request");
        std::string text = ret->args.empty() ? "" : ret->args[0];
        for (size_t i = 1; i < ret->args.size(); ++i) text += " " + ret->args[i];
        l.set("return", tt::quote(text), ledger.from(*ret));
        locations.push_back(std::move(l));
        for (const Directive& c : server.children)
            if (c.name == "location") {
                ledger.built_in(c, "never reached: the server's return answers first");
                for (const Directive& inner : c.children) ledger.built_in(inner, "in a location never reached");
            }
    } else {
        for (const Directive& c : server.children)
            if (c.name == "location" && c.block) locations.push_back(map_location(c, s, http));
        if (locations.empty()) {
            // nginx serves files from root for every request of a server without locations.
            Directive all;
            all.name = "location";
            all.args = {"/"};
            all.file = server.file;
            all.line = server.line;
            all.block = true;
            tt::Table l = map_location(all, s, http);
            l.entries.front().comments = {"nginx: a server without locations serves files from its root"};
            locations.push_back(std::move(l));
        }
    }
    tt::Table tls_part;  // the tls key and what TLS left out, for the TLS copy of the server
    if (!listens.tls.empty()) map_tls(s, tls_part, ledger);
    std::string http2_comment = "nginx: listen ... http2";
    if (const Directive* h2 = s.last("http2"); h2 && !h2->args.empty() && !listens.tls.empty()) {
        listens.http2 = listens.http2 || h2->args[0] == "on";
        http2_comment = ledger.from(*h2);
    }
    for (const char* name : {"root", "index"})
        if (const Directive* d = s.own(name) ? s.last(name) : nullptr; d && !ledger.seen(*d))
            t.trailing.push_back(ledger.built_in(*d, "no location of this server serves files"));
    for (const Directive& c : server.children)
        if (!ledger.seen(c)) t.trailing.push_back(account(c, ledger));

    ServerTables out;
    out.default_server = listens.default_server;
    auto emit = [&](const std::vector<std::string>& addresses, const std::vector<std::string>& comments, bool secure) {
        tt::Table copy = t;
        copy.entries.insert(copy.entries.begin(), tt::Entry{"listen", tt::array(addresses), comments});
        if (secure) {
            copy.entries.insert(copy.entries.end(), tls_part.entries.begin(), tls_part.entries.end());
            copy.trailing.insert(copy.trailing.end(), tls_part.trailing.begin(), tls_part.trailing.end());
            if (listens.http2) copy.set("http2", "true", http2_comment);
        }
        out.tables.push_back(std::move(copy));
        out.tables.insert(out.tables.end(), locations.begin(), locations.end());
    };
    if (!listens.plain.empty()) emit(listens.plain, listens.plain_comments, false);
    if (!listens.tls.empty()) emit(listens.tls, listens.tls_comments, true);
    if (!listens.plain.empty() && !listens.tls.empty())
        out.tables[0].comments.push_back("the plain listeners of this nginx server; its TLS ones follow as a second [[servers]]");
    return out;
}

}  // namespace ne::config::nginx
