// Shared by the mapper's parts (mapper.cpp, map_server.cpp, map_location.cpp); not used
// outside config/nginx/.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/nginx/mapper.h"

namespace ne::config::nginx {

// What became of each directive: imported (as a key or as something nodeedge does anyway)
// or left out with advice. A directive inherited by several servers is accounted once.
class Ledger {
public:
    // "nginx: file:line text" for the key's comment; marks `d` imported.
    std::string from(const Directive& d);
    // A comment line for something nodeedge does without a key; marks `d` imported.
    std::string built_in(const Directive& d, const std::string& why);
    // Left out: a finding (once per directive) and the comment line to leave in the file.
    std::string left_out(const Directive& d, const std::string& advice);
    bool seen(const Directive& d) const { return seen_.contains(&d); }
    // A block's directives share its fate (those of an `if` left out with it, of `events` built in).
    void cover(const Directive& block);
    std::vector<Finding> findings() const;

private:
    std::set<const Directive*> seen_;
    std::set<const Directive*> reported_;
    std::vector<std::pair<std::pair<std::string, int>, Finding>> findings_;
};

// Directives in effect in a block: nginx inherits a directive from the enclosing block unless
// the block has its own (all of the same name: one add_header replaces every inherited one).
class Scope {
public:
    Scope() = default;
    Scope child(const std::vector<Directive>& directives) const;
    const Directive* last(const std::string& name) const;
    const std::vector<const Directive*>& all(const std::string& name) const;
    // Set in this very block rather than inherited.
    bool own(const std::string& name) const { return own_.contains(name); }

private:
    std::map<std::string, std::vector<const Directive*>> by_name_;
    std::set<std::string> own_;
};

// nginx value syntax.
std::optional<Duration> nginx_time(const std::string& text);  // "60", "60s", "1m30s", "500ms"
std::optional<uint64_t> nginx_size(const std::string& text);  // "10m", "1k", "1024"
std::optional<bool> nginx_flag(const std::string& text);      // on / off

struct UpstreamBlock {
    const Directive* block = nullptr;
    std::string app;  // the PM2 app whose worker ports these are, or ""
};

struct RateZone {
    const Directive* directive = nullptr;
    std::string rate;  // "30r/s"
    std::string key;   // "remote_addr" or "http_x"; "" when nodeedge has no such key
};

struct CacheZone {
    const Directive* directive = nullptr;
    std::optional<uint64_t> max_size;
};

// What servers and locations look up while they are mapped.
struct Http {
    Http(Ledger& l, const std::vector<App>& a) : ledger(l), apps(a) {}
    Ledger& ledger;
    const std::vector<App>& apps;
    std::map<int, std::string> fronts;  // listen port of a server that only proxies to one app
    std::map<std::string, UpstreamBlock> upstreams;
    std::map<std::string, RateZone> rate_zones;
    std::map<std::string, CacheZone> cache_zones;
    std::set<std::string> upgrade_maps;   // map $http_upgrade $x {...}: websocket, built in
    std::set<std::string> used_upstreams;             // named upstream {} blocks proxied to
    std::map<std::string, std::string> direct_upstreams;  // "host:port" -> the proxy_pass's comment
    std::vector<std::string> general;                  // comments on the http {} and main contexts
    std::string error_page;                            // a 5xx page file for [proxy]
    std::vector<std::string> error_page_comments;
};

// The app whose workers (or front server) are at all these host:port addresses, or "" (an
// address off this host, or ports of no app, or of several).
std::string app_at(const std::vector<std::pair<std::string, int>>& addresses, const Http& http);

// The comment line for a directive no key took: something nodeedge does anyway (imported),
// or left out with the advice (a finding). A block's directives go with it.
std::string account(const Directive& d, Ledger& ledger);

struct ServerTables {
    std::vector<toml_text::Table> tables;  // [[servers]] then its [[servers.locations]], maybe twice
    bool default_server = false;           // listen ... default_server: goes first on its address
};

// One nginx server {} -> one [[servers]] table, or two when it listens both plain and with
// ssl (one address is TLS or plain for every server on it in nodeedge), each followed by the
// location tables.
ServerTables map_server(const Directive& server, const Scope& http_scope, Http& http);

// The [[servers.locations]] table of one location {} (nested locations are reported).
toml_text::Table map_location(const Directive& location, const Scope& server_scope, Http& http);

// add_header directives in effect -> the entries of a `headers` table; each header's
// comment goes to `comments`. `skip`: header names (lower case) that something else maps.
std::vector<std::pair<std::string, std::string>> header_entries(const std::vector<const Directive*>& adds,
                                                                Ledger& ledger, std::vector<std::string>& comments,
                                                                const std::set<std::string>& skip = {});

// error_page 500 502 503 504 /50x.html -> [proxy] error_page (the file under `root`).
void map_error_page(const Directive& d, const Scope& scope, Http& http);

// A path in the nginx file made absolute: relative ones hang from the folder of the file that
// names them. nginx takes certificates from its conf prefix and roots from its -p prefix; for
// a file in /etc/nginx itself the first is the same folder, and roots are absolute in practice.
std::string absolute_path(const Directive& d, const std::string& path);

}  // namespace ne::config::nginx
