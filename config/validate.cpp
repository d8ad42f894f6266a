#include "config/validate.h"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "config/tls.h"

namespace ne::config {
namespace {

Error at(const Where& where, const std::string& message) {
    const std::string prefix = where.str();
    return Error{prefix.empty() ? message : prefix + ": " + message};
}

// " (file:line:col)" pointing at the other half of a conflict, when it has a position.
std::string also_at(const Where& where) {
    const std::string text = where.str();
    return text.empty() ? "" : " (" + text + ")";
}

std::string ports_text(PortRange r) {
    return r.first == r.last ? "port " + std::to_string(r.first)
                             : "ports " + std::to_string(r.first) + "-" + std::to_string(r.last);
}

// Ports an app binds are reachable through loopback and the wildcard address, so a proxy
// listener on either would fight the app for the port.
bool shares_app_interfaces(const std::string& host) {
    return host == "0.0.0.0" || host == "::" || host == "*" || host == "localhost" ||
           host == "::1" || host.starts_with("127.");
}

// An errno-carrying message for a file that must exist before anything starts.
Status file_exists(const Where& where, const std::string& what, const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return {};
    return at(where, Error::from_errno(what + " " + path).message);
}

template <typename T>
Status unique_names(const std::vector<T>& items, const std::string& kind) {
    std::map<std::string, const Where*> seen;
    for (const T& item : items) {
        auto [first, inserted] = seen.emplace(item.name, &item.where);
        if (!inserted)
            return at(item.where, "duplicate " + kind + " name '" + item.name + "'" +
                                      also_at(*first->second));
    }
    return {};
}

struct PortClaim {
    const App* app;
    PortRange range;
    bool reload;  // the alternate range rolling reloads move workers to

    std::string ports() const { return (reload ? "reload " : "") + ports_text(range); }
    std::string formula() const {
        if (!reload) return "port + instances - 1";
        if (app->reload_port > 0) return "reload_port + instances - 1";
        return "port + " + std::to_string(kReloadPortOffset) + " + instances - 1, as reload_port is not set";
    }
    std::string str() const { return "app '" + app->name + "' (" + ports() + ")"; }
};

Result<std::vector<PortClaim>> app_ports(const Config& c, int cpus) {
    std::vector<PortClaim> claims;
    for (const App& a : c.apps) {
        const auto instances = resolve_instances(a.instances, cpus);
        if (!instances)
            return at(a.where, "app '" + a.name + "': instances '" + a.instances +
                                   "' is not an integer > 0, \"max\" or a negative integer");
        const PortClaim own{&a, app_port_range(a, *instances), false};
        const PortClaim reload{&a, app_reload_range(a, *instances), true};
        for (const PortClaim& claim : {own, reload}) {
            if (claim.range.first < 1 || claim.range.last > 65535)
                return at(a.where, "app '" + a.name + "': " + claim.ports() + " (" + claim.formula() +
                                       ") fall outside 1-65535");
            for (const PortClaim& other : claims) {
                if (claim.range.first <= other.range.last && other.range.first <= claim.range.last)
                    return at(a.where, claim.str() + " overlaps " + other.str() + also_at(other.app->where));
            }
            claims.push_back(claim);
        }
    }
    return claims;
}

Status listeners_avoid_apps(const Config& c, const std::vector<PortClaim>& claims) {
    for (const Server& s : c.servers) {
        for (const ListenAddr& l : s.listen) {
            if (!shares_app_interfaces(l.host)) continue;
            for (const PortClaim& claim : claims) {
                if (l.port >= claim.range.first && l.port <= claim.range.last)
                    return at(l.where, "listen " + l.str() + " clashes with app '" +
                                           claim.app->name + "' " + claim.ports() +
                                           also_at(claim.app->where));
            }
        }
    }
    return {};
}

Status scripts_exist(const Config& c) {
    for (const App& a : c.apps) {
        auto st = file_exists(a.where, "app '" + a.name + "': script", a.script);
        if (!st) return st;
    }
    return {};
}

// An ACME certificate names exact hosts: the CA validates each (no wildcard without dns-01),
// and the first names the files it is kept in.
Status acme_names_valid(const Server& s) {
    if (s.server_name.empty()) return at(s.tls.where, "tls = \"auto\" needs server_name: the names to certify");
    for (const auto& n : s.server_name)
        if (n.empty() || n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                             std::string::npos || n.front() == '.' || n.front() == '-')
            return at(s.tls.where, "tls = \"auto\": server_name \"" + n +
                                       "\" is not a host name a CA can validate (letters, digits, '-' and '.')");
    return {};
}

Status tls_settings_valid(const Config& c) {
    if (!c.acme.ca_bundle.empty())
        if (auto st = file_exists(Where{}, "[acme] ca_bundle", c.acme.ca_bundle); !st) return st;
    for (const Server& s : c.servers) {
        if (!s.tls.enabled) continue;
        if (s.tls.acme)
            if (auto st = acme_names_valid(s); !st) return st;
        if (auto st = check_tls(s.tls); !st) return at(s.tls.where, st.error().message);
    }
    return {};
}

// One listening socket serves every server on its address, so it is TLS or plain for all.
Status tls_consistent_per_listener(const Config& c) {
    struct Seen { bool tls; const Where* where; };
    std::map<std::string, Seen> seen;
    for (const Server& s : c.servers) {
        for (const ListenAddr& l : s.listen) {
            auto [first, inserted] = seen.emplace(l.str(), Seen{s.tls.enabled, &l.where});
            if (!inserted && first->second.tls != s.tls.enabled)
                return at(l.where, "listen " + l.str() + " is " +
                                       (s.tls.enabled ? "TLS" : "plain") + " here but " +
                                       (first->second.tls ? "TLS" : "plain") +
                                       " in another server" + also_at(*first->second.where) +
                                       "; one address is either TLS or plain");
        }
    }
    return {};
}

// Servers on one address are virtual hosts the router picks between by Host, as nginx does;
// from one file that is the author's layout. From two files a second catch-all (no
// server_name) or a name served twice never gets a request, so the file started later would
// run apps nobody reaches.
Status servers_distinct_across_files(const Config& c) {
    for (size_t i = 0; i < c.servers.size(); ++i) {
        const Server& s = c.servers[i];
        for (size_t j = 0; j < i; ++j) {
            const Server& earlier = c.servers[j];
            if (earlier.where.file == s.where.file) continue;
            for (const ListenAddr& l : s.listen) {
                for (const ListenAddr& other : earlier.listen) {
                    if (other.str() != l.str()) continue;
                    if (s.server_name.empty() && earlier.server_name.empty())
                        return at(l.where, "listen " + l.str() +
                                               " already has a default server (no server_name) from another file" +
                                               also_at(other.where));
                    for (const std::string& name : s.server_name) {
                        if (std::find(earlier.server_name.begin(), earlier.server_name.end(), name) !=
                            earlier.server_name.end())
                            return at(l.where, "listen " + l.str() + ": server_name '" + name +
                                                   "' is already served there from another file" +
                                                   also_at(other.where));
                    }
                }
            }
        }
    }
    return {};
}

// Named locations ("@app") are what try_files falls back to; within a server each name is one
// location, and a fallback must name one of them.
Status named_locations_resolve(const Server& s) {
    std::map<std::string, const Location*> named;
    for (const Location& l : s.locations) {
        if (l.match != Match::named) continue;
        if (auto [it, added] = named.emplace(l.path, &l); !added)
            return at(l.where,
                      "location '" + l.path + "' is already defined in this server" + also_at(it->second->where));
    }
    for (const Location& l : s.locations) {
        if (l.try_files.empty() || !l.try_files.back().starts_with('@')) continue;
        if (!named.contains(l.try_files.back()))
            return at(l.where, "location '" + spelling(l) + "': try_files falls back to '" + l.try_files.back() +
                                   "', which no location of this server is (write one with path = \"" +
                                   l.try_files.back() + "\")");
    }
    return {};
}

Status locations_resolve(const Config& c) {
    std::set<std::string> apps;
    std::set<std::string> upstreams;
    for (const App& a : c.apps) apps.insert(a.name);
    for (const Upstream& u : c.upstreams) upstreams.insert(u.name);
    for (const Server& s : c.servers) {
        for (const Location& l : s.locations) {
            if (!l.app.empty() && !apps.contains(l.app))
                return at(l.where, "location '" + spelling(l) + "' names unknown app '" + l.app + "'");
            if (!l.upstream.empty() && !upstreams.contains(l.upstream))
                return at(l.where,
                          "location '" + spelling(l) + "' names unknown upstream '" + l.upstream + "'");
        }
        if (auto st = named_locations_resolve(s); !st) return st;
    }
    return {};
}

}  // namespace

PortRange app_port_range(const App& a, int instances) {
    return PortRange{a.port, a.port + instances - 1};
}

PortRange app_reload_range(const App& a, int instances) {
    const int base = reload_base(a);
    return PortRange{base, base + instances - 1};
}

Status validate(const Config& c, int cpus) {
    if (auto st = unique_names(c.apps, "app"); !st) return st;
    if (auto st = unique_names(c.upstreams, "upstream"); !st) return st;
    auto claims = app_ports(c, cpus);
    if (!claims) return claims.error();
    if (auto st = listeners_avoid_apps(c, *claims); !st) return st;
    if (auto st = servers_distinct_across_files(c); !st) return st;
    if (auto st = tls_consistent_per_listener(c); !st) return st;
    if (auto st = locations_resolve(c); !st) return st;
    if (auto st = scripts_exist(c); !st) return st;
    return tls_settings_valid(c);
}

}  // namespace ne::config
