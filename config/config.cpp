#include "config/config.h"

#include <sched.h>

#include <algorithm>
#include <charconv>

namespace ne::config {

std::string Where::str() const {
    // Items built without a file (from `start app.js`, or JSON from an older daemon) have no
    // position to show; saying "0:0" would send the user looking for a line that is not there.
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string ListenAddr::str() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

constexpr std::pair<Match, std::string_view> kMatchNames[] = {
    {Match::prefix, "prefix"}, {Match::exact, "exact"}, {Match::prefix_stop, "^~"},
    {Match::regex, "~"},       {Match::regex_icase, "~*"}, {Match::named, "@"},
};

}  // namespace

std::string_view match_name(Match m) {
    for (const auto& [match, name] : kMatchNames)
        if (match == m) return name;
    return "prefix";
}

std::optional<Match> parse_match(std::string_view name) {
    for (const auto& [match, n] : kMatchNames)
        if (n == name) return match;
    return std::nullopt;
}

std::string spelling(const Location& l) {
    switch (l.match) {
        case Match::prefix:
        case Match::named: return l.path;
        case Match::exact: return "= " + l.path;
        case Match::prefix_stop: return "^~ " + l.path;
        case Match::regex: return "~ " + l.path;
        case Match::regex_icase: return "~* " + l.path;
    }
    return l.path;
}

uint64_t body_limit(const Server& s, const Location* l) {
    return l && l->client_max_body_size ? *l->client_max_body_size : s.client_max_body_size;
}

Duration body_timeout(const Server& s, const Location* l) {
    return l && l->client_body_timeout ? *l->client_body_timeout : s.client_body_timeout;
}

const std::map<std::string, std::string>& response_headers(const Server& s, const Location* l) {
    return l && l->headers ? *l->headers : s.headers;
}

const Gzip& gzip_for(const Server& s, const Location* l) { return l && l->gzip ? *l->gzip : s.gzip; }

int reload_base(const App& a) { return a.reload_port > 0 ? a.reload_port : a.port + kReloadPortOffset; }

int usable_cpus() {
    // The affinity mask, not the machine's CPU count: under taskset or a container's cpuset
    // "max" must mean the CPUs we may actually run on.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return std::max(1, CPU_COUNT(&set));
}

std::optional<int> resolve_instances(const std::string& written, int cpus) {
    if (written == "max") return std::max(1, cpus);
    int n = 0;
    auto [end, ec] = std::from_chars(written.data(), written.data() + written.size(), n);
    if (ec != std::errc() || end != written.data() + written.size() || n == 0) return std::nullopt;
    if (n > 0) return n;
    return std::max(1, cpus + n);
}

}  // namespace ne::config
