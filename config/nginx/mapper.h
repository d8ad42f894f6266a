// An nginx directive tree (config/nginx/parser.h) -> ecosystem.toml tables: servers,
// locations and upstreams, each key commented with the nginx line it came from. Directives
// with no equivalent are listed as findings `file:line: directive: what to do instead`; none
// is dropped silently (a sweep at the end reports any directive nothing looked at).
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "config/nginx/parser.h"
#include "config/toml_text.h"

namespace ne::config::nginx {

struct Finding {
    std::string where;      // "file:line"
    std::string directive;  // its name
    std::string advice;     // a sentence: what nodeedge does instead, or what to do

    std::string str() const { return where + ": " + directive + ": " + advice; }
    bool operator==(const Finding&) const = default;
};

struct Mapped {
    std::vector<toml_text::Table> proxy;      // [proxy], when anything goes there
    std::vector<toml_text::Table> upstreams;  // [[upstreams]]
    std::vector<toml_text::Table> servers;    // [[servers]] with their [[servers.locations]]
    std::vector<Finding> left_out;            // in file order
};

// `files`: one tree per nginx file given, in order. `apps`: the apps' file (ecosystem.toml, or
// PM2's once read): their worker ports turn an upstream of 127.0.0.1:3000..3003 into
// `app = "NAME"`, and so does the listen port of a server of that file that only proxies to
// one app (PM2's cluster mode: the app's one port, which nginx proxied to).
Mapped map_nginx(const std::vector<std::vector<Directive>>& files, const Config& apps);

}  // namespace ne::config::nginx
