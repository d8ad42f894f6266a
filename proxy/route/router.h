// Which [[servers]] entry and which location serve a request (pure; built once per config).
//
// Server: among the servers on the listen address the request came in on, an exact
// server_name, else the longest "*.suffix" wildcard, else the first server that names no
// server_name (a catch-all), else the first server on that address (nginx's default server).
// Location, nginx's order: an exact "= /x" wins; else the longest matching prefix is
// remembered, and wins at once when it is "^~"; else the regexes ("~", "~*") are tried in file
// order and the first that matches wins; else the remembered prefix. Named locations ("@x")
// are never matched against a path. Exact and prefix matching allocate nothing; regexes are
// compiled (JIT) once per table and matched with one match block per thread.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "config/regex.h"
#include "config/template.h"

namespace ne::proxy {

class RouteTable {
public:
    RouteTable() = default;
    explicit RouteTable(const config::Config& cfg);

    // Index into cfg.servers, or -1 when no server listens on `listen` ("127.0.0.1:8080", as
    // config::ListenAddr::str() writes it). `host` is the Host header as sent: case, a port
    // and a trailing dot are ignored; empty means "no Host" (HTTP/1.0) and gets the default.
    int server_for(std::string_view listen, std::string_view host) const;
    int default_server(std::string_view listen) const;

    // Index into cfg.servers[server].locations, or -1. `path` is the request's path,
    // normalised (uri.h's normalize_uri). When a regex location wins, `captures` views its groups
    // (in `path` and this thread's match block: valid until the thread's next match);
    // otherwise they are cleared.
    int location_for(int server, std::string_view path, config::Captures* captures = nullptr) const;
    // The named location "@name" of `server`, or -1.
    int named_location(int server, std::string_view name) const;
    // The named groups of a regex location ({} for other locations), for its templates.
    config::CaptureNames capture_names(int server, int location) const;

private:
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // Transparent, so a lookup by string_view allocates nothing.
    using NameMap = std::unordered_map<std::string, int, StringHash, std::equal_to<>>;

    struct Wildcard {
        std::string suffix;      // ".example.com" for "*.example.com"
        int server;
    };
    struct Address {
        int default_server = -1;
        int catch_all = -1;
        NameMap exact;                                // lower-case name -> server
        std::vector<Wildcard> wildcards;              // longest suffix first
    };
    struct Prefix {
        std::string path;
        int location;
        bool stop;                                    // "^~": no regex search after it
    };
    struct Pattern {
        config::Regex regex;
        int location;
    };
    struct Locations {
        NameMap exact;
        std::vector<Prefix> prefixes;                 // longest first
        std::vector<Pattern> patterns;                // file order
        NameMap named;                                // "@name" -> location
    };
    std::unordered_map<std::string, Address, StringHash, std::equal_to<>> addresses_;
    std::vector<Locations> locations_;                // per server
};

// "Example.COM:8080" -> "example.com" written into `buf`; returns the view, or "" when the
// name does not fit (such a name matches no server_name and gets the default server).
std::string_view normalize_host(std::string_view host, char* buf, size_t cap);

// The path part of a request target: "/a/b?x=1" -> "/a/b"; absolute-form
// "http://h/a?x" -> "/a"; "*" stays "*".
std::string_view target_path(std::string_view target);

// An absolute-form target ("http://h.test:8080/a?x") split into its authority
// ("h.test:8080") and origin-form rest ("/a?x", "/" when it has no path); any other target
// has no authority and stays whole. A proxy forwards the origin form and takes Host from the
// authority (RFC 9112 3.2.2).
struct TargetParts {
    std::string_view authority;
    std::string_view origin;
};
TargetParts split_target(std::string_view target);

}  // namespace ne::proxy
